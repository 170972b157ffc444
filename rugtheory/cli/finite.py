"""`rugtheory finite`: the Hadamard rug at finite n (derivations/14_finite_n.md).

    rugtheory finite --p P --r R [--n N] [--seed S] [--rows K] [--json]

Prints L*(p, m/n), the exact finite-n loss at the mean-field (a, beta), the re-optimised (a, beta)
and its loss, and the Edgeworth prediction l + E_1 + E_2. Without ``--n`` it first finds the
smallest power-of-two n within 1% of L* (``finite.required_n``) and reports the rug there.
``--rows K`` adds the general ``numeric.exact.exact_loss`` on K rows drawn with the seed, an
independent check (it forms the n x n matrix, so it needs n <= 4096).
"""

from __future__ import annotations

import argparse

__all__ = ["MAX_ROWS_N", "add_parser", "payload", "run", "text"]

MAX_ROWS_N = 4096
TOLERANCE = 0.01


def _integer(name: str, valid: str):
    def parse(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer: got {text!r}; valid: {valid}") from None

    return parse


def add_parser(sub: argparse._SubParsersAction, number, emit):
    """Register ``finite`` on the subparsers and return its handler, ``lambda args: run(args, emit)``."""
    from ..parameters import FEATURE_PROBABILITY, RATIO

    parser = sub.add_parser("finite", help="the Hadamard rug at finite n: exact loss, re-optimised, Edgeworth, n for 1%%")
    parser.add_argument("--p", type=number(FEATURE_PROBABILITY), required=True,
                        help=f"feature probability; {FEATURE_PROBABILITY.domain_text()}")
    parser.add_argument("--r", type=number(RATIO), required=True, help=f"ratio m/n; {RATIO.domain_text()}")
    parser.add_argument("--n", type=_integer("n_features (n)", "n a power of two >= 2"), default=None,
                        help="number of features, a power of two >= 2 (default: find the n needed for 1%%, "
                             "seconds at p = 0.1, minutes at p <= 0.01)")
    parser.add_argument("--seed", type=_integer("seed", "seed an integer >= 0"), default=0, help="seed of the Hadamard row choice (default 0)")
    parser.add_argument("--rows", type=_integer("rows", "rows an integer in [1, n]"), default=None,
                        help=f"also run the general exact_loss on this many rows (1 <= rows <= n <= {MAX_ROWS_N})")
    parser.add_argument("--json", action="store_true", help="print JSON")
    return lambda args: run(args, emit)


def _relative(value: float | None) -> str:
    return "n/a" if value is None else f"{100.0 * value:+.4f}%"


def text(data: dict) -> str:
    """The human-readable report of ``finite``."""
    head = (f"Hadamard rug at finite n: p = {data['p']:.6g}, r = m/n = {data['r']:.6g} "
            f"(n = {data['n']}, m = {data['m']}, p n = {data['lambda']:.6g}), seed {data['seed']}")
    lines = [
        head,
        (f"  L*(p, m/n) (mean field)             = {data['loss_meanfield_optimum']:.10g}"
        f"   at a = {data['a']:.8g}, bias = {data['bias']:.8g}"),
        (f"  exact at the mean-field (a, beta)   = {data['loss_exact']:.10g} +- {data['loss_exact_bound']:.2g}"
        f"   ({_relative(data['relative_exact'])} vs L*)"),
        (f"  re-optimised exact                  = {data['loss_reoptimised']:.10g} +- "
        f"{data['loss_reoptimised_bound']:.2g}   ({_relative(data['relative_reoptimised'])} vs L*)"),
        f"      at a = {data['a_reoptimised']:.8g}, bias = {data['bias_reoptimised']:.8g}",
        (f"  Edgeworth l + E1 + E2               = {data['loss_edgeworth']:.10g}"
        f"   ({_relative(data['relative_edgeworth'])} vs L*)"),
        "      E1..E4 / L* = " + ", ".join(
            "n/a" if data["loss_meanfield_optimum"] == 0 else f"{c / data['loss_meanfield_optimum']:+.3e}"
            for c in data["edgeworth_corrections"]),
        (f"  Edgeworth re-optimised              = {data['loss_edgeworth_reoptimised']:.10g}"
        f"   at a = {data['a_edgeworth_reoptimised']:.8g}, bias = {data['bias_edgeworth_reoptimised']:.8g}"),
    ]
    if "rows_check" in data:
        check = data["rows_check"]
        lines.append(f"  general exact_loss, {check['rows']} rows      = {check['loss']:.10g} +- "
                     f"{check['error_bound']:.2g} (bound) +- {check['standard_error']:.2g} (row SE)")
    if "required" in data:
        req = data["required"]
        shown = {key: "not reached" if req[key] is None else str(req[key])
                 for key in ("n_exact", "n_reoptimised", "n_edgeworth")}
        lines.append(f"  n needed for {100 * req['tolerance']:g}% of L*: exact {shown['n_exact']} (mean-field a, beta), "
                     f"{shown['n_reoptimised']} (re-optimised); Edgeworth predicts {shown['n_edgeworth']} "
                     f"(leading 1/n term alone: n = {req['n_leading']:.4g})")
        lines.append("      scan: " + ", ".join(f"{row['n']}: {_relative(row['relative_exact'])}" for row in req["scan"]))
    return "\n".join(lines)


def payload(args: argparse.Namespace) -> dict:
    """Compute everything ``finite`` prints (a JSON-ready dict)."""
    from ..errors import ParameterError
    from ..finite import finite_n, required_n
    from ..finite.interference import _order

    if args.n is not None:
        n = _order(args.n)
    if args.rows is not None:
        if args.n is None:
            raise ParameterError("--rows needs --n; valid: rows an integer in [1, n] with n <= 4096")
        if not 1 <= args.rows <= n:
            raise ParameterError(f"rows = {args.rows} is out of range; valid: rows an integer in [1, {n}]")
        if n > MAX_ROWS_N:
            raise ParameterError(f"--rows with n = {n}: the general exact_loss forms the n x n matrix; "
                                 f"valid: n <= {MAX_ROWS_N} with --rows")
    data: dict = {}
    if args.n is None:
        required = required_n(args.p, args.r, TOLERANCE, seed=args.seed)
        data["required"] = required.to_dict()
        n = required.n_reoptimised or required.n_exact or required.rows[-1][0]
    result = finite_n(args.p, args.r, n, seed=args.seed)
    out = result.to_dict()
    out.update(data)
    if args.rows is not None:
        from ..numeric.exact import exact_loss
        from ..weights.hadamard import rug_matrix

        W = result.a_meanfield * rug_matrix(n, args.r, seed=args.seed)
        b = result.bias_meanfield - 0.5 * result.p * (W.sum(axis=1) - W.diagonal())  # b = beta - mu
        check = exact_loss(W, b, result.p, rows=args.rows, seed=args.seed)
        out["rows_check"] = {"rows": check.rows, "loss": check.loss, "error_bound": check.error_bound,
                             "standard_error": check.standard_error}
    return out


def run(args: argparse.Namespace, emit) -> None:
    """Compute and print (text, or JSON with --json)."""
    from ..errors import ParameterError
    from ..parameters import FEATURE_PROBABILITY, RATIO

    FEATURE_PROBABILITY.validate(args.p)
    RATIO.validate(args.r)
    if args.n is None and args.r == 1.0:
        raise ParameterError("ratio (r) = 1.0: the rug is W = I and L* = 0, no n to find; valid: r in (0, 1) "
                             "without --n")
    data = payload(args)
    emit(data, args.json, text(data))
