"""`rugtheory phases`: the large-n phase diagram of structured families against the rug (derivations/12_phases.md).

    rugtheory phases [--p-grid P [P ...]] [--r-grid R [R ...]] [--png FILE] [--json]

A grid's values are separated by commas, spaces or both: ``--p-grid 0.01,0.1`` is ``--p-grid 0.01 0.1``.

JSON: a list, one entry per (p, r): {"p", "r", "best", "losses": {family: loss, ..., "rug": L*},
"ratio_to_rug", "mix"}. The per-family optima are cached per p, so the cost grows with the
number of p values (about 5 s each), hardly with r.
"""

from __future__ import annotations

import argparse

__all__ = ["DEFAULT_P_GRID", "DEFAULT_R_GRID", "add_parser", "run", "text"]

DEFAULT_P_GRID = (0.01, 0.1)
DEFAULT_R_GRID = (0.25, 0.5, 0.75)


def add_parser(sub: argparse._SubParsersAction, number, emit):
    """Register ``phases`` and return its handler (args -> None), which prints through ``emit``."""
    from ..parameters import FEATURE_PROBABILITY, RATIO
    from .arguments import grid

    def shown(values: tuple[float, ...]) -> str:
        return ",".join(f"{value:g}" for value in values)

    parser = sub.add_parser("phases", help="large-n phase diagram: pairs, k-gons, simplices, frames, mixtures vs the rug")
    parser.add_argument("--p-grid", **grid(FEATURE_PROBABILITY), default=DEFAULT_P_GRID,
                        help="feature probabilities, separated by commas or spaces, p in [1e-6, 1) "
                             f"(default {shown(DEFAULT_P_GRID)})")
    parser.add_argument("--r-grid", **grid(RATIO), default=DEFAULT_R_GRID,
                        help=f"ratios, separated by commas or spaces, {RATIO.domain_text()} "
                             f"(default {shown(DEFAULT_R_GRID)})")
    parser.add_argument("--png", metavar="FILE", help="draw the best family over the grid to FILE")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --png file")
    parser.add_argument("--json", action="store_true", help="print JSON")
    return lambda args: run(args, emit)


def text(entries: list[dict]) -> str:
    """A readable table: one row per (p, r), each family's loss over the rug's L*."""
    from ..phases.diagram import COMBINED, FAMILIES

    names = FAMILIES[1:] + (COMBINED,)
    widths = {name: max(10, len(name)) for name in names}  # every family's full name heads its column
    best_width = max(len(name) for name in FAMILIES)

    head = f"{'p':>8} {'r':>7} {'best':>{best_width}} {'L_best':>11} {'L* (rug)':>11}  " + " ".join(
        f"{name:>{widths[name]}}" for name in names)
    lines = ["Large-n phase diagram: per-feature loss of each family / the rug's L*(p, r) (derivations/12_phases.md)",
             head]
    for entry in entries:
        rug = entry["losses"]["rug"]
        ratios = " ".join(f"{entry['losses'][name] / rug:>{widths[name]}.4g}" if rug > 0
                          else f"{'-':>{widths[name]}}" for name in names)
        best = entry["best"]
        lines.append(f"{entry['p']:>8.3g} {entry['r']:>7.4g} {best:>{best_width}} {entry['losses'][best]:>11.4e} "
                     f"{rug:>11.4e}  {ratios}")
        mix = ", ".join(f"{part['fraction']:.3g} {part['member']}" for part in entry["mix"][best])
        lines.append(f"{'':>17} mix: {mix}")
    return "\n".join(lines)


def run(args: argparse.Namespace, emit) -> None:
    """Compute the diagram on the grids, optionally draw it, and print the table or the JSON list.

    Without matplotlib, ``--png`` is a one-line error before anything is computed.
    """
    from ..errors import ParameterError
    from ..outputs import preflight
    from ..phases.diagram import phase_diagram, phase_png
    from ..plots import require_matplotlib

    if args.png is not None:
        try:
            require_matplotlib("--png")
        except ImportError as error:
            raise ParameterError(str(error)) from None
        preflight(args.png, option="--png", kind="file", force=args.force)
    diagram = phase_diagram(args.p_grid, args.r_grid)
    entries = diagram.to_list()
    emit(entries, args.json, text(entries))  # printed first: a failing --png loses nothing
    if args.png is not None:
        phase_png(diagram, args.png)  # an unwritable path: one line, after the table
