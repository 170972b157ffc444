"""`rugtheory train`: train K toy models at once with the torch harness, then measure them.

    rugtheory train --n N --p P --r R [--instances K] [--steps S] [--seed S] [--device auto|cpu|cuda]
        [--batch-size B] [--lr LR] [--bias-lr LR] [--tied] [--tf32] [--kernel dense|sparse] [--samples M]
        [--exact-rows K] [--checkpoint-seconds T] [--checkpoint-every C] [--out DIR] [--force]
        [--no-progress] [--json]
    rugtheory train --resume DIR [--steps S] [...]

Instance k has init seed S + k; the data stream has seed S (``rugtheory.harness.TrainConfig``).
m = round(r n), and the reported r is m / n. Each trained instance is measured by
``rugtheory.measure.measure_model`` on fresh numpy data seeded with the instance's seed (a
generator unrelated to the torch training stream), and its loss is decomposed
(``rugtheory.measure.decompose``: exact loss, non-Gaussian gap, suboptimal-statistics gap).

``--out DIR`` keeps the run's checkpoint (``DIR/checkpoint``, written when training starts,
every 60 s of training by default, on SIGINT/SIGTERM and at the end), its loss curve
(``DIR/loss_curve.csv``: step, seconds, each instance's window and smoothed loss) and the printed
JSON (``DIR/results.json``), all written atomically. ``--time-to L ...`` adds to each instance's
JSON the training seconds at which its smoothed loss first reached each L (null: never). The folder is checked before training: an
unwritable path, or an earlier run without ``--resume`` or ``--force``, is a one-line error.
``--resume DIR`` continues the run in DIR with the settings saved there; ``--steps`` larger than
the saved run's extends it (``rugtheory.harness.train``). Nothing here imports torch until the
command runs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from .arguments import count, integer

__all__ = ["add_parser", "payload", "run", "text"]


def add_parser(sub: argparse._SubParsersAction, number) -> None:
    """Register ``train`` on the subparsers; its handler is ``args.run_train`` (``run``)."""
    from ..parameters import FEATURE_PROBABILITY, N_FEATURES, RATIO

    parser = sub.add_parser("train", help="train toy models with the torch harness and measure them")
    need = " (required unless --resume)"
    parser.add_argument("--n", type=integer(N_FEATURES), help=f"number of features, {N_FEATURES.domain_text()}{need}")
    parser.add_argument("--p", type=number(FEATURE_PROBABILITY),
                        help=f"feature probability, {FEATURE_PROBABILITY.domain_text()}{need}")
    parser.add_argument("--r", type=number(RATIO), help=f"ratio m/n, {RATIO.domain_text()}; m = round(r n){need}")
    parser.add_argument("--instances", type=count, help="models trained at once, seeds S..S+K-1 (default 1)")
    parser.add_argument("--steps", type=count, default=None,
                        help="at most this many Adam steps (default 20000); with --resume, more steps extend the run")
    parser.add_argument("--seed", type=count, help="run seed S (default 0)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    parser.add_argument("--batch-size", type=count, default=None, help="samples per instance per step (default 1024)")
    parser.add_argument("--lr", type=float, default=None, help="peak Adam rate of the weights (default 3e-2/sqrt(n))")
    parser.add_argument("--bias-lr", type=float, default=None, help="peak Adam rate of the bias (default 1e-4)")
    parser.add_argument("--tied", action="store_true", default=None, help="tie W_out = W_in^T")
    parser.add_argument("--tf32", action="store_true", default=None, help="TF32 matmuls (CUDA only)")
    parser.add_argument("--kernel", default=None, help="training step: dense (default) or sparse (faster at small p)")
    parser.add_argument("--samples", type=count, default=None, help="Monte Carlo samples of the measurement")
    parser.add_argument("--exact-rows", type=count, default=None,
                        help="rows of the exact loss (default: all up to n = 1024, else 256 at random; 0: skip it)")
    parser.add_argument("--checkpoint-seconds", type=float, default=None,
                        help="seconds of training between checkpoints in --out (default 60; 0: none by time)")
    parser.add_argument("--checkpoint-every", type=count, default=None,
                        help="also checkpoint every this many steps (default: by time only)")
    parser.add_argument("--time-to", type=float, nargs="+", default=(), metavar="LOSS",
                        help="report the training seconds at which each instance's smoothed loss first reached LOSS")
    parser.add_argument("--out", metavar="DIR", help="write the checkpoint, loss_curve.csv and results.json to DIR")
    parser.add_argument("--resume", nargs="?", const=True, default=None, metavar="DIR",
                        help="continue the run saved in DIR (or in --out); its settings are read from the checkpoint")
    parser.add_argument("--force", action="store_true", help="overwrite an existing run in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument("--json", action="store_true", help="print JSON (an object, or a list for K > 1)")
    parser.set_defaults(run_train=run)


# The options that describe the run (not how it is saved or measured), and their TrainConfig fields.
_RUN_OPTIONS = {"batch_size": "batch_size", "lr": "lr", "bias_lr": "bias_lr", "tied": "tied", "tf32": "tf32",
                "kernel": "kernel"}


def _out_dir(args: argparse.Namespace) -> str | None:
    """The run folder: ``--resume DIR``, else ``--out``; ParameterError if they disagree."""
    from ..errors import ParameterError

    if isinstance(args.resume, str):
        if args.out is not None and Path(args.out) != Path(args.resume):
            raise ParameterError(f"--resume {args.resume!r} and --out {args.out!r} differ; valid: one run folder")
        return args.resume
    if args.resume and args.out is None:
        raise ParameterError("--resume needs the run folder: --resume DIR (or --out DIR --resume)")
    return args.out


def _saving(args: argparse.Namespace) -> dict:
    chosen = {"checkpoint_every": args.checkpoint_every, "checkpoint_seconds": args.checkpoint_seconds}
    return {key: value for key, value in chosen.items() if value is not None}


def _config(args: argparse.Namespace, harness):
    """The TrainConfig of a new run, from the arguments."""
    from ..errors import ParameterError
    from ..parameters import Parameter

    missing = [f"--{name}" for name in ("n", "p", "r") if getattr(args, name) is None]
    if missing:
        raise ParameterError(f"the arguments {', '.join(missing)} are required (unless --resume DIR continues a run)")
    instances = Parameter("instances", "K", "models trained at once", 1, math.inf, integer=True).validate(
        1 if args.instances is None else args.instances)
    seed = 0 if args.seed is None else args.seed
    m = harness.hidden_size(args.n, args.r)
    options = {field: getattr(args, option) for option, field in _RUN_OPTIONS.items()}
    options = {key: value for key, value in options.items() if value is not None}
    if args.steps is not None:
        options["steps"] = args.steps
    return harness.TrainConfig(
        n_features=args.n, n_hidden=m, feature_probability=args.p,
        seed=tuple(seed + k for k in range(instances)), data_seed=seed, **options, **_saving(args),
    )


def _resumed_config(args: argparse.Namespace, harness, folder: str):
    """The saved run's TrainConfig, with ``--steps`` and the saving options applied.

    Any other option given must agree with the saved run (ParameterError naming it otherwise).
    """
    import dataclasses

    from ..errors import ParameterError

    config = harness.load_config(folder)
    given = {
        "--n": (args.n, config.n_features),
        "--p": (args.p, config.feature_probability[0] if len(set(config.feature_probability)) == 1 else None),
        "--r": (None if args.r is None or args.n is None else harness.hidden_size(args.n, args.r), config.n_hidden),
        "--instances": (args.instances, config.instances),
        "--seed": (args.seed, config.seed[0]),
        **{f"--{option.replace('_', '-')}": (getattr(args, option), getattr(config, field))
           for option, field in _RUN_OPTIONS.items()},
    }
    for flag, (value, saved) in given.items():
        if value is not None and value != saved:
            raise ParameterError(f"{flag} {value!r} differs from the run in {folder!r} ({saved!r}); "
                                 "valid: leave it out, --resume reads it from the checkpoint")
    if args.r is not None and args.n is None and harness.hidden_size(config.n_features, args.r) != config.n_hidden:
        raise ParameterError(f"--r {args.r!r} differs from the run in {folder!r} (m = {config.n_hidden}); valid: leave it out")
    changes = dict(_saving(args), **({} if args.steps is None else {"steps": args.steps}))
    if args.steps is not None and args.steps < config.steps:
        raise ParameterError(f"--steps {args.steps} is below the run's {config.steps}; valid: --steps >= {config.steps}")
    return dataclasses.replace(config, **changes)


def _exact_rows(rows: int | None, n: int) -> int | None:
    """--exact-rows checked: None (the default), 0 (skip) or an integer in [1, n]."""
    from ..errors import ParameterError

    if rows is not None and not 0 <= rows <= n:
        raise ParameterError(f"--exact-rows = {rows} is out of range; valid: 0 (skip) or an integer in [1, n = {n}]")
    return rows


def payload(result, k: int, measurement, time_to: tuple[float, ...] = ()) -> dict:
    """The JSON object of instance k (the contract keys first, then the rest)."""
    config = result.config
    reached = {f"{loss:g}": result.time_to(loss)[k] for loss in time_to}
    return {
        "n": config.n_features,
        "m": config.n_hidden,
        "p": config.feature_probability[k],
        "r": config.ratio,
        "seed": config.seed[k],
        "device": result.device,
        "steps": result.steps,
        "seconds": result.seconds,
        **measurement.to_dict(),
        "loss_train": float(result.final_loss[k]),
        "converged": result.converged,
        "tied": config.tied,
        "samples": measurement.samples,
        **({"time_to_loss": {key: None if math.isnan(value) else float(value) for key, value in reached.items()}}
           if time_to else {}),
    }


def text(data: list[dict]) -> str:
    """The human-readable report of ``train``."""
    head = data[0]
    lines = [
        f"trained {len(data)} instance(s): n = {head['n']}, m = {head['m']} (r = m/n = {head['r']:.6g}), "
        f"p = {head['p']:.6g}, {head['steps']} steps in {head['seconds']:.1f} s on {head['device']}"
        + (" (stopped early: converged)" if head["converged"] else ""),
    ]
    for item in data:
        stats = item["stats"]
        ratio, bound = stats["offdiag_power_over_diag_square"], stats["rank_bound"]
        versus = f"S/a^2 = {ratio:.4g} vs (1-r)/r = {bound:.4g}" if None not in (ratio, bound) else "rank bound n/a"
        optimum = item["loss_meanfield_optimum"]
        gap = f"{item['loss_measured'] / optimum:.4g}" if optimum > 0 else "n/a"
        lines += [
            f"instance seed {item['seed']}:",
            (f"  loss measured    = {item['loss_measured']:.6g} +- {item['loss_measured_se']:.2g}   "
            f"({item['samples']} fresh samples; training {item['loss_train']:.6g})"),
            f"  mean field, own statistics = {item['loss_meanfield_own_stats']:.6g}",
            f"  mean-field optimum L*      = {optimum:.6g}   (measured / L* = {gap})",
            f"  linear baseline            = {item['loss_linear']:.6g}",
            *_decomposition_lines(item.get("decomposition")),
            (f"  a = {stats['diag_mean']:.4g} (std {stats['diag_std']:.2g}), S = {stats['offdiag_power_mean']:.4g}, "
            f"{versus}, beta = {stats['bias_mean']:.4g}, dropped {stats['dropped_fraction']:.2f}, "
            f"dedicated {stats['dedicated_fraction']:.2f}"),
        ]
    return "\n".join(lines)


def _decomposition_lines(part: dict | None) -> list[str]:
    """The text lines of the loss decomposition (none when it was skipped)."""
    if part is None:
        return []
    rows = f"{part['exact_rows']} rows" + (f", +- {part['loss_exact_se']:.2g} over rows" if part["loss_exact_se"] else "")
    z = "n/a" if part["agreement_z"] is None else f"{part['agreement_z']:+.2f}"
    relative = part["non_gaussian_relative"]
    suboptimal = part["suboptimal_relative"]
    return [
        (f"  exact loss                 = {part['loss_exact']:.6g}   ({rows}; bound {part['loss_exact_bound']:.2g}; "
        f"(exact - measured)/SE = {z})"),
        (f"  non-Gaussian gap exact - own = {part['non_gaussian_gap']:+.4g}"
         + ("" if relative is None else f" ({relative:+.2%} of exact)")
         + f", interference skewness mean {part['skewness_mean']:+.3g}"),
        (f"  suboptimal statistics own - L* = {part['suboptimal_gap']:+.4g}"
         + ("" if suboptimal is None else f" ({suboptimal:+.2%} of L*)")),
    ]


def run(args: argparse.Namespace, emit) -> None:
    """Train, measure each instance, print the report and save results.json in the run folder."""
    from ..errors import ParameterError
    from ..outputs import preflight, write_files
    from ..parameters import FEATURE_PROBABILITY, N_FEATURES, RATIO
    from ..signals import Interrupted

    for parameter, value in ((N_FEATURES, args.n), (FEATURE_PROBABILITY, args.p), (RATIO, args.r)):
        if value is not None:
            parameter.validate(value)  # before torch is imported
    for loss in args.time_to:
        if not 0.0 < loss < math.inf:
            raise ParameterError(f"--time-to {loss!r} is out of range; valid: losses > 0")
    folder = _out_dir(args)
    resume = bool(args.resume)
    if resume and args.force:
        raise ParameterError("--resume and --force exclude each other; valid: one of them")
    try:
        from .. import harness
    except ImportError as error:  # the torch extra is missing: one line, exit code 2
        raise ParameterError(str(error)) from None
    if folder is not None:  # before any compute
        preflight(folder, existing=("checkpoint", "results.json"), resume=resume, force=args.force)
    from ..measure import measure_model

    config = _resumed_config(args, harness, folder) if resume else _config(args, harness)
    exact_rows = _exact_rows(args.exact_rows, config.n_features)
    device = harness.resolve_device(args.device)
    try:
        result = harness.train(config, device=device, out=folder, resume=resume, progress=not args.no_progress,
                               overwrite=args.force)
    except Interrupted as stop:
        raise Interrupted(f"{stop}; resume with: rugtheory train --resume {folder}" if folder else str(stop),
                          stop.signum, stop.step, stop.checkpoint) from None
    data = []
    for k, p in enumerate(config.feature_probability):
        measurement = measure_model(result.W[k], result.b[k], p, config.ratio, samples=args.samples,
                                    seed=config.seed[k], exact_rows=exact_rows)
        data.append(payload(result, k, measurement, tuple(args.time_to)))
    printed = data[0] if len(data) == 1 else data
    emit(printed, args.json, text(data))
    sys.stdout.flush()
    if folder is not None:
        write_files(folder, {"results.json": json.dumps(printed, indent=2, allow_nan=False).encode()})
