"""Every method of the mean-field loss against every other (THEORY.md, "Mean-field (large n) limit").

Deterministic methods (closed_form, quadrature, mpmath) are compared pairwise on a fixed table
spanning the domain; Monte Carlo is compared with a tolerance sized from its standard error;
analytic values come from THEORY.md's checks and from exact rational integration.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from functools import cache

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings

from rugtheory.numeric.closed_form import loss as closed_form_loss
from rugtheory.numeric.loss import CLOSED_FORM_RELATIVE_ERROR, METHODS, estimate_loss, meanfield_loss
from rugtheory.numeric.reference import meanfield_loss_mp
from rugtheory.parameters import BIAS, DIAG, FEATURE_PROBABILITY, SIGMA

from .strategies import draws

DETERMINISTIC = ("closed_form", "quadrature", "mpmath")

# closed_form vs mpmath: the stable float64 form is built from tails accurate to ~1e-14 relative;
# the measured worst disagreement on this table is ~1e-14 (p = 1e-8, t = -3), so 1e-12 leaves
# a factor 100. Anything involving quadrature: quad runs at epsrel = 1e-11 in both the inner
# and the outer integral, and its error estimate is a heuristic, not a bound, so the nested
# error can exceed 1e-11; 1e-9 is the tolerance the method can promise (measured: ~1e-15).
TOLERANCE = {
    ("closed_form", "mpmath"): 1e-12,
    ("closed_form", "quadrature"): 1e-9,
    ("quadrature", "mpmath"): 1e-9,
}


def _sigma(p: float, a: float, r: float) -> float:
    """The rank-bound interference sigma = |a| sqrt((p/3 - p^2/4)(1 - r)/r) (THEORY.md, Rank bound)."""
    return abs(a) * math.sqrt((p / 3 - p * p / 4) * (1 - r) / r)


def _table() -> list[tuple[str, tuple[float, float, float, float]]]:
    points = []
    for p, a, r, t in itertools.product(
        (0.9, 0.5, 0.1, 1e-3, 1e-8, 1e-16, 1e-30), (0.3, 1.0, 1.4), (0.1, 0.5), (-3.0, -1.0, 0.5)
    ):
        sigma = _sigma(p, a, r)
        points.append((f"p={p:g},a={a:g},r={r:g},t={t:g}", (p, a, sigma, t * sigma)))
    edges = {
        "sigma=0,split": (0.1, 1.0, 0.0, -0.05),
        "sigma=0,no-clip": (0.1, 0.7, 0.0, 0.1),
        "sigma=0,exact-fit": (0.5, 1.0, 0.0, 0.0),  # loss 0 exactly
        "sigma=0,W=0": (0.5, 0.0, 0.0, 0.0),
        "sigma=0,a<0": (0.3, -0.4, 0.0, 0.2),
        "a<0": (0.1, -0.5, 0.2, 0.3),
        "a<0,p=0.01": (0.01, -1.0, 0.05, 0.5),
        "|a|<sigma": (0.1, 0.05, 0.2, -0.1),
        "|a|<<sigma": (0.5, 0.01, 0.5, 0.2),
        "a=0": (0.1, 0.0, 0.2, -0.1),
        "beta>0,large": (0.1, 1.0, 0.1, 5.0),
        "beta>0,large,p=1e-3": (1e-3, 0.5, 0.01, 2.0),
        "sigma tiny": (0.1, 1.0, 1e-12, -0.3),
        "beta<<0": (0.2, 1.2, 0.05, -3.0),
    }
    return points + list(edges.items())


TABLE = _table()


@cache
def _value(method: str, point: tuple[float, float, float, float]) -> float:
    """Pure, so caching it only saves time when a point appears in several pairs."""
    return meanfield_loss(*point, method=method)


def _relative(x: float, y: float) -> float:
    return 0.0 if x == y else abs(x - y) / max(abs(x), abs(y))


@pytest.mark.parametrize("pair", list(itertools.combinations(DETERMINISTIC, 2)), ids="-".join)
@pytest.mark.parametrize("point", [pt for _, pt in TABLE], ids=[name for name, _ in TABLE])
def test_deterministic_methods_agree(pair, point):
    first, second = (_value(method, point) for method in pair)
    assert math.isfinite(first) and math.isfinite(second)
    assert _relative(first, second) <= TOLERANCE[pair], (pair, point, first, second)


MONTE_CARLO_POINTS = [
    (p, a, _sigma(p, a, r), t * _sigma(p, a, r))
    for p in (0.5, 0.1, 0.01)
    for a, r, t in ((1.0, 0.5, -1.0), (0.3, 0.1, 0.5))
] + [(0.1, -0.5, 0.2, 0.3), (0.1, 0.05, 0.2, -0.1)]


@pytest.mark.parametrize("point", MONTE_CARLO_POINTS)
def test_monte_carlo_agrees_within_standard_errors(point):
    # Monte Carlo samples the same mean-field definition, so it has no bias, only sampling
    # noise. 4 standard errors: a two-sided Gaussian exceedance of 6e-5 per point, so even if
    # the seed changed, a false alarm among these 8 points would have probability < 1e-3.
    estimate = estimate_loss(*point, method="monte_carlo", samples=1_000_000, seed=12345)
    exact = meanfield_loss(*point, method="mpmath")
    assert 0 < estimate.error < 0.02 * exact  # the test has power: the noise is small
    assert abs(estimate.loss - exact) <= 4 * estimate.error


@pytest.mark.parametrize(
    "point",
    [(0.1, 1.0, 0.2, -0.1), (1e-30, 1.0, 1.7e-15, -5.2e-15), (0.5, 0.0, 0.3, -0.2), (0.1, 0.7, 0.0, -0.1)],
)
def test_mpmath_delivers_requested_digits(point):
    at_50 = meanfield_loss_mp(*point, precision=50)
    at_80 = meanfield_loss_mp(*point, precision=80)
    with mpmath.workdps(100):
        assert abs(at_50 - at_80) <= mpmath.mpf(10) ** -50 * abs(at_80)


@pytest.mark.parametrize("p", (0.9, 0.1, 1e-30))
@pytest.mark.parametrize("method", DETERMINISTIC)
def test_zero_weights_give_p_over_3(method, p):
    # THEORY.md, Model and loss: W = 0, b = 0 gives L = p/3.
    value = meanfield_loss(p, 0.0, 0.0, 0.0, method=method)
    tolerance = 1e-15 if method == "mpmath" else CLOSED_FORM_RELATIVE_ERROR
    assert _relative(value, p / 3) <= tolerance


def test_zero_weights_mpmath_is_exact():
    with mpmath.workdps(60):
        assert abs(meanfield_loss_mp(0.1, 0.0, 0.0, 0.0) - mpmath.mpf(0.1) / 3) <= mpmath.mpf(10) ** -55


def _unclipped(p: float, a: float, sigma: float, beta: float) -> Fraction:
    """(1 - p)(beta^2 + sigma^2) + p int_0^1 (((a - 1) u + beta)^2 + sigma^2) du, exact in rationals.

    The loss with the ReLU removed: equal to the loss where a u + beta + sigma Z never goes negative.
    """
    p, a, sigma, beta = (Fraction(v) for v in (p, a, sigma, beta))
    c = a - 1
    integral = c * c / 3 + c * beta + beta * beta + sigma * sigma
    return (1 - p) * (beta * beta + sigma * sigma) + p * integral


@pytest.mark.parametrize("p", (0.5, 0.1, 1e-3))
@pytest.mark.parametrize("method", DETERMINISTIC)
def test_linear_regime_matches_exact_integral(method, p):
    # a = r = 0.5, beta = (1 - r) p / 2 > 0 and sigma = 0: a u + beta > 0 on [0, 1], the ReLU
    # never clips and the loss is the polynomial integral, computed exactly in rationals.
    a, beta = 0.5, 0.5 * p / 2
    expected = float(_unclipped(p, a, 0.0, beta))
    assert _relative(meanfield_loss(p, a, 0.0, beta, method=method), expected) <= 1e-13


@pytest.mark.parametrize("method", DETERMINISTIC)
def test_far_from_the_kink_the_relu_is_linear(method):
    # beta/sigma = 100: the clipped Gaussian mass is < 1e-2000, so the loss equals the unclipped one.
    p, a, sigma, beta = 0.1, 0.5, 0.01, 1.0
    expected = float(_unclipped(p, a, sigma, beta))
    assert _relative(meanfield_loss(p, a, sigma, beta, method=method), expected) <= 1e-13


def test_methods_tuple_is_complete():
    assert set(METHODS) == set(DETERMINISTIC) | {"monte_carlo"}


def test_closed_form_takes_arrays():
    p = np.array([0.5, 0.1, 1e-8])
    values = meanfield_loss(p, 1.0, 0.1, -0.05)
    assert isinstance(values, np.ndarray) and values.shape == (3,)
    for pk, value in zip(p, values):
        assert value == meanfield_loss(float(pk), 1.0, 0.1, -0.05)


def test_estimates_report_their_method_and_error():
    point = (0.1, 1.0, 0.2, -0.1)
    for method in METHODS:
        estimate = estimate_loss(*point, method=method, samples=10_000)
        record = estimate.to_dict()
        assert record["method"] == method and record["loss"] == estimate.loss
        assert 0 <= estimate.error < 0.05 * estimate.loss
    decimal = estimate_loss(*point, method="mpmath", precision=40).decimal
    with mpmath.workdps(60):
        reference = meanfield_loss_mp(*point, precision=60)
        assert abs(mpmath.mpf(decimal) - reference) <= mpmath.mpf(10) ** -39 * reference


@pytest.mark.parametrize("point", [(0.1, 1e-200, 0.0, -0.1), (0.1, 1e-300, 1e-300, -1e-300), (0.3, -1e-120, 0.0, 0.2)])
def test_closed_form_tiny_diag_matches_mpmath(point):
    # 0 < |a| < 1e-100 goes to the quadrature branch: the closed branch's 1/a^2 would underflow.
    value = float(closed_form_loss(*point))
    assert value == pytest.approx(float(meanfield_loss_mp(*point, precision=30)), rel=1e-14)


# Uniform over the typical range of a; tiny |a| is pinned by test_closed_form_tiny_diag_matches_mpmath.
_DIAG = draws(DIAG)


@settings(max_examples=200, deadline=None)
@given(p=draws(FEATURE_PROBABILITY), a=_DIAG, sigma=draws(SIGMA), beta=draws(BIAS))
def test_closed_form_is_bounded_by_the_unclipped_loss(p, a, sigma, beta):
    # For x >= 0, |ReLU(y) - x| <= |y - x|: removing the ReLU can only increase the loss.
    value = float(closed_form_loss(p, a, sigma, beta))
    bound = float(_unclipped(p, a, sigma, beta))
    assert math.isfinite(value) and value >= 0.0
    assert value <= bound * (1 + 1e-12)
