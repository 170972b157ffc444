"""The ``rugtheory`` command: solve, loss, derive, report.

Text by default, JSON with ``--json``. Bad input gets a one-line message naming the parameter
and its valid range, and exit code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence

from ..errors import ParameterError
from ..parameters import BIAS, DIAG, FEATURE_PROBABILITY, PRECISION, RATIO, SAMPLES, SIGMA, Parameter
from ..signals import Interrupted
from . import bounds, compare, report, scaling
from .arguments import integer as _integer
from .arguments import number as _number

__all__ = ["build_parser", "main"]

METHODS = ("closed_form", "quadrature", "mpmath", "monte_carlo")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _help(parameter: Parameter) -> str:
    return f"{parameter.description}; {parameter.domain_text()}"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rugtheory", description="Mean-field theory of the Persian rug toy model.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    solve = sub.add_parser("solve", help="optimal mean-field model L*(p, r)")
    solve.add_argument("--p", type=_number(FEATURE_PROBABILITY), required=True, help=_help(FEATURE_PROBABILITY))
    solve.add_argument("--r", type=_number(RATIO), required=True, help=_help(RATIO))
    solve.add_argument("--precision", type=_integer(PRECISION), help="refine in mpmath to this many digits")
    solve.add_argument("--json", action="store_true", help="print JSON")

    loss = sub.add_parser("loss", help="mean-field loss l(a, sigma, beta; p)")
    loss.add_argument("--p", type=_number(FEATURE_PROBABILITY), required=True, help=_help(FEATURE_PROBABILITY))
    loss.add_argument("--a", type=_number(DIAG), required=True, help=_help(DIAG))
    loss.add_argument("--sigma", type=_number(SIGMA), required=True, help=_help(SIGMA))
    loss.add_argument("--bias", type=_number(BIAS), required=True, help=_help(BIAS))
    loss.add_argument("--method", default="closed_form", help="one of " + ", ".join(METHODS))
    loss.add_argument("--precision", type=_integer(PRECISION), default=50, help="digits for --method mpmath")
    loss.add_argument("--samples", type=_integer(SAMPLES), default=1_000_000, help="for --method monte_carlo")
    loss.add_argument("--seed", type=int, default=0, help="for --method monte_carlo")
    loss.add_argument("--json", action="store_true", help="print JSON")

    derive = sub.add_parser("derive", help="derive and print the closed-form mean-field loss")
    derive.add_argument("--latex", action="store_true", help="print LaTeX")
    derive.add_argument("--json", action="store_true", help="print JSON")

    report.add_parser(sub)

    scaling.add_parser(sub, _number)
    compare.add_parser(sub, _number)
    bounds.add_parser(sub, _number)
    __import__("rugtheory.cli.rug", fromlist=["add_parser"]).add_parser(sub, _number)
    __import__("rugtheory.cli.train", fromlist=["add_parser"]).add_parser(sub, _number)
    __import__("rugtheory.cli.validate", fromlist=["add_parser"]).add_parser(sub, _number)
    _COMMANDS["exact"] = __import__("rugtheory.cli.exact", fromlist=["add_parser"]).add_parser(sub, _number, _emit)
    _COMMANDS["phases"] = __import__("rugtheory.cli.phases", fromlist=["add_parser"]).add_parser(sub, _number, _emit)
    _COMMANDS["finite"] = __import__("rugtheory.cli.finite", fromlist=["add_parser"]).add_parser(sub, _number, _emit)
    return parser


def _emit(payload, as_json: bool, text: str) -> None:
    if as_json:
        print(json.dumps(payload, indent=2, allow_nan=False, default=float))
    else:
        print(text)


def _cmd_solve(args: argparse.Namespace) -> None:
    from ..optimum import solve

    model = solve(args.p, args.r, precision=args.precision)
    payload = model.to_dict()
    if math.isinf(payload["gain"]):
        payload["gain"] = None
    lines = [
        f"optimal mean-field model at p = {model.p:.6g}, r = {model.r:.6g}",
        f"  a*      = {model.a:.12g}   (a* - 1 = {model.a_minus_one:.6g})",
        f"  bias*   = {model.bias:.12g}   (effective bias beta)",
        f"  sigma   = {model.sigma:.12g}",
        f"  L*      = {model.loss:.12g}",
        f"  L_lin   = {model.loss_linear:.12g}",
        f"  L_lin/L* = {model.gain:.6g}" if model.loss > 0 else "  L* = 0 (W = I)",
    ]
    if model.decimal:
        lines.append(f"  to {model.precision} digits:")
        lines += [f"    {key:<12} {value}" for key, value in model.decimal.items()]
    _emit(payload, args.json, "\n".join(lines))


def _cmd_loss(args: argparse.Namespace) -> None:
    from ..numeric.loss import estimate_loss

    estimate = estimate_loss(
        args.p, args.a, args.sigma, args.bias, method=args.method,
        precision=args.precision, samples=args.samples, seed=args.seed,
    )
    payload = estimate.to_dict()
    text = (
        f"mean-field loss at p = {args.p:.6g}, a = {args.a:.6g}, sigma = {args.sigma:.6g}, "
        f"bias = {args.bias:.6g}\n  loss = {estimate.decimal}   (method {estimate.method}, "
        f"error {estimate.error:.3g})"
    )
    _emit(payload, args.json, text)


def _cmd_derive(args: argparse.Namespace) -> None:
    import sympy as sp

    from ..symbolic.gaussian import m, relu_moment
    from ..symbolic.meanfield import latex_loss, meanfield_form

    form = meanfield_form()
    text = "\n".join(
        [
            "l(a, sigma, beta; p) = (1 - p) G2(beta) + p/3 + (p/a) [Q(a + beta) - Q(beta)]",
            f"G2(m) = {sp.sstr(relu_moment(2))}",
            f"Q(m)  = {sp.sstr(form.antiderivative)}",
            "with Phi, phi the standard normal cdf and pdf (derivations/03_meanfield_loss.md).",
        ]
    )
    latex = latex_loss()
    if args.json:
        _emit({"loss": sp.sstr(form.loss), "G2": sp.sstr(relu_moment(2)),
               "Q": sp.sstr(form.antiderivative), "latex": latex, "variable": str(m)}, True, "")
    else:
        print(latex if args.latex else text)


_COMMANDS = {
    "solve": _cmd_solve,
    "loss": _cmd_loss,
    "derive": _cmd_derive,
    "report": lambda args: report.run(args, _emit),
    "scaling": lambda args: scaling.run(args, _emit),
    "compare": lambda args: compare.run(args, _emit),
    "bounds": lambda args: bounds.run(args, _emit),
    "rug": lambda args: args.run_rug(args, _emit),
    "train": lambda args: args.run_train(args, _emit),
    "validate": lambda args: args.run_validate(args, _emit),
}


def _join_negative_numbers(argv: Sequence[str]) -> list[str]:
    """``--bias -1e-15`` -> ``--bias=-1e-15``: argparse takes '-1e-15' for an option otherwise."""
    out: list[str] = []
    for token in argv:
        if out and token.startswith("-") and out[-1].startswith("--") and "=" not in out[-1]:
            try:
                float(token)
            except ValueError:
                pass
            else:
                out[-1] = f"{out[-1]}={token}"
                continue
        out.append(token)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rugtheory`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(_join_negative_numbers(sys.argv[1:] if argv is None else argv))
    try:
        _COMMANDS[args.command](args)
    except ParameterError as error:
        sys.stderr.write(f"rugtheory {args.command}: error: {str(error).splitlines()[0]}\n")
        return 2
    except Interrupted as stop:  # a run that saved its state on SIGINT / SIGTERM
        sys.stderr.write(f"\nrugtheory {args.command}: {stop}\n")
        return stop.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(f"\nrugtheory {args.command}: interrupted (SIGINT)\n")
        return 130
    except BrokenPipeError:  # e.g. `rugtheory report | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
