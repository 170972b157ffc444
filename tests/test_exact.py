"""The exact finite-n loss of given weights (issue 5): analytic cases, its parts, an independent
quadrature, Monte Carlo, and the honesty of the reported error bound (derivations/13)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rugtheory.errors import ParameterError
from rugtheory.measure import monte_carlo_loss
from rugtheory.numeric import exact as ex
from rugtheory.numeric.exact import exact_loss, row_function
from rugtheory.weights.rug_model import rug_model


def test_zero_weights_give_p_over_three():
    result = exact_loss(np.zeros((6, 6)), np.zeros(6), 0.2)
    assert abs(result.loss - 0.2 / 3) <= result.error_bound + 1e-15


def test_antipodal_pairs_give_p_squared_over_six():
    W = np.zeros((8, 8))
    for i in range(0, 8, 2):
        W[i, i] = W[i + 1, i + 1] = 1.0
        W[i, i + 1] = W[i + 1, i] = -1.0
    for p in (0.05, 0.3):
        result = exact_loss(W, np.zeros(8), p)
        assert result.error_bound < 1e-6 * p / 3
        assert abs(result.loss - p * p / 6) <= result.error_bound + 1e-15


def test_row_function_against_quadrature():
    from scipy import integrate

    for a, bias, v in ((1.2, -0.1, 0.05), (-0.5, 0.3, 0.1), (0.0, 0.2, -0.1), (0.9, -0.5, 0.2)):
        kink = [-(v + bias) / a] if a and 0 < -(v + bias) / a < 1 else None
        active = integrate.quad(lambda u, a=a, m=v + bias: (max(a * u + m, 0.0) - u) ** 2, 0, 1, points=kink)[0]
        expected = 0.7 * max(v + bias, 0.0) ** 2 + 0.3 * active
        assert float(row_function(np.array([v]), a, bias, 0.3)[0]) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("a", [1.3, 0.4, 1e-3, 0.0, -0.6])
def test_pieces_are_the_row_function_and_its_derivatives(a):
    """The piecewise cubic (h, h', h'', h''') against row_function and central differences, off the breakpoints."""
    p, step = 0.2, 1e-4
    m = np.linspace(-2.0, 2.0, 801) + 1.234e-3
    m = m[np.min(np.abs(m[:, None] - np.array([0.0, -a])[None, :]), axis=1) > 4 * step]
    A = np.full_like(m, a)
    pieces = ex._pieces(m, A, p, right=True)
    assert np.max(np.abs(pieces[:, 0] - row_function(m, a, 0.0, p))) < 1e-14
    for order in (1, 2, 3):
        above = ex._pieces(m + step, A, p, right=True)[:, order - 1]
        below = ex._pieces(m - step, A, p, right=True)[:, order - 1]
        difference = (above - below) / (2 * step)
        # central difference error: step^2/6 |h^{(order+2)}| (h is cubic on each piece) plus rounding
        scale = 1 + np.abs(pieces[:, order])
        assert np.max(np.abs(difference - pieces[:, order]) / scale) < 1e-6 * (1 + 1 / max(abs(a), 1e-3) ** 2)


def test_series_coefficients_are_the_cumulants_and_obey_the_cauchy_bound():
    p = 0.07
    c, radius, cap = ex._series(p)
    mean, second, third = p / 2, p / 3, p / 4  # E x, E x^2, E x^3 (THEORY.md, "Data")
    assert c[1] == pytest.approx(mean, rel=1e-14)
    assert c[2] == pytest.approx((second - mean**2) / 2, rel=1e-14)
    assert c[3] == pytest.approx((third - 3 * mean * second + 2 * mean**3) / 6, rel=1e-13)
    q = np.arange(1, ex.ORDER + 1)
    assert np.all(np.abs(c[1:]) <= cap / radius**q)
    assert p * (math.expm1(radius) - radius) / radius == pytest.approx(ex.DISK, rel=1e-9)


def test_large_weight_characteristic_function_and_envelope():
    p = 0.3
    rng = np.random.default_rng(5)
    big = rng.normal(0, 1, (3, 70))
    big[:, 60:] = 0.0  # padding
    t1 = np.array([0.7, 1.3, 2.1])
    got = ex._log_phi_large(big, t1, 40, p)
    k = np.arange(1, 41)
    s = t1[:, None, None] * k[None, :, None] * big[:, None, :]
    safe = np.where(s == 0, 1.0, s)
    psi = np.where(s == 0, 1.0, 1 - p + p * (np.exp(1j * safe) - 1) / (1j * safe))
    expected = np.log(psi).sum(axis=2)
    assert np.max(np.abs(np.exp(got) - np.exp(expected))) < 1e-12
    # the envelope is >= sup_{s' >= s} |psi(s')| (checked on a fine grid) and equals |psi| up to STAR
    grid = np.linspace(0, 60, 60001)[1:]
    modulus = np.abs(1 - p + p * (np.exp(1j * grid) - 1) / (1j * grid))
    running = np.maximum.accumulate(modulus[::-1])[::-1]
    envelope = np.exp(ex._log_envelope(grid, p))
    assert np.all(envelope >= running * (1 - 1e-12))
    inside = grid <= ex.STAR
    assert np.max(np.abs(envelope[inside] - modulus[inside])) < 1e-14


def _quadrature_row(a: float, bias: float, weights: list[float], p: float) -> tuple[float, float]:
    """E h(sum_j w_j x_j) by summing over which of the few features are on, each a scipy cubature.

    Every level of the nested quadrature is told where h's kinks (v + bias in {0, -a}) can fall.
    """
    from itertools import combinations

    from scipy import integrate

    def h(v):
        return float(row_function(np.array([v]), a, bias, p)[0])

    kinks = np.array([-bias, -bias - a])

    def opts(level: int, subset: tuple[float, ...]):
        inner = subset[:level]  # nquad's first variable is the innermost

        def options(*outer):
            offset = sum(w * u for w, u in zip(subset[level + 1:], outer, strict=True))
            shifts = [sum(c) for size in range(len(inner) + 1) for c in combinations(inner, size)]
            points = [(k - offset - shift) / subset[level] for k in kinks for shift in shifts]
            chosen = {"epsabs": 1e-13, "epsrel": 1e-11, "limit": 200}
            inside = sorted({x for x in points if 0 < x < 1})
            return dict(chosen, points=inside) if inside else chosen

        return options

    total, error = 0.0, 0.0
    count = len(weights)
    for size in range(count + 1):
        for subset in combinations(weights, size):
            mass = p**size * (1 - p) ** (count - size)
            if size == 0:
                value, err = h(0.0), 0.0
            else:
                value, err = integrate.nquad(lambda *u, s=subset: h(float(np.dot(s, u))), [[0, 1]] * size,
                                             opts=[opts(level, subset) for level in range(size)])
            total += mass * value
            error += mass * err
    return total, error


@pytest.mark.parametrize("a, bias, weights, p", [(0.8, -0.15, [0.6, -0.4], 0.3), (1.1, -0.05, [0.5, 0.3, -0.7], 0.2)])
def test_few_active_features_against_quadrature(a, bias, weights, p):
    """A circulant W: every row has the same few off-diagonal weights, so the loss is one row's E h(nu)."""
    n = len(weights) + 1
    W = np.zeros((n, n))
    for i in range(n):
        W[i, i] = a
        for j, value in enumerate(weights):
            W[i, (i + 1 + j) % n] = value
    result = exact_loss(W, np.full(n, bias), p)
    expected, quad_error = _quadrature_row(a, bias, weights, p)
    assert result.error_bound < 1e-6 * p / 3
    assert abs(result.loss - expected) <= result.error_bound + quad_error + 1e-12


