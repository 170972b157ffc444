"""`rugtheory rug`: build the Hadamard Persian rug, measure it, draw it (THEORY.md, "Rank bound").

    rugtheory rug --n N --r R [--p P] [--seed S] [--samples K] [--png FILE] [--out DIR] [--json]
    rugtheory rug --load DIR [--samples K] [--png FILE] [--json]

p defaults to DEFAULT_P = 0.01, a sparsity at which people train and where the rug's gain over
the linear baseline is large (L_lin / L* = 17.6 at r = 0.5). ``--seed`` chooses the Hadamard rows
and seeds the Monte Carlo (with ``--load`` the rows are the saved ones, ``row_seed``); ``--samples`` defaults to ``measure.default_samples(n, p)``.
"""

from __future__ import annotations

import argparse

from .arguments import count

__all__ = ["DEFAULT_P", "add_parser", "payload", "run", "text"]

DEFAULT_P = 0.01


def _power_of_two(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"n_features (n) must be an integer: got {text!r}; valid: n a power of two >= 2 (2, 4, 8, ...)"
        ) from None


def add_parser(sub: argparse._SubParsersAction, number) -> None:
    """Register ``rug`` on the subparsers; its handler is ``args.run_rug`` (``run``)."""
    from ..parameters import FEATURE_PROBABILITY, RATIO, SAMPLES

    parser = sub.add_parser("rug", help="the forward-engineered Hadamard Persian rug: statistics, losses, picture")
    parser.add_argument("--n", type=_power_of_two, help="number of features, a power of two >= 2")
    parser.add_argument("--r", type=number(RATIO), help="ratio r = m/n in (0, 1]; m = round(r n)")
    parser.add_argument(
        "--p", type=number(FEATURE_PROBABILITY), default=None,
        help=f"feature probability in (0, 1) (default {DEFAULT_P})",
    )
    parser.add_argument("--seed", type=count, default=0, help="seed of the row choice and the Monte Carlo (default 0)")
    parser.add_argument(
        "--samples", type=count, default=None,
        help=f"Monte Carlo samples of x ({SAMPLES.domain_text()}; default ~2^20/(n p), see rugtheory.measure)",
    )
    parser.add_argument("--png", metavar="FILE", help="write a PNG picture of W to FILE")
    parser.add_argument("--out", metavar="DIR", help="save the model to DIR (safetensors + JSON)")
    parser.add_argument("--load", metavar="DIR", help="measure a rug saved with --out instead of building one")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out model or --png file")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run_rug=run)


def _model(args: argparse.Namespace):
    from ..errors import ParameterError
    from ..weights.rug_model import load_rug, rug_model

    if args.load is not None:
        clash = [f"--{key}" for key in ("n", "r", "p") if getattr(args, key) is not None]
        if clash:
            raise ParameterError(f"--load takes the model from its directory: drop {', '.join(clash)}")
        return load_rug(args.load)
    missing = [f"--{key}" for key in ("n", "r") if getattr(args, key) is None]
    if missing:
        raise ParameterError(f"{' and '.join(missing)} required (or --load DIR); valid: n a power of two >= 2, r in (0, 1]")
    return rug_model(args.n, args.r, DEFAULT_P if args.p is None else args.p, seed=args.seed)


def payload(model, measurement) -> dict:
    """The JSON object of ``rug --json`` (issue 4's contract keys first, then the rest)."""
    stats = measurement.stats.to_dict()
    return {
        "n": model.n,
        "m": model.m,
        "r": model.r,
        "p": model.p,
        "diag": stats["diag_mean"],
        "offdiag_power": stats["offdiag_power_mean"],
        "a": model.a,
        "bias": model.beta,
        "loss_measured": measurement.loss_measured,
        "loss_measured_se": measurement.loss_measured_se,
        "loss_meanfield_optimum": measurement.loss_meanfield_optimum,
        "loss_meanfield_own_stats": measurement.loss_meanfield_own_stats,
        "loss_linear": measurement.loss_linear,
        "gap_percent": None if measurement.gap is None else 100.0 * measurement.gap,
        "gap_percent_se": None if measurement.gap_se is None else 100.0 * measurement.gap_se,
        "r_requested": model.r_requested,
        "seed": model.seed,
        "sigma": model.sigma,
        "samples": measurement.samples,
        "stats": stats,
    }


