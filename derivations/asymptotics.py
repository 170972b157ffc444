"""Rerun the high-sparsity derivation (derivations/06_high_sparsity.md), print it, check it.

Usage (from the repository root):

    python derivations/asymptotics.py       # derive, print, check; exit 1 on any failure

Each step of ``rugtheory.symbolic.asymptotics`` is rerun and printed: the split identity, the
exact reduced loss, the quadratic-in-a profile, the kappa expansion and the closed forms. The
checks are independent of the code under test where they can be: the reduced loss against the
mpmath reference ``rugtheory.numeric.reference.meanfield_loss_mp`` (the readable closed form at
adaptive precision) to 30 digits (40 working digits), the expansion coefficients against the forms derived by hand
in 06_high_sparsity.md, Watson's lemma against 30-digit tails, and the Lambert-W root against
its equation. Takes about 3 s.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import mpmath as mp
import sympy as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rugtheory.numeric.reference import meanfield_loss_mp
from rugtheory.numeric.tails_mp import gaussian_tails_mp
from rugtheory.symbolic import asymptotics as sym
from rugtheory.symbolic.data import p
from rugtheory.symbolic.functions import J, phi
from rugtheory.symbolic.gaussian import sigma
from rugtheory.symbolic.meanfield import a, beta, kappa

DIGITS = 30
TOLERANCE = mp.mpf("1e-30")  # relative, at 40 working digits
# (p, a, sigma, beta): beta < 0 (filtering), small p near the optimum's shape, a < 1 with a
# large threshold, beta > 0 (t < 0), and p = 1e-12 with a - 1 ~ sigma.
POINTS = [
    ("0.3", "0.9", "0.4", "-0.2"),
    ("0.01", "1.1", "0.06", "-0.05"),
    ("0.2", "0.8", "0.5", "0.3"),
    ("1e-12", "1.000001", "5e-7", "-2e-6"),
]

_failures: list[str] = []


def section(title: str) -> None:
    print(f"\n== {title}")


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"  [{'ok' if ok else 'FAIL'}] {name}{(': ' + detail) if detail else ''}")
    if not ok:
        _failures.append(name)


def show(name: str, expr: object) -> None:
    print(f"  {name} = {sp.sstr(expr)}")


def _mp_tail(k: object, x: object) -> mp.mpf:
    """J_k(x) at the current precision (J_{-1} = phi), from rugtheory.numeric.tails_mp."""
    return gaussian_tails_mp(x, max(int(k), 0))[int(k) + 1]


def zero(expr: sp.Expr) -> bool:
    return sp.simplify(sp.expand(expr)) == 0


def split_section() -> None:
    section("Step 1: split identity")
    print("  (ReLU(v) - u)^2 = (v - u)^2 - (-v)_+^2 - 2 u (-v)_+")
    check("holds for v > 0 and v < 0 (sympy)", sym.split_identity())


def reduced_section() -> None:
    section("Step 2: exact reduced loss, t = -beta/sigma, W = (a + beta)/sigma")
    loss = sym.reduced_loss()
    show("l", loss)
    big_w = (a + beta) / sigma
    remainder = loss - loss.subs({J(3, big_w): 0, J(2, big_w): 0})
    expected = p * sigma**2 * J(2, big_w) / a + p * sigma**3 * (a + 1) * J(3, big_w) / (3 * a**2)
    show("upper-end remainder (the J(., W) terms)", sp.factor_terms(sp.simplify(remainder)))
    check("remainder = p sigma^2 J_2(W)/a + p sigma^3 (a + 1) J_3(W)/(3 a^2)", zero(remainder - expected))
    with mp.workdps(DIGITS + 10):
        fn = sp.lambdify((p, a, sigma, beta), loss, modules=[{"J": _mp_tail}, "mpmath"])
        for point in POINTS:
            values = [mp.mpf(x) for x in point]
            reduced = fn(*values)
            exact = meanfield_loss_mp(*values, precision=DIGITS + 10)
            error = abs(reduced / exact - 1)
            check(
                f"reduced = meanfield_loss_mp at (p, a, sigma, beta) = {point}",
                error < TOLERANCE,
                f"l = {mp.nstr(exact, 12)}, relative difference {mp.nstr(error, 3)}",
            )


def profile_section() -> None:
    section("Step 3: quadratic in a at fixed t (sigma = kappa a, beta = -t kappa a, remainder dropped)")
    prof = sym.profile()
    t = sym.t
    show("A", prof.A)
    show("B", prof.B)
    show("C", prof.C)
    cubic = t**3 / 3 + t + J(3, t) / 3  # J_3(-t)/3, reflected
    hand_a = p / 3 - p * kappa * t + kappa**2 * ((1 - p) * J(2, t) + p * (1 + t**2)) - p * kappa**3 * cubic
    hand_b = -2 * p / 3 + p * kappa * t - p * kappa**3 * cubic
    check(
        "A, B, C as derived by hand in 06 (step 3)",
        zero(prof.A - hand_a) and zero(prof.B - hand_b) and zero(prof.C - p / 3),
    )
    s = sp.Symbol("s", positive=True)
    check(
        "J_3(-s) = s^3 + 3 s + J_3(s) (reflection)", zero(sym.reflect_tail(3, s) - (s**3 + 3 * s + J(3, s)))
    )


def expansion_section() -> None:
    section("Step 4: expansion in kappa, g_2 = J_2(t)/p and g_3 = J_3(t)/p counted O(1)")
    e = sym.kappa_expansion()
    t, g2, g3 = sym.t, sym.g2, sym.g3
    for name in ("f2", "f3", "f4", "threshold_equation", "a_star"):
        show(name, getattr(e, name))
    check("f2 = (1 - p) g_2 + 1 + t^2/4", zero(e.f2 - ((1 - p) * g2 + 1 + t**2 / 4)))
    check(
        "f3 = 3 (1 - p) g_2 t + t^3/12 + t - 2 p g_3/3",
        zero(e.f3 - (3 * (1 - p) * g2 * t + t**3 / 12 + t - 2 * p * g3 / 3)),
    )
    check(
        "a* = 1 + 3 kappa t/2 + O(kappa^2)",
        zero(e.a_star.coeff(kappa, 0) - 1) and zero(e.a_star.coeff(kappa, 1) - 3 * t / 2),
    )
    f2_t = e.f2.subs(g2, J(2, t) / p)
    check(
        "d f2/dt = 0  <=>  (1 - p) J_1(t) = p t/4",
        zero(sp.diff(f2_t, t) * p / 2 - (p * t / 4 - (1 - p) * J(1, t)))
        and zero(e.threshold_equation - (p * t / 4 - (1 - p) * J(1, t))),
    )


def large_t_section() -> None:
    section("Step 5: large t (Watson's lemma) and the Lambert-W threshold")
    t = sym.t
    for k in (1, 2, 3):
        print(f"  J_{k}(t) ~ {sp.sstr(sym.large_t_tail(k, 3))}")
    with mp.workdps(DIGITS):
        tv = mp.mpf(20)
        for k in (1, 2, 3):
            series = sp.lambdify(t, sym.large_t_tail(k, 3), modules=[{"phi": mp.npdf}, "mpmath"])(tv)
            exact = _mp_tail(k, tv)
            next_term = mp.npdf(tv) * mp.factorial(k + 6) / (mp.factorial(3) * 8 * tv ** (k + 7))
            error = abs(series - exact)
            check(
                f"3-term Watson series of J_{k}(20): error below the first omitted term",
                error < next_term,
                f"error {mp.nstr(error / exact, 3)} relative, omitted term {mp.nstr(next_term / exact, 3)}",
            )
    forms = sym.scaling_formulas()
    for name in (
        "kappa_squared",
        "loss",
        "threshold",
        "lambert_threshold",
        "lambert_loss",
        "leading",
        "a_star",
    ):
        show(name, getattr(forms, name))
    r = sym.r
    check(
        "leading term = p^2 (1 - r) ln(1/p)/(6 r)",
        zero(forms.leading - p**2 * (1 - r) * sp.log(1 / p) / (6 * r)),
    )
    check(
        "L ~ p kappa^2 (t_W^2/4 + 3/2)",
        zero(forms.lambert_loss - p * kappa**2 * (sym.t_w**2 / 4 + sp.Rational(3, 2))),
    )
    root = sp.lambdify(p, sp.sqrt(forms.lambert_threshold), modules="mpmath")
    with mp.workdps(DIGITS):
        worst = mp.mpf(0)
        for pv in ("1e-2", "1e-6", "1e-30"):
            tw = root(mp.mpf(pv))
            worst = max(worst, abs(mp.npdf(tw) / (mp.mpf(pv) * tw**3 / 4) - 1))
        check(
            "t_W solves phi(t) = p t^3/4 at p = 1e-2, 1e-6, 1e-30",
            worst < mp.mpf("1e-25"),
            f"worst relative residual {mp.nstr(worst, 3)}",
        )
    # J_2 ~ 2 phi/t^3 and phi = p t^3/4 at the root give g_2 = J_2/p -> 1/2.
    g2_root = sp.limit(sym.large_t_tail(2, 1).subs(phi(t), p * t**3 / 4) / p, t, sp.oo)
    check("g_2 = J_2(t_W)/p -> 1/2", g2_root == sp.Rational(1, 2))


def main() -> int:
    start = time.perf_counter()
    split_section()
    reduced_section()
    profile_section()
    expansion_section()
    large_t_section()
    print(f"\n{len(_failures)} failure(s) in {time.perf_counter() - start:.1f} s")
    for name in _failures:
        print(f"  FAILED: {name}")
    return 1 if _failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
