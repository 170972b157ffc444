"""Rerun the MMSE derivations (derivations/09_mmse.md) and check them.

Usage (from the repository root):

    python derivations/mmse.py

Prints the derived formulas, then [ok]/[FAIL] lines for:

* the posterior numerators and density D, N_1, N_2 and the truncated moments B_j against mpmath
  quadrature of their defining integrals (30 digits, agreement to 1e-25);
* Tweedie's formula N_1 = v D + kappa^2 D' (symbolic);
* the layer: marginal Phi + phi/eps, Brown's integrand = its stable form (symbolic); Brown's
  identity R_0 = 1/eps - int m'^2/m, and C_1 = -int phi^2/Phi, against the direct definitions
  of the layers' excess risks (float64 nested quadrature, agreement to 1e-8);
* the reduction MMSE = p kappa^2 (1 + kappa (C_1 + R_0(eps))) against the mpmath MMSE
  (``rugtheory.numeric.mmse_mp``, the posterior-variance integral) at 30 digits where the
  remainder, of the order exp(-(1/kappa - T)^2/2), is below 1e-25 (p = 1e-4, 1e-2 at r = 0.5),
  and its size where it is not (p = 0.03: measured 3.6e-10, 15 times that exponential);
* the Sommerfeld series of R_0 against R_0 (30 digits): error small and falling with T.

``main()`` returns 1 on any failure. It takes about 30 s.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import mpmath as mp
import numpy as np
import sympy as sp
from scipy.special import ndtr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rugtheory.numeric.mmse_mp import mmse_mp
from rugtheory.numeric.solver import kappa as kappa_of
from rugtheory.symbolic import mmse as sym
from rugtheory.symbolic.data import p
from rugtheory.symbolic.functions import Phi, phi

DIGITS = 30
TOLERANCE = mp.mpf("1e-25")
MP = [{"Phi": mp.ncdf, "phi": mp.npdf}, "mpmath"]
NP = [{"Phi": ndtr, "phi": lambda x: np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)}, "numpy"]
# (v, kappa, p): inside [0, 1]; below 0; above 1; large noise.
POINTS = [("0.3", "0.2", "0.01"), ("-0.05", "0.04", "1e-6"), ("1.2", "0.3", "0.5"), ("0.5", "3", "0.9")]

_failures: list[str] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"  [{'ok' if ok else 'FAIL'}] {name}{(': ' + detail) if detail else ''}")
    if not ok:
        _failures.append(name)


def section(title: str) -> None:
    print(f"\n== {title}")


def show(name: str, expr: sp.Expr) -> None:
    print(f"  {name} = {sp.sstr(expr)}")


def relative(got: mp.mpf, ref: mp.mpf) -> mp.mpf:
    return abs(got - ref) / abs(ref)


def posterior_section() -> None:
    section("09_mmse.md, 'Posterior mean': rugtheory.symbolic.mmse.posterior_moments")
    moments = sym.posterior_moments()
    show("D", moments.density)
    show("N_1", moments.first)
    show("N_2", moments.second)
    check("Tweedie: N_1 - v D - kappa^2 dD/dv = 0", sym.tweedie_residual() == 0)
    args = (sym.v, sym.kappa, p)
    compiled = [sp.lambdify(args, e, modules=MP) for e in (moments.density, moments.first, moments.second)]
    with mp.workdps(DIGITS + 20):
        worst = mp.mpf(0)
        for point in POINTS:
            vv, kk, pp = (mp.mpf(x) for x in point)

            def kernel(uu: mp.mpf, j: int, vv: mp.mpf = vv, kk: mp.mpf = kk) -> mp.mpf:
                return uu**j * mp.npdf((vv - uu) / kk) / kk

            cuts = sorted({mp.mpf(0), mp.mpf(1), min(max(vv, mp.mpf(0)), mp.mpf(1))})
            refs = [(1 - pp) * mp.npdf(vv / kk) / kk + pp * mp.quad(lambda uu: kernel(uu, 0), cuts)]
            refs += [pp * mp.quad(lambda uu, j=j: kernel(uu, j), cuts) for j in (1, 2)]
            for fn, ref in zip(compiled, refs):
                worst = max(worst, relative(fn(vv, kk, pp), ref))
        check("D, N_1, N_2 = quadrature of their definitions at 4 points", worst <= TOLERANCE,
              f"worst relative difference {mp.nstr(worst, 3)}")
        b_forms = [sp.lambdify((sym.lo, sym.hi), e, modules=MP) for e in sym.truncated_moments()]
        worst = mp.mpf(0)
        for lo_, hi_ in (("-1.5", "0.7"), ("2", "5"), ("-3", "-2.5")):
            lo_, hi_ = mp.mpf(lo_), mp.mpf(hi_)
            for j, fn in enumerate(b_forms):
                ref = mp.quad(lambda t, j=j: t**j * mp.npdf(t), [lo_, hi_])
                worst = max(worst, relative(fn(lo_, hi_), ref))
        check("B_0, B_1, B_2 = quadrature of their definitions", worst <= TOLERANCE,
              f"worst relative difference {mp.nstr(worst, 3)}")


def _layer_excess_direct(mean, epsilon: float | None) -> float:
    """The layer's excess risk from its definition, in float64: E[g(Z)^2]/eps (the atom at 0) +
    int_0^inf (E[(g(s + Z) - s)^2] - 1) ds, the inner expectations by the trapezoid rule on
    [-14, 14] (spectrally accurate here), the outer integral by scipy's quad."""
    from scipy.integrate import quad

    z = np.linspace(-14.0, 14.0, 8001)
    weight = np.full(z.size, z[1] - z[0]) * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)
    weight[[0, -1]] *= 0.5
    atom = 0.0 if epsilon is None else float(np.sum(weight * mean(z) ** 2)) / epsilon
    top = 0.0 if epsilon is None else float(np.sqrt(2.0 * np.log(1.0 / (epsilon * np.sqrt(2 * np.pi)))))
    inner = lambda s: float(np.sum(weight * (mean(s + z) - s) ** 2)) - 1.0
    rest, _ = quad(inner, 0.0, top + 14.0, points=[max(top - 2.0, 0.1), top + 0.01, top + 2.0],
                   limit=400, epsabs=1e-13)
    return atom + rest


