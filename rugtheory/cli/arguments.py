"""argparse types that read a number and, on failure, say which parameter failed and its domain."""

from __future__ import annotations

import argparse
import math
from decimal import Decimal
from typing import Any

from ..parameters import Parameter

__all__ = ["SEED", "count", "grid", "integer", "number"]


def _parser(parameter: Parameter, kind: type, word: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{parameter.label} must be {word}: got {text!r}; valid: {parameter.domain_text()}"
            ) from None
        if kind is float and (value == 0.0 or math.isinf(value)) and not parameter.contains(value):
            # '1e-400' and '1e400' round to 0 and inf: say what was typed, not what it became
            try:
                typed_zero = Decimal(text.strip().replace("_", "")).is_zero()
            except ArithmeticError:
                typed_zero = value == 0.0
            typed, valid = f"{parameter.label} = {text.strip()}", f"valid: {parameter.domain_text()}"
            if value == 0.0 and not typed_zero:
                raise argparse.ArgumentTypeError(f"{typed} underflows to 0 in float64; {valid}")
            if math.isinf(value) and "inf" not in text.lower():
                raise argparse.ArgumentTypeError(f"{typed} overflows to {value} in float64; {valid}")
        return value

    parse.__name__ = parameter.name
    return parse


def number(parameter: Parameter):
    """A float, validated later against ``parameter``'s domain."""
    return _parser(parameter, float, "a number")


def integer(parameter: Parameter):
    """An int, validated later against ``parameter``'s domain."""
    return _parser(parameter, int, "an integer")


def count(text: str) -> int:
    """A plain integer option (steps, seeds, sample counts); its range is checked where it is used."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer: got {text!r}") from None


SEED = Parameter("seed", "seed", "an instance seed", 0, math.inf, integer=True)


class _Flatten(argparse.Action):
    """Store the values of every token of the option as one flat tuple."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, tuple(value for token in values for value in token))


def grid(parameter: Parameter) -> dict[str, Any]:
    """``add_argument`` keywords of a grid option: values separated by commas, spaces or both.

    ``--p-grid 0.01,0.1``, ``--p-grid 0.01 0.1`` and ``--p-grid 0.01,0.1 0.3`` each parse to one
    flat tuple. Every value is checked against ``parameter``'s domain; a bad one is a one-line
    error naming the parameter and showing the accepted form. A default must be a flat tuple.

    >>> from rugtheory.parameters import RATIO
    >>> parser = argparse.ArgumentParser()
    >>> _ = parser.add_argument("--r-grid", **grid(RATIO))
    >>> parser.parse_args(["--r-grid", "0.25,0.5", "0.75"]).r_grid
    (0.25, 0.5, 0.75)
    """
    if parameter.integer:
        kind, word, example = int, "an integer", "0,1 or 0 1"
    else:
        kind, word, example = float, "a number", "0.1,0.5 or 0.1 0.5"
    valid = f"valid: values separated by commas or spaces ({example}), each {word}, {parameter.domain_text()}"
    name = parameter.name if parameter.name == parameter.symbol else f"{parameter.name} ({parameter.symbol})"

    def parse(text: str) -> tuple:
        values = []
        for part in (part.strip() for part in text.split(",")):
            if not part:
                raise argparse.ArgumentTypeError(f"{name} grid has an empty entry in {text!r}; {valid}")
            try:
                value = kind(part)
            except ValueError:
                message = f"{name} grid entry {part!r} is not {word}; {valid}"
                raise argparse.ArgumentTypeError(message) from None
            if not parameter.contains(value):
                raise argparse.ArgumentTypeError(f"{name} = {value!r} in the grid is out of range; {valid}")
            values.append(value)
        return tuple(values)

    parse.__name__ = f"{parameter.name} grid"
    return {"type": parse, "nargs": "+", "action": _Flatten, "metavar": parameter.symbol.upper()}
