"""The exact finite-n loss of given weights (issue 5, begun): analytic cases and Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest

from rugtheory.errors import ParameterError
from rugtheory.measure import monte_carlo_loss
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
        assert abs(result.loss - p * p / 6) <= result.error_bound + 1e-15


def test_row_function_against_quadrature():
    from scipy import integrate

    for a, bias, v in ((1.2, -0.1, 0.05), (-0.5, 0.3, 0.1), (0.0, 0.2, -0.1), (0.9, -0.5, 0.2)):
        kink = [-(v + bias) / a] if a and 0 < -(v + bias) / a < 1 else None
        active = integrate.quad(lambda u, a=a, m=v + bias: (max(a * u + m, 0.0) - u) ** 2, 0, 1, points=kink)[0]
        expected = 0.7 * max(v + bias, 0.0) ** 2 + 0.3 * active
        assert float(row_function(np.array([v]), a, bias, 0.3)[0]) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def _random(n: int, seed: int):
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, 1.0 / np.sqrt(n), (n, n))
    np.fill_diagonal(W, 1.0)
    return W, np.full(n, -0.1)


@pytest.mark.parametrize("name", ["random", "rug"])
def test_against_monte_carlo(name):
    p = 0.05
    if name == "random":
        W, b = _random(48, 0)
    else:
        rug = rug_model(64, 0.5, p, seed=0)
        W, b = rug.W, rug.b
    exact = exact_loss(W, b, p)
    sampled = monte_carlo_loss(W, b, p, samples=100_000, seed=4)
    # sampling noise dominates: 3 SE, plus the (much smaller) truncation bound
    assert abs(exact.loss - sampled.loss) < 3 * sampled.standard_error + exact.error_bound


def test_trained_model_against_monte_carlo():
    from rugtheory.harness import TrainConfig, train

    result = train(TrainConfig(n_features=32, n_hidden=16, feature_probability=0.1, seed=2, steps=400),
                   device="cpu", progress=False)
    exact = exact_loss(result.W[0], result.b[0], 0.1)
    sampled = monte_carlo_loss(result.W[0], result.b[0], 0.1, samples=100_000, seed=6)
    assert abs(exact.loss - sampled.loss) < 3 * sampled.standard_error + exact.error_bound


def test_row_subsample_has_a_standard_error():
    W, b = _random(40, 1)
    full = exact_loss(W, b, 0.1)
    part = exact_loss(W, b, 0.1, rows=20, seed=3)
    assert part.rows == 20 and part.standard_error > 0
    assert abs(part.loss - full.loss) < 4 * part.standard_error


def test_bad_input():
    with pytest.raises(ParameterError, match="feature_probability"):
        exact_loss(np.zeros((4, 4)), np.zeros(4), 1.2)
    with pytest.raises(ParameterError, match="square"):
        exact_loss(np.zeros((4, 3)), np.zeros(4), 0.1)
    with pytest.raises(ParameterError, match="rows"):
        exact_loss(np.zeros((4, 4)), np.zeros(4), 0.1, rows=9)