def _r0(epsilon: mp.mpf) -> mp.mpf:
    stable = sp.lambdify((sym.w, sym.eps), sym.layer().stable, modules=MP)
    top = mp.sqrt(2 * mp.log(1 / (epsilon * mp.sqrt(2 * mp.pi))))
    cuts = [-mp.inf, -10, -3, 0] + [top + d for d in (-4, -2, -1, -0.5, 0, 0.5, 1, 2, 4, 40)]
    cuts = sorted({c for c in cuts if c == -mp.inf or c <= 0 and c in (-10, -3, 0) or c > 0})
    return mp.quad(lambda x: stable(x, epsilon), cuts)


def layer_section() -> dict[str, mp.mpf]:
    section("09_mmse.md, 'Asymptotics': rugtheory.symbolic.mmse.layer")
    layer = sym.layer()
    show("m(w)", layer.marginal)
    show("g(w) = w + m'/m", sp.simplify(layer.mean))
    show("R_0 integrand (stable)", layer.stable)
    check("m = Phi + phi/eps", sp.simplify(layer.marginal - Phi(sym.w) - phi(sym.w) / sym.eps) == 0)
    check("w^2 phi/eps - m'^2/m = stable form", sp.simplify(sp.together(layer.brown - layer.stable)) == 0)
    with mp.workdps(DIGITS):
        upper = sp.lambdify(sym.w, layer.upper, modules=MP)
        c1 = mp.quad(upper, [-mp.inf, -10, -3, 0, 3, mp.inf])
        print(f"  C_1 = {mp.nstr(c1, DIGITS)}")
        mean = sp.lambdify((sym.w, sym.eps), layer.mean, modules=NP)
        for epsilon in ("1e-3", "1e-8"):
            brown = _r0(mp.mpf(epsilon))
            direct = _layer_excess_direct(lambda x, e=float(epsilon): mean(x, e), float(epsilon))
            check(f"Brown's identity at eps = {epsilon}: R_0 = {mp.nstr(brown, 12)}",
                  abs(direct - float(brown)) <= 1e-8 * abs(float(brown)), f"direct definition {direct:.12g}")
        # eps -> inf: no atom, the posterior is the one-sided truncation; that is the layer at u = 1
        one_sided = sp.lambdify(sym.w, sym.w + phi(sym.w) / Phi(sym.w), modules=NP)
        direct = _layer_excess_direct(one_sided, None)
        check("C_1 = the one-sided layer's excess risk", abs(direct - float(c1)) <= 1e-8,
              f"direct definition {direct:.12g}")
    return {"C1": c1}


