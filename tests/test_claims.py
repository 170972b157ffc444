"""The constant-factor claim (derivations/10_constant_factor.md), checked numerically.

Independent references: direct numerical minimisation of the bias penalty (scipy), the ReLU
optimum of ``solve`` and the families' optimisers, and the MMSE computed by quadrature.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import minimize

from rugtheory import solve
from rugtheory.asymptotics import high_sparsity
from rugtheory.asymptotics.claims import bias_coefficients, threshold_scaling


def _best_refit(theta: float, family: str) -> float:
    """min over the family's refit of int_0^1 (f(u) - u)^2 du, divided by theta^2."""
    def penalty(x: np.ndarray) -> float:
        a = math.exp(x[0])
        alpha = math.exp(x[1]) if family == "power" else 1.0
        f = lambda u: (a * max(u - theta, 0.0)) ** alpha - u
        return quad(lambda u: f(u) ** 2, 0, 1, points=[theta], epsabs=1e-18, limit=200)[0]

    start = [0.0, 0.0] if family == "power" else [0.0]
    result = minimize(penalty, start, method="Nelder-Mead",
                      options={"xatol": 1e-11, "fatol": 1e-22, "maxiter": 4000})
    return result.fun / theta**2


@pytest.mark.parametrize("family", ["relu", "power"])
def test_bias_penalty_coefficient_against_direct_minimisation(family):
    """c(theta) -> c as theta -> 0, with an O(theta) correction: check at theta = 1e-3, 1e-4."""
    c = bias_coefficients()[family][0]
    errors = [abs(_best_refit(theta, family) / c - 1) for theta in (1e-3, 1e-4)]
    assert errors[1] < errors[0] < 0.02
    assert errors[1] < 2e-3


def test_relu_threshold_scaling_is_the_leading_expansion():
    for p in (1e-6, 1e-20):
        lead = threshold_scaling("relu", p, 0.5)
        full = high_sparsity(p, 0.5)
        assert lead.threshold == pytest.approx(full.threshold, rel=1e-12)
        # leading order in kappa: the next term is O(kappa t) relative (derivations/06, f3)
        assert abs(lead.loss / solve(p, 0.5).loss - 1) < full.kappa * full.threshold


@pytest.mark.parametrize("family, c", [("relu", 0.25), ("power", 1 / 16)])
def test_ratio_to_mmse_grows_like_two_c_log(family, c):
    """L*_f / (p kappa^2) = c t^2 + 3/2 + o(1) with t^2 ~ 2 ln(1/p): unbounded, ~ 2c ln(1/p)."""
    ratios = [threshold_scaling(family, p, 0.5).ratio_to_mmse for p in (1e-8, 1e-16, 1e-30, 1e-60)]
    assert all(b > a for a, b in itertools.pairwise(ratios))
    # ratio / (2c ln 1/p) -> 1 slowly (log log corrections), from below
    normalised = [threshold_scaling(family, p, 0.5).ratio_to_mmse / (2 * c * math.log(1 / p))
                  for p in (1e-30, 1e-100, 1e-300)]
    assert all(abs(x - 1) < 0.25 for x in normalised)
    assert abs(normalised[-1] - 1) < abs(normalised[0] - 1)


from hypothesis import given, settings
from hypothesis import strategies as st

from rugtheory.activations.compare import FAMILIES, compare
from rugtheory.parameters import FEATURE_PROBABILITY, RATIO

from .strategies import draws


@settings(max_examples=12, deadline=None)
@given(p=draws(FEATURE_PROBABILITY), r=draws(RATIO), unused=st.just(None))
def test_mmse_bounds_every_family(p, r, unused):
    """The Bayes-optimal elementwise estimator is no worse than any family's optimum."""
    result = compare(p, r)
    mmse = result.get("mmse").loss
    for name in FAMILIES:
        assert mmse <= result.get(name).loss * (1 + 1e-9) + 1e-300, name


@pytest.mark.parametrize("r", [0.1, 0.9])
def test_optimised_ratios_at_high_sparsity(r):
    """Real optima: ReLU/MMSE follows the prediction and grows; JumpReLU/MMSE -> 1."""
    ratios = []
    for p in (1e-8, 1e-16, 1e-30):
        result = compare(p, r, families=("relu", "jumprelu"))
        mmse = result.get("mmse").loss
        relu = result.get("relu").loss / mmse
        # leading-order prediction; corrections O(kappa t^3) are ~2% at p = 1e-8, r = 0.1
        tolerance = 0.05 if p > 1e-12 else 1e-3
        assert relu == pytest.approx(threshold_scaling("relu", p, r).ratio_to_mmse, rel=tolerance)
        assert abs(result.get("jumprelu").loss / mmse - 1) < 2e-3
        ratios.append(relu)
    assert ratios[0] < ratios[1] < ratios[2]
    assert ratios[-1] > 30
