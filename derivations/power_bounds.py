"""Rerun the power-activation bounds (derivations/11_power_bounds.md) and check them.

Usage (from the repository root):

    python derivations/power_bounds.py

Prints the derived truncated-posterior moments, then [ok]/[FAIL] lines for:

* the moments M_0, M_1, M_2 against mpmath quadrature of their definitions (30 digits, 1e-25);
* the stable deficit integrand of ``active_noise`` against the derived one (1e-12);
* the exact decomposition L = leakage + p M1 + p int (g - m1)^2 q1 against the family's own
  nested quadrature (two points, 1e-8: both sides are quad results);
* the window minorant below the loss at 20 random parameter points;
* lower <= L*_power (``activations.power.optimum``) <= upper, and upper/lower - 1 falling, on
  p = 1e-4 ... 1e-30 at r = 0.5; the table is printed (it is the one in the document).

``main()`` returns 1 on any failure. It takes about 20 s.
"""

from __future__ import annotations

import itertools
import math
import sys
import warnings
from pathlib import Path

import mpmath as mp
import numpy as np
import sympy as sp
from scipy import integrate
from scipy.special import ndtr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rugtheory.activations import power
from rugtheory.activations.mmse import optimum as mmse_optimum
from rugtheory.asymptotics import power_bounds as pb
from rugtheory.numeric.solver import kappa
from rugtheory.symbolic.truncated import truncated_posterior, z_hi, z_lo

_failures: list[str] = []
SEQUENCE = (1e-4, 1e-6, 1e-9, 1e-12, 1e-18, 1e-24, 1e-30)


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"  [{'ok' if ok else 'FAIL'}] {name}{(': ' + detail) if detail else ''}")
    if not ok:
        _failures.append(name)


def symbolic_checks() -> None:
    print("\n== Truncated posterior (x | v, active ~ N(v, kappa^2) on [0, 1]; x = v + kappa z)")
    derived = truncated_posterior()
    for k, moment in enumerate(derived.moments):
        print(f"  M_{k} = {sp.sstr(moment)}")
    print(f"  (m1 - v)/kappa = {sp.sstr(derived.mean_shift)}")
    print(f"  deficit c = {sp.sstr(derived.deficit)}")
    mpfun = {"Phi": mp.ncdf, "phi": mp.npdf}
    worst = mp.mpf(0)
    with mp.workdps(30):
        for lo, hi in (("-2", "3"), ("-0.5", "0.25"), ("1", "6")):
            lo, hi = mp.mpf(lo), mp.mpf(hi)
            for k, moment in enumerate(derived.moments):
                value = sp.lambdify((z_lo, z_hi), moment, modules=[mpfun, "mpmath"])(lo, hi)
                exact = mp.quad(lambda x, k=k: x**k * mp.npdf(x), [lo, hi])
                worst = max(worst, abs(value - exact) / abs(exact))
    check("M_0..M_2 against mpmath quadrature (3 intervals)", worst < mp.mpf("1e-25"), f"worst {mp.nstr(worst, 3)}")
    deficit = sp.lambdify((z_lo, z_hi), derived.deficit, modules=[mpfun, "mpmath"])
    with mp.workdps(30):  # the derived form cancels where the deficit is small: evaluate it at 30 digits
        worst_c = max(abs(pb.active_deficit(s, k) / float(deficit(mp.mpf(-s), 1 / mp.mpf(k) - s)) - 1)
                      for s, k in itertools.product((-6.0, -1.0, 0.0, 2.0, 5.0), (0.02, 0.05, 0.1)))
    check("stable deficit = derived deficit (15 points)", worst_c < 1e-12, f"worst {worst_c:.2e}")


def _excess(k: float, big_a: float, theta: float, alpha: float) -> float:
    def integrand(v: float) -> float:
        lo, hi = -v / k, (1 - v) / k
        mass = ndtr(hi) - ndtr(lo)
        if mass <= 0.0:
            return 0.0
        mean = v + k * (math.exp(-lo * lo / 2) - math.exp(-hi * hi / 2)) / math.sqrt(2 * math.pi) / mass
        return (big_a * max(v - theta, 0.0) ** alpha - mean) ** 2 * mass

    edges = sorted({-8 * k, theta, 0.0, 0.5, 1.0, 1 + 8 * k})
    return sum(integrate.quad(integrand, lo, hi, epsabs=0, epsrel=1e-11, limit=200)[0]
               for lo, hi in itertools.pairwise(edges))


def decomposition_checks() -> None:
    print("\n== Exact decomposition of the ReLU^alpha loss")
    worst = 0.0
    for p, r, a, beta, alpha in ((1e-3, 0.5, 1.05, -0.06, 0.87), (0.02, 0.3, 0.9, -0.1, 1.3)):
        k = float(kappa(p, r))
        big_a, theta = a**alpha, -beta / a
        leak = (1 - p) * big_a**2 * math.exp(2 * alpha * math.log(k) + pb.log_tail_moment(2 * alpha, theta / k))
        total = leak + p * pb.active_noise(k) + p * _excess(k, big_a, theta, alpha)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = power.loss(p, a, k * a, beta, alpha, method="quadrature")
        worst = max(worst, abs(total / reference - 1))
    check("leakage + p M1 + p int (g - m1)^2 q1 = loss (2 points)", worst < 1e-8, f"worst {worst:.2e}")


def minorant_checks() -> None:
    print("\n== Window minorant <= loss")
    rng = np.random.default_rng(11)
    ok = True
    for p, r in ((1e-5, 0.5), (1e-12, 0.2)):
        k = float(kappa(p, r))
        profile = pb.minorant(p, k)
        for _ in range(10):
            t, y = rng.uniform(0.5, 12.0), rng.uniform(-40.0, 20.0)
            big_a, alpha = 1.0 + rng.normal(0.0, 3.0) * k, 1.0 + y * k
            a = big_a ** (1 / alpha)
            loss = power.loss(p, a, k * a, -a * t * k, alpha, method="hybrid", a_minus_one=a - 1,
                              alpha_minus_one=alpha - 1)
            ok &= profile(t, y)[0] <= loss * (1 + 1e-12)
    check("minorant below the loss at 20 random points", bool(ok))


def bounds_table() -> None:
    print("\n== Bounds at r = 0.5 (lower <= L*_power <= upper)")
    print(f"  {'p':>7} {'lower':>13} {'L*_power':>13} {'upper':>13} {'upper/lower-1':>13} {'lower/MMSE':>10}")
    gaps, sandwiched = [], True
    for p in SEQUENCE:
        b = pb.power_bounds(p, 0.5)
        best = power.optimum(p, 0.5).loss
        sandwiched &= b.lower <= best * (1 + 1e-13) and best <= b.upper * (1 + 1e-13)
        gaps.append(b.ratio - 1)
        print(f"  {p:>7.0e} {b.lower:>13.6e} {best:>13.6e} {b.upper:>13.6e} {b.ratio - 1:>13.3e} "
              f"{b.lower / mmse_optimum(p, 0.5).loss:>10.4f}")
    check("lower <= L*_power <= upper on the sequence", bool(sandwiched))
    check("upper/lower - 1 falls monotonically to below 1e-12",
          all(b < a for a, b in itertools.pairwise(gaps)) and gaps[-1] < 1e-12)


def main() -> int:
    """Derive, print and check; 0 if every check passes, else 1."""
    _failures.clear()
    symbolic_checks()
    decomposition_checks()
    minorant_checks()
    bounds_table()
    print(f"\n{'all checks passed' if not _failures else f'{len(_failures)} check(s) FAILED'}")
    return 1 if _failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