def test_error_bound_is_honest_against_a_tighter_run():
    """The default run and a run 1000x tighter differ by less than the sum of their bounds."""
    rug = rug_model(64, 0.5, 0.05, seed=1)
    loose = exact_loss(rug.W, rug.b, 0.05, rtol=1e-5)
    tight = exact_loss(rug.W, rug.b, 0.05, rtol=1e-8)
    assert tight.error_bound < 1e-8 * 0.05 / 3 < loose.error_bound
    assert abs(loose.loss - tight.loss) <= loose.error_bound + tight.error_bound


def _random(n: int, seed: int):
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, 1.0 / np.sqrt(n), (n, n))
    np.fill_diagonal(W, 1.0)
    return W, np.full(n, -0.1)


@pytest.mark.parametrize("name", ["random", "rug", "rug256"])
def test_against_monte_carlo(name):
    p = 0.05
    if name == "random":
        W, b = _random(48, 0)
    elif name == "rug":
        rug = rug_model(64, 0.5, p, seed=0)
        W, b = rug.W, rug.b
    else:  # 256 features, Gaussian-like interference: the fast regime
        rug = rug_model(256, 0.25, p, seed=3)
        W, b = rug.W, rug.b
    exact = exact_loss(W, b, p, rtol=1e-5)
    sampled = monte_carlo_loss(W, b, p, samples=100_000, seed=4)
    # sampling noise dominates: 3 SE, plus the (much smaller) rigorous bound
    assert exact.error_bound < 0.01 * sampled.standard_error
    assert abs(exact.loss - sampled.loss) < 3 * sampled.standard_error + exact.error_bound


