"""Bounds on the best ReLU^alpha model (derivations/11_power_bounds.md).

Every step of the lower bound is held against an independent computation: the tail moments
and the active noise M1 against mpmath quadrature of their definitions; the stable deficit
integrand against the sympy-derived truncated posterior; the exact decomposition of the loss
against the family's own quadrature; the minorant against the loss at random parameters; and
the bounds against the independently optimised ReLU^alpha model.
"""

from __future__ import annotations

import itertools
import math
import warnings

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from scipy import integrate
from scipy.special import ndtr

from rugtheory.activations import power
from rugtheory.activations.mmse import optimum as mmse_optimum
from rugtheory.asymptotics import power_bounds as pb
from rugtheory.errors import ParameterError
from rugtheory.numeric.solver import kappa
from rugtheory.symbolic.functions import Phi, phi
from rugtheory.symbolic.truncated import truncated_posterior, z_hi, z_lo

# tolerances: log_tail_moment's quad runs at epsrel 1e-13; 1e-12 covers it and the exp/log roundings
TAIL_RTOL = 1e-12


@pytest.mark.parametrize("order,t", [(2.0, 0.0), (2.2, 3.0), (1.8, 8.5), (2.0, 11.7), (0.7, 25.0), (2.0, -2.5)])
def test_tail_moment_against_mpmath(order, t):
    with mp.workdps(40):
        tt = mp.mpf(t)
        reference = mp.quad(lambda z: (z - tt) ** order * mp.npdf(z), [tt, tt + 1, tt + 5, tt + 40])
        assert math.exp(pb.log_tail_moment(order, t)) == pytest.approx(float(reference), rel=TAIL_RTOL)


def _active_noise_mp(k: float) -> float:
    """M1 = int Var(x | v) q1(v) dv from the truncated-normal moments, in mpmath (40 digits)."""
    with mp.workdps(40):
        kk = mp.mpf(k)

        def integrand(v):
            a, b = -v / kk, (1 - v) / kk
            mass = mp.ncdf(b) - mp.ncdf(a) if a < 0 else mp.ncdf(-a) - mp.ncdf(-b)
            pa, pb_ = mp.npdf(a), mp.npdf(b)
            return kk**2 * (1 + (a * pa - b * pb_) / mass - ((pa - pb_) / mass) ** 2) * mass

        edges = [-40 * kk, -5 * kk, 0, 5 * kk, mp.mpf(1) / 2, 1 - 5 * kk, 1, 1 + 5 * kk, 1 + 40 * kk]
        return float(mp.quad(integrand, edges))


@pytest.mark.parametrize("k", [1e-3, 1e-2, 0.04])
def test_active_noise_against_mpmath(k):
    # quad at epsrel 1e-13 on an O(1) integrand, then 1 - 2 k C: 1e-12 relative
    assert pb.active_noise(k) == pytest.approx(_active_noise_mp(k), rel=1e-12)


def test_active_noise_small_kappa_tends_to_kappa_squared():
    # M1 = k^2 (1 - 2 k C) with C > 0: the deficit is first order in kappa
    ratios = [(1.0 - pb.active_noise(k) / k**2) / k for k in (1e-4, 1e-6, 1e-8)]
    assert all(r > 0 for r in ratios)
    assert ratios[0] == pytest.approx(ratios[2], rel=1e-3)


@pytest.mark.parametrize("s,k", [(-3.0, 0.05), (0.0, 0.05), (2.5, 0.1), (4.0, 0.04), (5.0, 0.02), (-8.0, 0.02)])
def test_stable_deficit_equals_the_derived_one(s, k):
    derived = truncated_posterior().deficit
    numeric = sp.lambdify((z_lo, z_hi), derived, modules=[{"Phi": mp.ncdf, "phi": mp.npdf}, "mpmath"])
    with mp.workdps(30):  # the derived form cancels where the deficit is small: evaluate it at 30 digits
        expected = float(numeric(mp.mpf(-s), 1 / mp.mpf(k) - s))
    # the stable form's roundings: a few ulps of its three positive-or-cancelling terms
    assert pb.active_deficit(s, k) == pytest.approx(expected, rel=1e-12)


def test_derived_posterior_mean_matches_the_truncated_normal():
    derived = truncated_posterior()
    assert sp.simplify(derived.moments[0] - (Phi(z_hi) - Phi(z_lo))) == 0
    assert sp.simplify(derived.mean_shift - (phi(z_lo) - phi(z_hi)) / (Phi(z_hi) - Phi(z_lo))) == 0


