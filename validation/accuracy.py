"""Measure the float64 numerics against mpmath; prints the figures quoted in the README.

1. closed_form loss vs the readable closed form at 50 digits (``reference.meanfield_loss_mp``)
   on random points: p log-uniform in [1e-30, 0.999], a in [-0.5, 2], sigma = kappa |a| for
   r uniform in [0.01, 1], beta = t sigma with t in [-12, 4]; plus sigma = 0 and |a| < sigma.
2. float64 ``solve`` vs the 50-digit Newton solve at a table of (p, r).

Usage: python validation/accuracy.py [--points N] [--seed S]
"""

from __future__ import annotations

import argparse
import platform
import time

import mpmath
import numpy as np

from rugtheory.numeric.closed_form import loss
from rugtheory.numeric.reference import meanfield_loss_mp
from rugtheory.optimum import solve

SOLVE_TABLE = [(0.999, 0.9), (0.9, 0.3), (0.5, 1e-4), (0.3, 0.5), (0.1, 0.1), (0.01, 0.01), (1e-3, 0.25),
               (1e-6, 0.5), (1e-12, 1e-4), (1e-20, 1e-4), (1e-30, 0.3), (1e-30, 0.95)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    start = time.time()
    p = 10.0 ** rng.uniform(-30, np.log10(0.999), args.points)
    a = rng.uniform(-0.5, 2.0, args.points)
    r = rng.uniform(0.01, 1.0, args.points)
    sigma = np.sqrt(p * (4 - 3 * p) / 12 * (1 - r) / r) * np.abs(a)
    kind = rng.integers(0, 10, args.points)
    sigma = np.where(kind == 0, 0.0, sigma)  # some sigma = 0
    sigma = np.where(kind == 1, 3.0 * np.abs(a) + 1e-3, sigma)  # some |a| < sigma
    beta = rng.uniform(-12, 4, args.points) * np.where(sigma > 0, sigma, 0.1 * np.sqrt(p))
    errors = []
    for args_point in zip(p, a, sigma, beta):
        reference = float(meanfield_loss_mp(*args_point, precision=50))
        value = float(loss(*args_point))
        errors.append(abs(value - reference) / reference if reference else abs(value))
    errors = np.array(errors)
    print(f"machine: {platform.platform()}, python {platform.python_version()}, numpy {np.__version__}")
    print(f"command: python validation/accuracy.py --points {args.points} --seed {args.seed}")
    print(f"closed_form vs 50-digit readable form, {args.points} random points (p from 1e-30 to 0.999):")
    print(f"  median {np.median(errors):.2e}, 99th percentile {np.quantile(errors, 0.99):.2e}, worst {errors.max():.2e}")
    print("float64 solve vs 50-digit Newton solve (relative difference of L*):")
    worst = 0.0
    for p_value, r_value in SOLVE_TABLE:
        fast, exact = solve(p_value, r_value), solve(p_value, r_value, precision=50)
        rel = abs(fast.loss - exact.loss) / exact.loss
        worst = max(worst, rel)
        with mpmath.workdps(60):
            digits = mpmath.nstr(mpmath.mpf(exact.decimal["loss"]), 20)
        print(f"  p = {p_value:8.3g}  r = {r_value:6.4g}  L* = {digits:<28}  rel diff {rel:.1e}")
    print(f"  worst {worst:.1e}")
    print(f"wall time {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
