"""`rugtheory compare`: every activation family's optimum at one (p, r)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction, number) -> None:
    from ..parameters import FEATURE_PROBABILITY, RATIO

    parser = sub.add_parser("compare", help="optimal loss of each activation family vs ReLU and the MMSE bound")
    parser.add_argument("--p", type=number(FEATURE_PROBABILITY), required=True, help="feature probability in (0, 1)")
    parser.add_argument("--r", type=number(RATIO), required=True, help="ratio r in (0, 1]")
    parser.add_argument("--json", action="store_true", help="print JSON keyed by family name")


def _parameters(parameters: dict[str, float]) -> str:
    return ", ".join(f"{key}={value:.6g}" for key, value in parameters.items())


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def table(payload: dict[str, dict], p: float, r: float) -> str:
    """The comparison as a text table."""
    header = f"{'family':<15} {'loss':>12} {'/ReLU':>8} {'/MMSE':>9}  parameters"
    lines = [
        f"Optimal mean-field loss per activation family at p = {p:g}, r = {r:g}",
        "(same rank-bound linear layer; MMSE = Bayes-optimal elementwise estimator, a lower bound)",
        "",
        header,
        "-" * len(header),
    ]
    for name, entry in payload.items():
        lines.append(
            f"{name:<15} {entry['loss']:>12.5e} {_fmt(entry['ratio_to_relu']):>8} "
            f"{_fmt(entry['ratio_to_mmse']):>9}  {_parameters(entry['parameters'])}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace, emit) -> None:
    """Optimise each family and print the table (or JSON)."""
    from ..activations.compare import compare

    payload = compare(args.p, args.r).to_dict()
    emit(payload, args.json, table(payload, args.p, args.r))