def test_trained_model_against_monte_carlo():
    pytest.importorskip("torch", reason="training needs the torch extra: pip install 'rugtheory[torch]'")
    from rugtheory.harness import TrainConfig, train

    result = train(TrainConfig(n_features=32, n_hidden=16, feature_probability=0.1, seed=2, steps=400),
                   device="cpu", progress=False)
    exact = exact_loss(result.W[0], result.b[0], 0.1, rtol=1e-5)
    sampled = monte_carlo_loss(result.W[0], result.b[0], 0.1, samples=100_000, seed=6)
    assert exact.error_bound < 0.01 * sampled.standard_error
    assert abs(exact.loss - sampled.loss) < 3 * sampled.standard_error + exact.error_bound


def test_row_subsample_has_a_standard_error():
    W, b = _random(40, 1)
    full = exact_loss(W, b, 0.1, rtol=1e-5)
    part = exact_loss(W, b, 0.1, rows=20, seed=3, rtol=1e-5)
    assert part.rows == 20 and part.standard_error > 0
    assert abs(part.loss - full.loss) < 4 * part.standard_error + part.error_bound + full.error_bound


def test_bad_input():
    with pytest.raises(ParameterError, match="feature_probability"):
        exact_loss(np.zeros((4, 4)), np.zeros(4), 1.2)
    with pytest.raises(ParameterError, match="feature_probability"):
        exact_loss(np.zeros((4, 4)), np.zeros(4), float("nan"))
    with pytest.raises(ParameterError, match="square"):
        exact_loss(np.zeros((4, 3)), np.zeros(4), 0.1)
    with pytest.raises(ParameterError, match="finite"):
        exact_loss(np.full((4, 4), np.nan), np.zeros(4), 0.1)
    with pytest.raises(ParameterError, match="length n"):
        exact_loss(np.zeros((4, 4)), np.zeros(3), 0.1)
    for rows in (0, 9, 2.5):
        with pytest.raises(ParameterError, match="rows"):
            exact_loss(np.zeros((4, 4)), np.zeros(4), 0.1, rows=rows)
    with pytest.raises(ParameterError, match="rtol"):
        exact_loss(np.zeros((4, 4)), np.zeros(4), 0.1, rtol=0.0)