def _excess(p, k, big_a, theta, alpha):
    """int (g - m1)^2 q1 dv by scipy quad, g = A (v - theta)_+^alpha, m1 the truncated-normal mean."""

    def integrand(v):
        lo, hi = -v / k, (1 - v) / k
        mass = ndtr(hi) - ndtr(lo)
        if mass <= 0.0:
            return 0.0
        mean = v + k * (math.exp(-lo * lo / 2) - math.exp(-hi * hi / 2)) / math.sqrt(2 * math.pi) / mass
        g = big_a * max(v - theta, 0.0) ** alpha
        return (g - mean) ** 2 * mass

    edges = sorted({-8 * k, theta, 0.0, 1.0, 1 + 8 * k, 0.5})
    return sum(integrate.quad(integrand, lo, hi, epsabs=0, epsrel=1e-11, limit=200)[0]
               for lo, hi in itertools.pairwise(edges))


@pytest.mark.parametrize("p,r,a,beta,alpha", [
    (1e-3, 0.5, 1.05, -0.06, 0.87), (1e-2, 0.3, 0.9, -0.1, 1.3), (0.05, 0.7, 1.2, 0.02, 0.6),
])
def test_exact_decomposition_of_the_loss(p, r, a, beta, alpha):
    # L = (1-p) A^2 k^(2 alpha) J_{2 alpha}(theta/k) + p M1 + p int (g - m1)^2 q1 (derivations/11, step 1)
    k = float(kappa(p, r))
    big_a, theta = a**alpha, -beta / a
    leak = (1 - p) * big_a**2 * math.exp(2 * alpha * math.log(k) + pb.log_tail_moment(2 * alpha, theta / k))
    total = leak + p * pb.active_noise(k) + p * _excess(p, k, big_a, theta, alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = power.loss(p, a, k * a, beta, alpha, method="quadrature")
    # both sides are quad results at ~1e-10 relative
    assert total == pytest.approx(reference, rel=1e-8)


@pytest.mark.parametrize("p,r", [(1e-4, 0.5), (1e-8, 0.2), (1e-15, 0.8)])
def test_minorant_is_below_the_loss_at_random_parameters(p, r):
    rng = np.random.default_rng(7)
    k = float(kappa(p, r))
    profile = pb.minorant(p, k)
    for _ in range(12):
        t, y = rng.uniform(0.5, 12.0), rng.uniform(-40.0, 20.0)
        big_a = 1.0 + rng.normal(0.0, 3.0) * k
        alpha = 1.0 + y * k
        a = big_a ** (1.0 / alpha)
        beta = -a * t * k
        bound, _ = profile(t, y)  # minimised over A, so below the loss at any A
        loss = power.loss(p, a, k * a, beta, alpha, method="hybrid", a_minus_one=a - 1.0,
                          alpha_minus_one=alpha - 1.0)
        # the loss is accurate to 1e-13 relative (power module); the minorant is a strict bound
        assert bound <= loss * (1 + 1e-12)


SEQUENCE = (1e-4, 1e-6, 1e-9, 1e-12, 1e-18, 1e-24, 1e-30)


@pytest.mark.parametrize("r", [0.1, 0.5, 0.9])
def test_bounds_sandwich_the_optimum_and_close_up(r):
    results = [pb.power_bounds(p, r) for p in SEQUENCE]
    gaps = [b.ratio - 1.0 for b in results]
    assert all(g > 0 for g in gaps)
    assert all(later < earlier for earlier, later in itertools.pairwise(gaps))
    assert gaps[-1] < 1e-12
    for b in results[:4]:
        best = power.optimum(b.p, r).loss
        # lower <= L*_power <= upper; the optimum and the upper bound are hybrid losses (1e-13)
        assert b.lower <= best * (1 + 1e-13)
        assert best <= b.upper * (1 + 1e-13)


def test_ratio_to_the_mmse_grows_without_bound():
    # the lower bound itself, divided by the MMSE, grows like ln(1/p)/8: no constant factor
    ratios = [pb.power_bounds(p, 0.5).lower / mmse_optimum(p, 0.5).loss for p in (1e-6, 1e-12, 1e-30)]
    assert ratios[0] < ratios[1] < ratios[2]
    assert ratios[2] > 1.04 * math.log(1e30) / 8


def test_bad_input():
    with pytest.raises(ParameterError, match="feature_probability"):
        pb.power_bounds(1.5, 0.5)
    with pytest.raises(ParameterError, match="kappa"):
        pb.power_bounds(0.05, 0.5)
    with pytest.raises(ParameterError, match="ratio"):
        pb.power_bounds(1e-6, 0.0)


def test_cli_bounds_json_and_bad_input():
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "rugtheory", "bounds", "--p", "1e-12", "--r", "0.5", "--json"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["lower"] == pb.power_bounds(1e-12, 0.5).lower
    assert payload["lower"] <= payload["upper"] and payload["mmse"] < payload["lower"]
    bad = subprocess.run([sys.executable, "-m", "rugtheory", "bounds", "--p", "0.2"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "kappa" in bad.stderr
