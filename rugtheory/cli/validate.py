"""`rugtheory validate`: train a (p, r) grid in batches, measure it, write the run's files.

    rugtheory validate --n N --p-grid P [P ...] --r-grid R [R ...] [--seeds S ...] [--device ...]
        [--steps S] [--batch-size B] [--kernel dense|sparse] [--samples M] [--exact-rows K] --out DIR [--resume] [--json]

Writes DIR/results.csv, results.json, summary.md, loss_vs_r.png and heatmaps.png
(``rugtheory.gridreport``), each with the command, seeds, device, machine and wall time.
Training checkpoints live in DIR/runs; ``--resume`` continues an interrupted grid (the same
command plus ``--resume``). DIR is checked before any training: an unwritable path, or the
results of an earlier run without ``--resume`` or ``--force``, is a one-line error.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time

from .arguments import SEED, count, grid

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction, number) -> None:
    from ..parameters import FEATURE_PROBABILITY, N_FEATURES, RATIO

    parser = sub.add_parser("validate", help="train a (p, r) grid of toy models and compare it with the theory")
    parser.add_argument("--n", **grid(N_FEATURES), required=True,
                        help=f"numbers of features, separated by commas or spaces, {N_FEATURES.domain_text()}")
    parser.add_argument("--p-grid", **grid(FEATURE_PROBABILITY),
                        help=f"feature probabilities, separated by commas or spaces, "
                             f"{FEATURE_PROBABILITY.domain_text()}")
    parser.add_argument("--r-grid", **grid(RATIO), help=f"ratios, separated by commas or spaces, {RATIO.domain_text()}")
    parser.add_argument("--points", nargs="+", type=_point, metavar="P:R",
                        help="(p, r) points instead of the --p-grid x --r-grid product, e.g. 0.01:0.25 0.1:0.5")
    parser.add_argument("--seeds", **grid(SEED), default=(0,),
                        help="instance seeds, separated by commas or spaces (default 0)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    parser.add_argument("--steps", type=count, default=None, help="optimizer steps (default TrainConfig's)")
    parser.add_argument("--batch-size", type=count, default=None, help="samples per instance per step")
    parser.add_argument("--kernel", choices=("dense", "sparse"), default=None,
                        help="training step: dense or sparse (faster at small p; default TrainConfig's)")
    parser.add_argument("--samples", type=count, default=None, help="Monte Carlo samples per measured loss")
    parser.add_argument("--exact-rows", type=count, default=None,
                        help="rows of each exact loss (default: all up to n = 1024, else 256 at random; 0: skip it)")
    parser.add_argument("--out", metavar="DIR", required=True, help="directory for the run's files")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run in DIR")
    parser.add_argument("--force", action="store_true", help="overwrite the results of an earlier run in DIR")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.set_defaults(run_validate=run)


def _point(text: str) -> tuple[float, float]:
    """'P:R' -> (p, r), each checked against its domain."""
    from ..parameters import FEATURE_PROBABILITY, RATIO

    valid = f"valid: P:R, e.g. 0.01:0.25, with {FEATURE_PROBABILITY.domain_text()} and {RATIO.domain_text()}"
    try:
        p_text, r_text = text.split(":")
        p, r = float(p_text), float(r_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"point {text!r} is not P:R; {valid}") from None
    if not (FEATURE_PROBABILITY.contains(p) and RATIO.contains(r)):
        raise argparse.ArgumentTypeError(f"point {text!r} is out of range; {valid}")
    return p, r


def _cells(args: argparse.Namespace) -> list[tuple[int, float, float, int]]:
    """The (n, p, r, seed) cells: --points, or the --p-grid x --r-grid product, at each n and seed."""
    from ..errors import ParameterError

    grids = args.p_grid is not None or args.r_grid is not None
    if args.points is not None and grids:
        raise ParameterError("--points and --p-grid/--r-grid exclude each other; valid: one of them")
    if args.points is None and (args.p_grid is None or args.r_grid is None):
        raise ParameterError("validate needs --p-grid and --r-grid, or --points P:R ...")
    points = args.points or [(p, r) for p in args.p_grid for r in args.r_grid]
    return [(n, p, r, seed) for n in args.n for p, r in points for seed in args.seeds]


def run(args: argparse.Namespace, emit) -> None:
    """Train, measure and write the files; print the summary (or the rows as JSON)."""
    from ..errors import ParameterError
    from ..gridreport import RESULT_FILES, write_report
    from ..outputs import preflight
    from ..signals import Interrupted

    cells = _cells(args)
    n = min(args.n)
    if args.exact_rows is not None and not 0 <= args.exact_rows <= n:
        raise ParameterError(f"--exact-rows = {args.exact_rows} is out of range; valid: 0 (skip) or an integer in [1, n = {n}]")
    if args.resume and args.force:
        raise ParameterError("--resume and --force exclude each other; valid: one of them")
    try:
        import torch

        from ..harness.grid import cell_rows
        from ..plots import require_matplotlib

        require_matplotlib("the figures of validate")  # drawn at the end: check before training
    except ImportError as error:
        missing = getattr(error, "name", None) or "torch"
        raise ParameterError(f"rugtheory validate needs {missing}, in the torch extra: pip install 'rugtheory[torch]'") from None
    preflight(args.out, existing=RESULT_FILES + ("runs",), resume=args.resume, force=args.force)  # before compute
    chosen = (("steps", args.steps), ("batch_size", args.batch_size), ("kernel", args.kernel))
    options = {key: value for key, value in chosen if value is not None}
    started = time.perf_counter()

    def provenance(rows: list[dict], partial: bool) -> dict:
        return {
            "n": list(args.n) if len(args.n) > 1 else args.n[0],
            "command": "rugtheory " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "rugtheory validate",
            "device": rows[0]["device"], "seeds": list(args.seeds), "seconds": time.perf_counter() - started,
            "machine": f"{platform.machine()}, {platform.processor() or platform.node()}, "
                       f"{torch.get_num_threads()} torch threads",
            "torch": torch.__version__,
            "training": {"options": options or "TrainConfig defaults",
                         "steps_run": sorted({row["steps"] for row in rows})},
            **({"partial": f"{len(rows)} of {len(cells)} cells (the run goes on)"} if partial else {}),
        }

    def write_partial(rows: list[dict]) -> None:
        if len(rows) < len(cells):
            write_report(rows, provenance(rows, partial=True), args.out)

    try:
        rows = cell_rows(cells, device=args.device, out=args.out, resume=args.resume, samples=args.samples,
                         exact_rows=args.exact_rows, progress=not args.no_progress, overwrite=args.force,
                         on_group=write_partial, **options)
    except Interrupted as stop:
        again = [token for token in sys.argv[1:] if token != "--force"] if sys.argv[1:] else ["validate", "..."]
        command = shlex.join(["rugtheory", *again, *([] if "--resume" in again else ["--resume"])])
        raise Interrupted(f"{stop}; finished groups are kept; resume with: {command}", stop.signum, stop.step,
                          stop.checkpoint) from None
    meta = provenance(rows, partial=False)
    files = write_report(rows, meta, args.out)
    from ..gridreport import summary_markdown

    emit(rows, args.json, summary_markdown(rows, meta) + f"\nwrote {', '.join(files)} to {args.out}")
