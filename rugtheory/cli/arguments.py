"""argparse types that read a number and, on failure, say which parameter failed and its domain."""

from __future__ import annotations

import argparse

from ..parameters import Parameter

__all__ = ["count", "integer", "number"]


def _parser(parameter: Parameter, kind: type, word: str):
    def parse(text: str):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{parameter.name} ({parameter.symbol}) must be {word}: got {text!r}; valid: {parameter.domain_text()}"
            ) from None

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
