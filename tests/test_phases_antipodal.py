"""Antipodal pairs (issue 5, first phase): the sympy loss against quadrature and a simulated network."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from scipy import integrate

from rugtheory.errors import ParameterError
from rugtheory.measure import monte_carlo_loss
from rugtheory.phases import antipodal_loss, antipodal_optimum
from rugtheory.symbolic.data import p as p_sym
from rugtheory.symbolic.phases import a as a_sym
from rugtheory.symbolic.phases import antipodal_loss as antipodal_form
from rugtheory.symbolic.phases import t as t_sym


def test_unit_pair_is_p_squared_over_six():
    # THEORY.md, "Checks": a = 1, b = 0 gives p^2/6 per feature, exactly
    assert sp.simplify(antipodal_form().loss.subs({a_sym: 1, t_sym: 0}) - p_sym**2 / 6) == 0


def _definition(p, a, bias):
    """E[(ReLU(a (x_i - x_j) + bias) - x_i)^2] over the four activity cases, by scipy quadrature."""
    relu = lambda z: max(z, 0.0)
    silent = relu(bias) ** 2
    alone = integrate.quad(lambda u: (relu(a * u + bias) - u) ** 2, 0, 1, points=[-bias / a], epsabs=1e-14)[0]
    partner = integrate.quad(lambda w: relu(-a * w + bias) ** 2, 0, 1, epsabs=1e-14)[0]

    def inner(u):  # the kink of the ReLU is at w = u + bias/a
        kink = u + bias / a
        points = [kink] if 0 < kink < 1 else None
        return integrate.quad(lambda w: (relu(a * (u - w) + bias) - u) ** 2, 0, 1, points=points, epsabs=1e-15)[0]

    both = integrate.quad(inner, 0, 1, points=[-bias / a] if bias < 0 else None, epsabs=1e-14)[0]
    return (1 - p) ** 2 * silent + p * (1 - p) * (alone + partner) + p * p * both


@pytest.mark.parametrize("p,a,bias", [(0.1, 1.0, 0.0), (0.05, 1.3, -0.2), (0.3, 0.8, -0.05), (0.01, 1.01, -0.9)])
def test_loss_against_quadrature_of_the_definition(p, a, bias):
    # nested quad split at the kinks, epsabs 1e-14 on integrals of size ~0.1: 1e-9 relative covers it
    assert antipodal_loss(p, a, bias) == pytest.approx(_definition(p, a, bias), rel=1e-9)


def _pair_matrix(n: int, a: float) -> np.ndarray:
    W = np.zeros((n, n))
    for i in range(0, n, 2):
        W[i, i] = W[i + 1, i + 1] = a
        W[i, i + 1] = W[i + 1, i] = -a
    return W


@pytest.mark.parametrize("p,a,bias", [(0.1, 1.05, -0.02), (0.3, 0.9, -0.1)])
def test_loss_against_a_simulated_network(p, a, bias):
    # a real rank-n/2 weight matrix of antipodal pairs, measured by Monte Carlo on fresh data
    estimate = monte_carlo_loss(_pair_matrix(64, a), np.full(64, bias), p, samples=40_000, seed=3)
    assert abs(estimate.loss - antipodal_loss(p, a, bias)) < 4 * estimate.standard_error


@pytest.mark.parametrize("p", [1e-4, 0.01, 0.1, 0.4])
def test_optimum_beats_every_grid_point_and_the_unit_pair(p):
    best = antipodal_optimum(p)
    assert best.loss <= best.loss_unit_pair * (1 + 1e-12)
    grid = [antipodal_loss(p, a, -a * t) for a in np.linspace(0.5, 1.6, 45) for t in np.linspace(0, 1, 41)]
    assert best.loss <= min(grid) * (1 + 1e-12)


def test_bad_input():
    with pytest.raises(ParameterError, match="a > 0"):
        antipodal_loss(0.1, -1.0, 0.0)
    with pytest.raises(ParameterError, match="feature_probability"):
        antipodal_optimum(1e-9)


def _row_definition(p, a, c, bias):
    """One pair row E[(ReLU(a x_i - c x_j + bias) - x_i)^2] by nested quadrature split at the kinks."""
    relu = lambda z: max(z, 0.0)
    alone = integrate.quad(lambda u: (relu(a * u + bias) - u) ** 2, 0, 1, points=[-bias / a], epsabs=1e-15)[0]

    def inner(u):
        kink = (a * u + bias) / c
        points = [kink] if 0 < kink < 1 else None
        return integrate.quad(lambda w: (relu(a * u - c * w + bias) - u) ** 2, 0, 1, points=points, epsabs=1e-15)[0]

    kinks = [x for x in (-bias / a, (c - bias) / a) if 0 < x < 1]
    both = integrate.quad(inner, 0, 1, points=kinks or None, epsabs=1e-14, limit=200)[0]
    return (1 - p) ** 2 * relu(bias) ** 2 + p * (1 - p) * alone + p * p * both


@pytest.mark.parametrize("p,a,c,bias", [
    (0.1, 1.0, 0.33, 0.0), (0.1, 1.0, 3.0, 0.0), (0.2, 1.2, 0.5, -0.3), (0.05, 0.9, 1.7, -0.1), (0.3, 1.0, 1.0, -0.2),
])
def test_pair_row_against_quadrature(p, a, c, bias):
    from rugtheory.phases import pair_row

    assert pair_row(p, a, c, bias) == pytest.approx(_row_definition(p, a, c, bias), rel=1e-9)


def test_pair_row_with_equal_weights_is_the_antipodal_pair():
    from rugtheory.phases import pair_loss

    assert pair_loss(0.07, 1.1, 1.1, 1.1, -0.05, -0.05) == pytest.approx(antipodal_loss(0.07, 1.1, -0.05), rel=1e-13)


def test_asymmetric_pair_against_a_simulated_network():
    from rugtheory.phases import pair_loss

    p, a1, a2, c1, b1, b2 = 0.2, 1.02, 0.98, 0.4, -0.01, -0.03
    c2 = a1 * a2 / c1
    W = np.zeros((64, 64))
    for i in range(0, 64, 2):
        W[i, i], W[i, i + 1], W[i + 1, i], W[i + 1, i + 1] = a1, -c1, -c2, a2
    assert np.linalg.matrix_rank(W) == 32
    estimate = monte_carlo_loss(W, np.tile([b1, b2], 32), p, samples=40_000, seed=5)
    assert abs(estimate.loss - pair_loss(p, a1, a2, c1, b1, b2)) < 4 * estimate.standard_error


@pytest.mark.parametrize("p", [0.01, 0.1])
def test_best_rank_one_pair_is_asymmetric_and_beats_the_antipodal_pair(p):
    from rugtheory.phases import pair_loss, pair_optimum

    best = pair_optimum(p)
    assert best.loss < 0.95 * antipodal_optimum(p).loss
    assert max(best.c1, best.c2) / min(best.c1, best.c2) > 4
    scan = [pair_loss(p, 1.0, 1.0, c, 0.0, 0.0) for c in np.geomspace(0.05, 20, 200)]
    assert best.loss <= min(scan) * (1 + 1e-12)
