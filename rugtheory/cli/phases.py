"""`rugtheory phases`: the large-n phase diagram of structured families against the rug (derivations/12_phases.md).

    rugtheory phases [--p-grid P1,P2,...] [--r-grid R1,R2,...] [--png FILE] [--json]

JSON: a list, one entry per (p, r): {"p", "r", "best", "losses": {family: loss, ..., "rug": L*},
"ratio_to_rug", "mix"}. The per-family optima are cached per p, so the cost grows with the
number of p values (about 5 s each), hardly with r.
"""

from __future__ import annotations

import argparse

__all__ = ["DEFAULT_P_GRID", "DEFAULT_R_GRID", "add_parser", "run", "text"]

DEFAULT_P_GRID = "0.01,0.1"
DEFAULT_R_GRID = "0.25,0.5,0.75"


def _grid(parameter):
    def parse(text: str) -> tuple[float, ...]:
        parts = [part.strip() for part in text.split(",")]
        if not text.strip() or any(not part for part in parts):
            raise argparse.ArgumentTypeError(
                f"{parameter.name} ({parameter.symbol}) grid is empty or has an empty entry: got {text!r}; "
                f"valid: comma-separated numbers, {parameter.domain_text()}"
            )
        try:
            return tuple(float(part) for part in parts)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{parameter.name} ({parameter.symbol}) grid must be comma-separated numbers: got {text!r}; "
                f"valid: {parameter.domain_text()}"
            ) from None

    parse.__name__ = f"{parameter.name} grid"
    return parse


def add_parser(sub: argparse._SubParsersAction, number, emit):
    """Register ``phases`` and return its handler (args -> None), which prints through ``emit``."""
    from ..parameters import FEATURE_PROBABILITY, RATIO

    parser = sub.add_parser("phases", help="large-n phase diagram: pairs, k-gons, simplices, frames, mixtures vs the rug")
    parser.add_argument("--p-grid", type=_grid(FEATURE_PROBABILITY), default=_grid(FEATURE_PROBABILITY)(DEFAULT_P_GRID),
                        help=f"comma-separated feature probabilities, p in [1e-6, 1) (default {DEFAULT_P_GRID})")
    parser.add_argument("--r-grid", type=_grid(RATIO), default=_grid(RATIO)(DEFAULT_R_GRID),
                        help=f"comma-separated ratios, {RATIO.domain_text()} (default {DEFAULT_R_GRID})")
    parser.add_argument("--png", metavar="FILE", help="draw the best family over the grid to FILE")
    parser.add_argument("--json", action="store_true", help="print JSON")
    return lambda args: run(args, emit)


def text(entries: list[dict]) -> str:
    """A readable table: one row per (p, r), each family's loss over the rug's L*."""
    from ..phases.diagram import COMBINED, FAMILIES

    names = FAMILIES[1:] + (COMBINED,)

    head = f"{'p':>8} {'r':>7} {'best':>17} {'L_best':>11} {'L* (rug)':>11}  " + " ".join(
        f"{name[:10]:>10}" for name in names)
    lines = ["Large-n phase diagram: per-feature loss of each family / the rug's L*(p, r) (derivations/12_phases.md)",
             head]
    for entry in entries:
        rug = entry["losses"]["rug"]
        ratios = " ".join(
            f"{entry['losses'][name] / rug:>10.4g}" if rug > 0 else f"{'-':>10}" for name in names)
        best = entry["best"]
        lines.append(f"{entry['p']:>8.3g} {entry['r']:>7.4g} {best:>17} {entry['losses'][best]:>11.4e} {rug:>11.4e}  {ratios}")
        mix = ", ".join(f"{part['fraction']:.3g} {part['member']}" for part in entry["mix"][best])
        lines.append(f"{'':>17} mix: {mix}")
    return "\n".join(lines)


def run(args: argparse.Namespace, emit) -> None:
    """Compute the diagram on the grids, optionally draw it, and print the table or the JSON list."""
    from ..phases.diagram import phase_diagram, phase_png

    diagram = phase_diagram(args.p_grid, args.r_grid)
    if args.png is not None:
        phase_png(diagram, args.png)
    entries = diagram.to_list()
    emit(entries, args.json, text(entries))
