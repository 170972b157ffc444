"""`rugtheory bounds`: lower and upper bounds on the best ReLU^alpha model at high sparsity (derivations/11)."""

from __future__ import annotations

import argparse

TABLE_P = (1e-4, 1e-6, 1e-9, 1e-12, 1e-18, 1e-24, 1e-30)


def add_parser(sub: argparse._SubParsersAction, number) -> None:
    from ..parameters import FEATURE_PROBABILITY, RATIO

    parser = sub.add_parser(
        "bounds", help="bounds lower <= L*_power <= upper on the best ReLU^alpha model (high sparsity)"
    )
    parser.add_argument("--p", type=number(FEATURE_PROBABILITY), help="feature probability; omit for a table")
    parser.add_argument("--r", type=number(RATIO), default=0.5, help="ratio r in (0, 1) (default 0.5)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _line(entry: dict) -> str:
    return (
        f"{entry['p']:>8.0e} {entry['lower']:>13.6e} {entry['upper']:>13.6e} {entry['ratio'] - 1.0:>11.3e}"
        f" {entry['lower'] / entry['mmse']:>10.4f} {entry['upper'] / entry['mmse']:>10.4f}"
    )


def run(args: argparse.Namespace, emit) -> None:
    """Print the bounds at --p (or a table over p), with their ratio and their ratios to the MMSE."""
    from ..activations.mmse import optimum as mmse_optimum
    from ..asymptotics.power_bounds import power_bounds

    entries = []
    for p in (args.p,) if args.p is not None else TABLE_P:
        entry = power_bounds(p, args.r).to_dict()
        entry["mmse"] = mmse_optimum(p, args.r).loss
        entries.append(entry)
    header = f"{'p':>8} {'lower':>13} {'upper':>13} {'upper/low-1':>11} {'low/MMSE':>10} {'up/MMSE':>10}"
    text = "\n".join([
        f"Best ReLU^alpha model under the rank-bound layer, r = {args.r:g} (derivations/11_power_bounds.md):",
        "  lower = noise-free window minorant, minimised; upper = loss of the explicit leading-order model",
        "  both -> p kappa^2 [(1-p) J_2(t)/p + 1 + t^2/16]; their ratio to the MMSE grows like ln(1/p)/8",
        "",
        header,
        "-" * len(header),
        *(_line(entry) for entry in entries),
    ])
    emit(entries[0] if args.p is not None else entries, args.json, text)
