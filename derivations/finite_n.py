"""Rerun the finite-n corrections of the Hadamard rug (derivations/14_finite_n.md) and check them.

Usage (from the repository root):

    python derivations/finite_n.py            # derive, print and check (about 30 s)
    python derivations/finite_n.py --tables   # also the expansion table (section 5, ~1 min)
    python derivations/finite_n.py --required # also the required-n table (section 6, ~10 min)

Prints the derived terms, then [ok]/[FAIL] lines for:

* the cumulants kappa_k(x) against the Taylor series of log E e^{s x} (mpmath, 40 digits);
* the Edgeworth terms against the cumulant exponential (for l = e^{theta beta} the series must
  match exp(sum kappa_k theta^k / k!) to O(eps^(J+1)));
* F is C^1 and its jumps in F'', F''' are the four the numerics use;
* D^k l from the jumps against sympy's derivative of the closed-form mean-field loss, k = 3..8
  (mpmath, 1e-30), and the float64 form against both (1e-11);
* D^k l against the Stein identity sigma^-k E[F(beta + sigma Z) He_k(Z)] by quadrature, k = 3..6;
* the exact rug loss against direct quadrature (n = 2), against the general
  ``numeric.exact.exact_loss`` (n = 16, 32) and against Monte Carlo (n = 16, 64; 3 standard errors).

``main()`` returns 1 on any failure.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from pathlib import Path

import mpmath as mp
import numpy as np
import sympy as sp
from scipy import integrate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rugtheory.finite import (
    data_cumulants,
    edgeworth_correction,
    loss_derivative,
    required_n,
    row_function,
    rug_exact_loss,
    rug_interference,
)
from rugtheory.finite.edgeworth import terms
from rugtheory.measure import monte_carlo_loss
from rugtheory.numeric.exact import exact_loss
from rugtheory.optimum import solve
from rugtheory.symbolic import finite_n as symbolic
from rugtheory.symbolic.data import p as p_sym
from rugtheory.symbolic.gaussian import sigma as sigma_sym
from rugtheory.symbolic.meanfield import a as a_sym
from rugtheory.symbolic.meanfield import beta as beta_sym
from rugtheory.weights import rug_matrix

_failures: list[str] = []
MP_FUNCTIONS = [{"Phi": mp.ncdf, "phi": mp.npdf}, "mpmath"]
POINTS = [(0.01, 1.2, 0.07, -0.15), (0.3, 0.8, 0.25, -0.3), (0.001, 1.05, 0.02, -0.06), (0.1, 1.2, 0.2, -0.28)]
EXPANSION_CASES = [(0.1, 0.5, range(6, 15, 2)), (0.01, 0.5, range(10, 21, 2)), (0.001, 0.5, range(14, 23, 2)),
                   (0.01, 0.25, range(12, 21, 4)), (0.01, 0.75, range(12, 21, 4))]


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"  [{'ok' if ok else 'FAIL'}] {name}{(': ' + detail) if detail else ''}")
    if not ok:
        _failures.append(name)


def _rug(n: int, r: float, p: float, seed: int = 0):
    optimum = solve(p, round(r * n) / n)
    W = optimum.a * rug_matrix(n, r, seed=seed)
    return W, optimum.bias - 0.5 * p * (W.sum(axis=1) - W.diagonal())


def cumulant_section() -> None:
    print("\n== Cumulants of one coordinate x (0 w.p. 1 - p, U[0, 1] w.p. p)")
    for k, expr in enumerate(symbolic.data_cumulants(6), start=1):
        print(f"  kappa_{k} = {sp.sstr(expr)}")
    worst = 0.0
    for p in (1e-3, 0.2, 0.9):
        with mp.workdps(40):
            P = mp.mpf(p)
            series = mp.taylor(lambda s, P=P: mp.log(1 - P + P * mp.expm1(s) / s) if s != 0 else mp.mpf(0), 0, 10)
            reference = [series[k] * mp.factorial(k) for k in range(1, 11)]
        got = data_cumulants(p, 10)
        worst = max(worst, max(float(abs(g - ref) / abs(ref)) for g, ref in zip(got, reference)))
    check("kappa_1..kappa_10 vs the Taylor series of log E e^{s x} (p = 1e-3, 0.2, 0.9)", worst < 1e-14,
          f"worst relative difference {worst:.1e}")


def edgeworth_section() -> None:
    print("\n== Edgeworth terms: E_j = coefficient x prod kappa_k^e x D^d l")
    for order, coefficient, powers, derivative in terms(4):
        kappas = " ".join(f"k{k}^{e}" if e > 1 else f"k{k}" for k, e in powers)
        print(f"  E_{order}: {sp.Rational(coefficient).limit_denominator(10**6)} {kappas} D^{derivative}")
    c = {k: (-1.3) ** k / (k - 1.5) for k in range(3, 8)}
    theta = 0.7
    for order in (1, 2, 3, 4):
        errors = []
        for eps in (0.02, 0.01):
            kappa = {k: c[k] * eps ** (k - 2) for k in c}
            truth = math.exp(sum(kappa[k] * theta**k / math.factorial(k) for k in range(3, order + 3)))
            series = 1.0 + sum(coef * math.prod(kappa[k] ** e for k, e in pw) * theta**d
                               for _, coef, pw, d in terms(order))
            errors.append(abs(series - truth))
        slope = math.log2(errors[0] / errors[1])
        check(f"through E_{order}: error ~ eps^{order + 1} on the cumulant exponential", abs(slope - order - 1) < 0.2,
              f"slope {slope:.3f}")


def jump_section() -> None:
    print("\n== F(v) on its three regions (a > 0) and the jumps of its derivatives")
    for key, expr in symbolic.row_pieces().items():
        print(f"  F_{key}(v) = {sp.sstr(expr)}")
    for key, value in symbolic.numeric_jumps().items():
        print(f"  jump of {key} = {value}")
    jumps = symbolic.jumps()
    check("F is C^1 (no jump in F, F')", all(jumps[c, j] == 0 for c in ("0", "-a") for j in (0, 1)))
    c = (a_sym + 1) / a_sym**2
    expected = {("0", 2): 2 * (1 - p_sym), ("-a", 2): -2 * p_sym / a_sym, ("0", 3): -2 * p_sym * c,
                ("-a", 3): 2 * p_sym * c}
    check("jumps of F'', F''' are those of finite/edgeworth.py",
          all(sp.simplify(jumps[key] - value) == 0 for key, value in expected.items()))
    rng = np.random.default_rng(3)
    worst = 0.0
    for _ in range(40):
        a, p, m = rng.uniform(0.3, 2.0), rng.uniform(1e-3, 0.9), rng.uniform(-2.5, 1.0)
        key = "on" if m >= 0 else ("partial" if m > -a else "off")
        ref = float(symbolic.row_pieces()[key].subs({a_sym: a, p_sym: p, symbolic.v: m}))
        worst = max(worst, abs(row_function(np.array([m]), a, p)[0] - ref) / max(abs(ref), 1e-300))
    check("finite.row_function = the derived pieces (40 random points)", worst < 1e-12, f"worst {worst:.1e}")


def derivative_section() -> None:
    print("\n== D^k l: jumps (Hermite x phi) vs sympy's derivative of the closed form vs float64")
    for k in range(3, 9):
        direct = sp.lambdify((p_sym, a_sym, sigma_sym, beta_sym), symbolic.loss_derivative_direct(k), MP_FUNCTIONS)
        jumps = sp.lambdify((p_sym, a_sym, sigma_sym, beta_sym), symbolic.loss_derivative(k), MP_FUNCTIONS)
        worst_mp, worst_float = 0.0, 0.0
        with mp.workdps(40):
            for point in POINTS:
                args = [mp.mpf(x) for x in point]
                ref = direct(*args)
                worst_mp = max(worst_mp, float(abs(jumps(*args) - ref) / abs(ref)))
                worst_float = max(worst_float, float(abs(loss_derivative(k, *point) - ref) / abs(ref)))
        check(f"D^{k} l: jump form = closed-form derivative (mpmath) and float64", worst_mp < 1e-30 and worst_float < 1e-11,
              f"{worst_mp:.1e}, float64 {worst_float:.1e}")
    for k in range(3, 7):
        p, a, sigma, beta = POINTS[0]
        he = np.polynomial.hermite_e.HermiteE.basis(k)

        def integrand(z: float, he=he, p=p, a=a, sigma=sigma, beta=beta) -> float:
            return float(row_function(np.array([beta + sigma * z]), a, p)[0] * he(z)) * math.exp(-z * z / 2)

        edges = [-40.0, *sorted([-beta / sigma, (-a - beta) / sigma]), 40.0]
        value = sum(integrate.quad(integrand, lo, hi, epsabs=0, epsrel=1e-11, limit=200)[0]
                    for lo, hi in itertools.pairwise(edges)) / (math.sqrt(2 * math.pi) * sigma**k)
        got = loss_derivative(k, p, a, sigma, beta)
        check(f"D^{k} l = sigma^-{k} E[F He_{k}(Z)] (Stein identity, quadrature)", abs(got - value) < 1e-8 * abs(value),
              f"{got:.12g} vs {value:.12g}")


def exact_section() -> None:
    print("\n== The exact rug loss (one row: every row has the same weights and bias)")
    p = 0.2
    W, b = _rug(2, 0.5, p)
    a, w, bias = W[0, 0], W[0, 1], b[0]

    def F(v: float) -> float:
        return float(row_function(np.array([v]), a, p)[0])

    edges = [0.0, *sorted(u for u in (-bias / w, (-a - bias) / w) if 0 < u < 1), 1.0]
    active = sum(integrate.quad(lambda u: F(bias + w * u), lo, hi, epsabs=0, epsrel=1e-13)[0]
                 for lo, hi in itertools.pairwise(edges))
    reference = (1 - p) * F(bias) + p * active
    out = rug_exact_loss(p, 0.5, 2)
    check("n = 2 against direct quadrature", abs(out.loss - reference) <= out.error_bound + 1e-15,
          f"{out.loss:.15g} vs {reference:.15g} (bound {out.error_bound:.1e})")
    for n, r, p, rows in ((16, 0.25, 0.1, None), (32, 0.5, 0.05, 2)):
        W, b = _rug(n, r, p)
        general = exact_loss(W, b, p, rows=rows)
        ours = rug_exact_loss(p, r, n)
        check(f"n = {n}, r = {r}, p = {p} against numeric.exact.exact_loss",
              abs(ours.loss - general.loss) <= ours.error_bound + general.error_bound + 1e-14,
              f"{ours.loss:.12g} vs {general.loss:.12g}")
    for n, r, p in ((16, 0.5, 0.1), (64, 0.25, 0.05)):
        W, b = _rug(n, r, p, seed=1)
        mc = monte_carlo_loss(W, b, p, samples=400_000, seed=11)
        ours = rug_exact_loss(p, r, n, seed=1)
        z = (ours.loss - mc.loss) / mc.standard_error
        check(f"n = {n}, r = {r}, p = {p} against Monte Carlo (400k samples)", abs(z) <= 3, f"z = {z:+.2f}")


def expansion_table() -> None:
    print("\n== Expansion vs exact (seed 0; relative to L*; E_j at the mean-field (a, beta))")
    print("| p | r | n | p n | exact/L* - 1 | E_1/L* | E_2/L* | (exact - l - E_1 - E_2)/L* | (exact - l - E_1..E_4)/L* |")
    print("|---|---|---|---|---|---|---|---|---|")
    for p, r, exponents in EXPANSION_CASES:
        star = solve(p, r)
        for e in exponents:
            n = 1 << e
            xi = rug_interference(n, r, p)
            exact = rug_exact_loss(p, r, n)
            ed = edgeworth_correction(p, star.a, star.bias, {k: xi.power_sum(k) for k in range(2, 7)}, 4)
            rel = [exact.loss / star.loss - 1, ed.corrections[0] / star.loss, ed.corrections[1] / star.loss,
                   (exact.loss - ed.prediction(2)) / star.loss, (exact.loss - ed.prediction(4)) / star.loss]
            print(f"| {p:g} | {r:g} | 2^{e} | {p * n:.4g} | " + " | ".join(f"{x:+.2e}" for x in rel) + " |", flush=True)


def required_table() -> None:
    print("\n== Smallest power-of-two n within 1% of L*(p, r) (seed 0)")
    print("| p | r | n (mean-field a, beta) | n (re-optimised) | n (Edgeworth l + E_1 + E_2) | gap at that n | seconds |")
    print("|---|---|---|---|---|---|---|")
    for p in (1e-3, 1e-2, 0.1):
        for r in (0.25, 0.5, 0.75):
            start = time.perf_counter()
            out = required_n(p, r, 0.01)
            gaps = {n: exact for n, exact, _, _ in out.rows}
            gap = "n/a" if out.n_exact is None else f"{100 * gaps[out.n_exact]:+.3f}%"
            print(f"| {p:g} | {r:g} | {out.n_exact} | {out.n_reoptimised} | {out.n_edgeworth} | {gap} | "
                  f"{time.perf_counter() - start:.0f} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Derive, print and check; 0 if every check passes, else 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", action="store_true", help="print the expansion-vs-exact table")
    parser.add_argument("--required", action="store_true", help="print the required-n table (slow)")
    options = parser.parse_args([] if argv is None else argv)
    _failures.clear()
    cumulant_section()
    edgeworth_section()
    jump_section()
    derivative_section()
    exact_section()
    if options.tables:
        expansion_table()
    if options.required:
        required_table()
    print(f"\n{'all checks passed' if not _failures else f'{len(_failures)} check(s) FAILED'}")
    return 1 if _failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
