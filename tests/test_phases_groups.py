"""Exact group losses (derivations/12_phases.md, "Groups"): sympy kernel, quadrature, simulated networks."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from scipy import integrate

from rugtheory.errors import ParameterError
from rugtheory.measure import monte_carlo_loss
from rugtheory.phases import antipodal_loss, pair_row
from rugtheory.phases.frames import harmonic_frames, harmonic_gram
from rugtheory.phases.groups import group_row_loss
from rugtheory.phases.kgon import kgon_gram, kgon_partners
from rugtheory.phases.simplex import simplex_gram, simplex_partners
from rugtheory.symbolic.phases import a as a_sym
from rugtheory.symbolic.phases import row_kernel, y


def _truncated(items, value):
    return sum(coef * sp.Max(value + shift, 0) ** power for coef, shift, power in items)


@pytest.mark.parametrize("a_value,y_value", [(1.3, 0.2), (0.7, -0.3), (1.1, -2.0), (2.0, -0.5)])
def test_kernel_truncated_powers_match_the_active_cost(a_value, y_value):
    # independent check of the derived truncated-power form against quadrature of the definition
    form = row_kernel()
    kernel = _truncated(form.active, y) + form.active_constant
    got = float(kernel.subs({a_sym: a_value, y: y_value}))
    want = integrate.quad(lambda u: (max(a_value * u + y_value, 0.0) - u) ** 2, 0, 1,
                          points=[min(max(-y_value / a_value, 0), 1)], epsabs=1e-14)[0]
    assert got == pytest.approx(want, rel=1e-12, abs=1e-15)


def _row_by_quadrature(p, a, bias, g):
    """One positive or negative partner: the four activity cases by (nested) scipy quadrature."""
    relu = lambda z: max(z, 0.0)
    c = a * g
    silent = relu(bias) ** 2
    alone = integrate.quad(lambda u: (relu(a * u + bias) - u) ** 2, 0, 1, points=[min(max(-bias / a, 0), 1)], epsabs=1e-14)[0]
    partner = integrate.quad(lambda w: relu(c * w + bias) ** 2, 0, 1, points=[min(max(-bias / c, 0), 1)], epsabs=1e-14)[0]

    def inner(u):
        kink = -(a * u + bias) / c
        points = [kink] if 0 < kink < 1 else None
        return integrate.quad(lambda w: (relu(a * u + c * w + bias) - u) ** 2, 0, 1, points=points, epsabs=1e-15)[0]

    kinks = [x for x in (-bias / a, -(bias + c) / a) if 0 < x < 1]
    both = integrate.quad(inner, 0, 1, points=kinks or None, epsabs=1e-14, limit=200)[0]
    return (1 - p) ** 2 * silent + p * (1 - p) * (alone + partner) + p * p * both


@pytest.mark.parametrize("p,a,bias,g", [(0.2, 1.1, -0.1, 0.4), (0.3, 0.9, 0.05, 0.7), (0.1, 1.3, -0.3, 0.8)])
def test_one_positive_partner_against_quadrature(p, a, bias, g):
    # nested quad split at the kinks, epsabs 1e-14 on integrals of size ~0.1: 1e-9 relative covers it
    assert group_row_loss(p, a, bias, [g]).loss == pytest.approx(_row_by_quadrature(p, a, bias, g), rel=1e-9)


@pytest.mark.parametrize("p,a,bias,partners", [
    (0.2, 1.1, -0.1, (0.4, -0.7)), (0.3, 0.9, 0.05, (-0.5, -0.5, 0.2)), (0.1, 1.3, -0.3, (0.8, 0.2, -1.1, -0.3)),
])
def test_group_row_against_a_sampled_row(p, a, bias, partners):
    # one row on 10^6 fresh draws of (x_i, partners): 3 standard errors
    rng = np.random.default_rng(7)
    n = len(partners) + 1
    x = (rng.random((1_000_000, n)) < p) * rng.random((1_000_000, n))
    cost = (np.maximum(a * x[:, 0] + a * x[:, 1:] @ np.array(partners) + bias, 0) - x[:, 0]) ** 2
    se = cost.std() / np.sqrt(cost.size)
    assert abs(cost.mean() - group_row_loss(p, a, bias, partners).loss) < 3 * se


def test_special_cases():
    # a -> 0, b = 0: the row outputs ~0, loss -> p/3 (difference O(a))
    assert group_row_loss(0.3, 1e-5, 0.0, kgon_partners(5)).loss == pytest.approx(0.1, rel=1e-4)
    # antipodal and general rank-1 rows are the one-partner case
    assert group_row_loss(0.07, 1.1, -0.05, [-1.0]).loss == pytest.approx(antipodal_loss(0.07, 1.1, -0.05), rel=1e-12)
    assert group_row_loss(0.07, 1.1, -0.05, [-2.0 / 1.1]).loss == pytest.approx(pair_row(0.07, 1.1, 2.0, -0.05), rel=1e-12)
    # the 3-gon is the 3-simplex, the 4-gon is an antipodal pair (its other partners are exact zeros)
    assert np.allclose(np.sort(kgon_partners(3)), simplex_partners(3))
    assert group_row_loss(0.1, 1.0, -0.01, kgon_partners(4)).loss == pytest.approx(antipodal_loss(0.1, 1.0, -0.01), rel=1e-12)
    # bias below -(a + sum of positive partners): never fires, loss p/3
    assert group_row_loss(0.2, 1.0, -3.0, kgon_partners(6)).loss == pytest.approx(0.2 / 3, rel=1e-12)


def test_grams_are_tight_frames_of_the_stated_rank():
    for k in (3, 5, 6, 8):
        assert np.linalg.matrix_rank(kgon_gram(k)) == 2
    for k in (3, 5, 9):
        assert np.linalg.matrix_rank(simplex_gram(k)) == k - 1
    for frame in harmonic_frames():
        G = harmonic_gram(frame.k, frame.frequencies)
        assert np.allclose(np.diag(G), 1.0)
        assert np.linalg.matrix_rank(G, tol=1e-9) == frame.d
        # tight: G is (k/d) times a projection, so G^2 = (k/d) G
        assert np.allclose(G @ G, frame.k / frame.d * G, atol=1e-12)


def _block(gram: np.ndarray, groups: int, a: float) -> np.ndarray:
    return np.kron(np.eye(groups), a * gram)


@pytest.mark.parametrize("name,gram,p,a,bias", [
    ("5-gon", kgon_gram(5), 0.2, 1.05, -0.2),
    ("6-gon", kgon_gram(6), 0.1, 1.3, -0.4),
    ("4-simplex", simplex_gram(4), 0.3, 1.05, 0.02),
    ("8-frame{1,2,4}", harmonic_gram(8, (1, 2, 4)), 0.15, 1.1, -0.1),
])
def test_group_loss_against_a_simulated_block_matrix(name, gram, p, a, bias):
    # the finite block-diagonal W of the groups, Monte Carlo on fresh data, 3 standard errors
    groups = 48 // gram.shape[0]
    W = _block(gram, groups, a)
    estimate = monte_carlo_loss(W, np.full(W.shape[0], bias), p, samples=60_000, seed=11)
    exact = group_row_loss(p, a, bias, gram[0, 1:]).loss
    assert abs(estimate.loss - exact) < 3 * estimate.standard_error, name


def test_rounding_bound_is_small_and_bad_input():
    result = group_row_loss(0.3, 1.0, 0.2, simplex_partners(12))
    assert result.rounding < 1e-9 * result.loss
    with pytest.raises(ParameterError, match="a > 0"):
        group_row_loss(0.1, 0.0, 0.0, [-1.0])
    with pytest.raises(ParameterError, match="feature_probability"):
        group_row_loss(1.5, 1.0, 0.0, [-1.0])