def reduction_section(c1: mp.mpf) -> None:
    section("09_mmse.md, 'Asymptotics': MMSE = p kappa^2 (1 + kappa F(eps)), F = C_1 + R_0")
    for p_value, tight in ((1e-4, True), (1e-2, True), (3e-2, False)):
        k = float(kappa_of(p_value, 0.5))
        with mp.workdps(DIGITS + 10):
            pm, km = mp.mpf(p_value), mp.mpf(k)
            epsilon = pm * km / (1 - pm)
            top = mp.sqrt(2 * mp.log(1 / (epsilon * mp.sqrt(2 * mp.pi))))
            reduced = pm * km**2 * (1 + km * (c1 + _r0(epsilon)))
            reference = mmse_mp(p_value, k, precision=DIGITS)
            gap = relative(reduced, reference)
            remainder = mp.exp(-((1 / km - top) ** 2) / 2)
        where = f"p = {p_value:g}, r = 0.5, kappa = {k:.4g}"
        if tight:
            check(f"reduction = mpmath MMSE at {where}", gap <= TOLERANCE, f"relative difference {mp.nstr(gap, 3)}")
        else:
            check(f"reduction's remainder at {where} is within a factor 100 of exp(-(1/kappa - T)^2/2)",
                  remainder / 100 <= gap <= remainder * 100,
                  f"relative difference {mp.nstr(gap, 3)}, exp(-(1/kappa - T)^2/2) = {mp.nstr(remainder, 3)}")


def series_section(c1: mp.mpf) -> None:
    section("09_mmse.md, 'Asymptotics': rugtheory.symbolic.mmse.sommerfeld_series")
    series = sym.sommerfeld_series(3)
    show("R_0 ~", series)
    fn = sp.lambdify(sym.T, series, modules="mpmath")
    errors = []
    with mp.workdps(DIGITS):
        for epsilon in ("1e-6", "1e-12", "1e-24", "1e-46"):
            e = mp.mpf(epsilon)
            top = mp.sqrt(2 * mp.log(1 / (e * mp.sqrt(2 * mp.pi))))
            err = abs(fn(top) - _r0(e))
            errors.append(err)
            print(f"  eps = {epsilon}: T = {mp.nstr(top, 6)}, |series - R_0| = {mp.nstr(err, 3)}")
    check("series error falls with T and is below 1e-4 at T = 5", all(b < a for a, b in itertools.pairwise(errors))
          and errors[0] < 1e-4)


def main() -> int:
    posterior_section()
    constants = layer_section()
    reduction_section(constants["C1"])
    series_section(constants["C1"])
    print(f"\n{len(_failures)} failure(s)")
    for name in _failures:
        print(f"  FAILED: {name}")
    return 1 if _failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