def text(data: dict) -> str:
    """The human-readable report of ``rug``."""
    stats = data["stats"]
    ratio, bound = stats["offdiag_power_over_diag_square"], stats["rank_bound"]
    versus = f"S/a^2 = {ratio:.10g} vs (1-r)/r = {bound:.10g}" if None not in (ratio, bound) else "rank bound n/a"
    head = f"n = {data['n']}, m = {data['m']} (r = m/n = {data['r']:.6g}), p = {data['p']:.6g}, seed {data['seed']}"
    measured = f"{data['loss_measured']:.6g} +- {data['loss_measured_se']:.2g}"
    gap = (
        "n/a (L* = 0)" if data["gap_percent"] is None
        else f"{data['gap_percent']:+.3f}% +- {data['gap_percent_se']:.3f}% (standard error)"
    )
    interference = (
        f"sigma = {stats['sigma_mean']:.6g}, skewness = {stats['skewness_mean']:.4g}, "
        f"Lyapunov ratio = {stats['lyapunov_mean']:.4g}"
    )
    ks = (
        f"mean {stats['ks_mean']:.4f}, max {stats['ks_max']:.4f} "
        f"(noise floor {stats['ks_noise_floor']:.4f}, {stats['ks_samples']} samples)"
    )
    return "\n".join(
        [
            f"Hadamard Persian rug: {head}",
            f"  a (diagonal)     = {data['a']:.10g}   (mean {stats['diag_mean']:.10g}, std {stats['diag_std']:.3g})",
            f"  bias (beta)      = {data['bias']:.10g}   (b = {stats['b_mean']:.6g}, mu = {stats['mu_mean']:.6g})",
            f"  S (off-diagonal) = {stats['offdiag_power_mean']:.10g}   (std {stats['offdiag_power_std']:.3g}); {versus}",
            f"  interference     {interference}",
            f"                   KS to Gaussian: {ks}",
            "  loss per feature:",
            f"    measured (Monte Carlo, {data['samples']} samples) = {measured}",
            f"    mean field, own statistics       = {data['loss_meanfield_own_stats']:.6g}",
            f"    mean-field optimum L*(p, m/n)    = {data['loss_meanfield_optimum']:.6g}",
            f"    linear baseline                  = {data['loss_linear']:.6g}",
            f"  gap to L*: {gap}",
        ]
    )


def run(args: argparse.Namespace, emit) -> None:
    """Build (or load) the rug, measure it, optionally save and draw it, and print the report.

    A missing optional dependency (safetensors for --out/--load, matplotlib for --png) is a
    one-line error naming the torch extra, raised before the rug is built.
    """
    from ..errors import ParameterError

    _require_extras(args)
    _preflight(args)
    try:
        _run(args, emit)
    except ImportError as error:  # a dependency found but broken: still one line
        raise ParameterError(f"{error}; install the extra: pip install 'rugtheory[torch]'") from None


def _preflight(args: argparse.Namespace) -> None:
    """The output paths checked before the rug is built (``rugtheory.outputs.preflight``)."""
    from ..checkpoint import CONFIG_FILE, WEIGHTS_FILE
    from ..outputs import preflight

    if args.out is not None:
        preflight(args.out, existing=(WEIGHTS_FILE, CONFIG_FILE), force=args.force)
    if args.png is not None:
        preflight(args.png, option="--png", kind="file", force=args.force)


def _require_extras(args: argparse.Namespace) -> None:
    """ParameterError, one line naming the torch extra, if an option's optional dependency is missing."""
    from ..errors import ParameterError
    from ..plots import require_matplotlib

    if args.png is not None:
        try:
            require_matplotlib("--png")
        except ImportError as error:
            raise ParameterError(str(error)) from None
    for option in ("--out", "--load"):
        if getattr(args, option[2:]) is not None:
            try:
                import safetensors.numpy  # noqa: F401
            except ImportError:
                raise ParameterError(f"{option} needs safetensors, in the torch extra: "
                                     "pip install 'rugtheory[torch]'") from None


def _run(args: argparse.Namespace, emit) -> None:
    from ..checkpoint import CheckpointError
    from ..measure import measure_model

    model = _model(args)
    if args.out is not None:
        try:
            model.save(args.out)
        except OSError as error:
            raise CheckpointError(f"--out {args.out!r} cannot be written ({error.strerror or error})") from None
    if args.png is not None:
        from ..plots import rug_png

        rug_png(model.W, args.png, title=f"Hadamard rug, n = {model.n}, m = {model.m}, a = {model.a:.4g}")
    measurement = measure_model(model.W, model.b, model.p, model.r, samples=args.samples, seed=args.seed)
    data = payload(model, measurement)
    data["seed"] = args.seed
    data["row_seed"] = model.seed
    data.update({key: getattr(args, key) for key in ("png", "out", "load") if getattr(args, key) is not None})
    emit(data, args.json, text(data))
