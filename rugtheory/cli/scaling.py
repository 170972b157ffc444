"""`rugtheory scaling`: the high-sparsity closed forms and their check against the optimum."""

from __future__ import annotations

import argparse

TABLE_P = (1e-4, 1e-6, 1e-8, 1e-12, 1e-16, 1e-20, 1e-30)
DIGITS = 40  # the numerical optimum is refined in mpmath so tiny relative errors are resolved


def formulas(latex: bool) -> dict[str, str]:
    """The derived closed forms (rugtheory.symbolic.asymptotics.scaling_formulas) as strings."""
    import sympy as sp

    from ..symbolic.asymptotics import scaling_formulas

    forms = scaling_formulas()
    show = sp.latex if latex else sp.sstr
    return {
        "kappa^2": show(forms.kappa_squared),
        "loss": show(forms.loss),
        "threshold": show(forms.threshold),
        "a": show(forms.a_star),
        "bias": show(forms.bias_star),
        "lambert_threshold": show(forms.lambert_threshold),
        "lambert_loss": show(forms.lambert_loss),
        "leading": show(forms.leading),
    }


def row(p: float, r: float) -> dict[str, float]:
    """Expansion, Lambert form and leading term against the 40-digit optimum at (p, r)."""
    from ..asymptotics import high_sparsity
    from ..optimum import solve

    scaling = high_sparsity(p, r, precision=DIGITS)
    optimum = solve(p, r, precision=DIGITS)
    import mpmath

    with mpmath.workdps(DIGITS):
        numeric = mpmath.mpf(optimum.decimal["loss"])
        asymptotic = mpmath.mpf(scaling.decimal["loss_asymptotic"])
        relative = float(asymptotic / numeric - 1)
    return {
        "p": p,
        "r": r,
        "loss_numeric": optimum.loss,
        "loss_asymptotic": scaling.loss_asymptotic,
        "relative_error": relative,
        "loss_lambert": scaling.loss_lambert,
        "relative_error_lambert": scaling.loss_lambert / optimum.loss - 1,
        "loss_leading": scaling.loss_leading,
        "relative_error_leading": scaling.loss_leading / optimum.loss - 1,
        "threshold": scaling.threshold,
        "a": scaling.a,
        "bias": scaling.bias,
        "sigma": scaling.sigma,
    }


def add_parser(sub: argparse._SubParsersAction, number) -> None:
    from ..parameters import FEATURE_PROBABILITY, RATIO

    parser = sub.add_parser("scaling", help="high-sparsity closed forms of L*(p, r), checked")
    parser.add_argument("--r", type=number(RATIO), default=0.5, help="ratio r in (0, 1] (default 0.5)")
    parser.add_argument("--p", type=number(FEATURE_PROBABILITY), help="one feature probability p in (0, 1)")
    parser.add_argument("--latex", action="store_true", help="print the closed forms in LaTeX")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _text(forms: dict[str, str], rows: list[dict], r: float) -> str:
    lines = [
        "Optimal ReLU model as p -> 0 at fixed r (derivations/06_high_sparsity.md);",
        "J_k(t) = E[(Z - t)_+^k], Z ~ N(0, 1).",
        f"  kappa^2 = {forms['kappa^2']}",
        f"  L*      = {forms['loss']}  + O(p kappa^4 t0^2)",
        f"  where t0 solves {forms['threshold']}",
        f"  a*      = {forms['a']}",
        f"  bias*   = {forms['bias']}  (t0 shifted by O(kappa))",
        f"  explicit: t_W^2 = {forms['lambert_threshold']},  L* ~ {forms['lambert_loss']}",
        f"  leading:  L* ~ {forms['leading']}",
        "",
        f"Against the {DIGITS}-digit numerical optimum, r = {r:g}:",
    ]
    header = (f"{'p':>8} {'L* numeric':>12} {'expansion':>12} {'rel.err':>10} "
              f"{'Lambert':>10} {'leading':>10}")
    lines += [header, "-" * len(header)]
    for item in rows:
        lines.append(
            f"{item['p']:>8.0e} {item['loss_numeric']:>12.5e} {item['loss_asymptotic']:>12.5e} "
            f"{item['relative_error']:>10.2e} {item['relative_error_lambert']:>10.2e} "
            f"{item['relative_error_leading']:>10.2e}"
        )
    lines.append("(rel.err = formula / optimum - 1; Lambert and leading columns likewise)")
    return "\n".join(lines)


def run(args: argparse.Namespace, emit) -> None:
    """Print the closed forms, then the comparison table (or one point with --p)."""
    forms = formulas(args.latex)
    latex = formulas(True)
    if args.p is not None:
        item = row(args.p, args.r)
        item["latex"] = latex["loss"]
        item["latex_threshold"] = latex["threshold"]
        emit(item, args.json, _text(forms, [item], args.r))
        return
    rows = [row(p, args.r) for p in TABLE_P]
    emit({"r": args.r, "formulas": formulas(False), "latex": latex, "rows": rows},
         args.json, _text(forms, rows, args.r))
