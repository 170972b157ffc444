"""rugtheory.measure: statistics of hand-built matrices and Monte Carlo losses against exact values.

Sampled quantities are held within a few of their own standard errors; every exact value is
derived in a comment next to it (THEORY.md, "Data", "Model and loss", "Statistics", "Checks").
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import ndtr

from rugtheory import ParameterError, meanfield_loss, solve
from rugtheory.measure import (
    ModelMeasurement,
    meanfield_loss_own_stats,
    measure_model,
    monte_carlo_loss,
    row_measures,
    third_cumulant,
    weight_statistics,
)
from rugtheory.measure._sampling import draw_batch
from rugtheory.weights import rug_model

# P(sqrt(N) sup|F_N - F| > 1.95) ~ 0.001 (Kolmogorov distribution); smaller still for an F with atoms.
KOLMOGOROV_999 = 1.95


def _variance(p: float) -> float:
    return p / 3 - p**2 / 4


def test_third_cumulant_from_the_raw_moments():
    # k3 = E x^3 - 3 E x E x^2 + 2 (E x)^3 with E x = p/2, E x^2 = p/3, E x^3 = p/4 (THEORY.md, Data).
    for p in (1e-6, 0.01, 0.3, 0.5, 0.99):
        raw = p / 4 - 3 * (p / 2) * (p / 3) + 2 * (p / 2) ** 3
        assert third_cumulant(p) == pytest.approx(raw, rel=1e-12)
        assert third_cumulant(p) == pytest.approx(p / 4 - p**2 / 2 + p**3 / 4, rel=1e-12)


# Hand-built 4 x 4 matrix; row 1 has a_1 = 0 (dropped), row 3 has a_3 = 1, S_3 = 0.0025 (dedicated).
HAND_W = np.array(
    [
        [2.0, 1.0, -2.0, 0.0],
        [0.5, 0.0, 0.0, 0.0],
        [0.0, 3.0, 1.0, 0.0],
        [0.0, 0.0, 0.05, 1.0],
    ]
)
HAND_B = np.array([0.1, -0.2, 0.3, -0.4])
HAND_P = 0.2


def _hand_values():
    """Row statistics of HAND_W worked out by hand (p = 0.2: p/2 = 0.1, Var x = 0.2/3 - 0.01)."""
    diag = np.array([2.0, 0.0, 1.0, 1.0])
    power = np.array([1 + 4, 0.25, 9, 0.0025])  # squares of the off-diagonal entries
    row_sum = np.array([1 - 2, 0.5, 3, 0.05])
    cubes = np.array([1 - 8, 0.125, 27, 0.05**3])
    abs_cubes = np.array([1 + 8, 0.125, 27, 0.05**3])
    mu = 0.1 * row_sum
    var = 0.2 / 3 - 0.01
    k3 = 0.05 - 0.02 + 0.002  # p/4 - p^2/2 + p^3/4
    return {
        "diag": diag,
        "power": power,
        "mu": mu,
        "bias": HAND_B + mu,
        "sigma": np.sqrt(var * power),
        "skewness": k3 * cubes / (var * power) ** 1.5,
        "lyapunov": abs_cubes / power**1.5,  # rows 1, 2, 3 have a single term: exactly 1
    }


def test_row_measures_of_a_hand_built_matrix():
    rows = row_measures(HAND_W, HAND_B, HAND_P, ks_samples=500)
    hand = _hand_values()
    np.testing.assert_array_equal(rows.diag, hand["diag"])
    np.testing.assert_allclose(rows.offdiag_power, hand["power"], rtol=1e-14)
    np.testing.assert_allclose(rows.mu, hand["mu"], rtol=1e-14)
    np.testing.assert_allclose(rows.bias, hand["bias"], rtol=1e-14)
    np.testing.assert_allclose(rows.sigma, hand["sigma"], rtol=1e-14)
    np.testing.assert_allclose(rows.skewness, hand["skewness"], rtol=1e-12)
    np.testing.assert_allclose(rows.lyapunov, hand["lyapunov"], rtol=1e-12)
    np.testing.assert_allclose(rows.lyapunov[0], 9 / 5**1.5, rtol=1e-14)


def test_weight_statistics_summary_of_a_hand_built_matrix():
    stats = weight_statistics(HAND_W, HAND_B, HAND_P, r=0.5, ks_samples=500)
    hand = _hand_values()
    assert stats.n == 4 and stats.p == HAND_P and stats.r == 0.5
    assert stats.diag_mean == 1.0 and stats.diag_std == pytest.approx(math.sqrt(0.5), rel=1e-14)
    assert stats.offdiag_power_mean == pytest.approx(14.2525 / 4, rel=1e-14)
    # mean S / mean a^2 = (14.2525 / 4) / ((4 + 0 + 1 + 1) / 4); the rank bound at r = 1/2 is 1.
    assert stats.offdiag_power_over_diag_square == pytest.approx(14.2525 / 6, rel=1e-14)
    assert stats.rank_bound == 1.0 and stats.rank_bound_ratio == pytest.approx(14.2525 / 6, rel=1e-14)
    assert stats.b_mean == pytest.approx(-0.05, rel=1e-14)
    assert stats.mu_mean == pytest.approx(0.1 * 2.55 / 4, rel=1e-14)
    assert stats.bias_mean == pytest.approx(-0.05 + 0.06375, rel=1e-12)
    assert stats.bias_std == pytest.approx(float(np.std(hand["bias"])), rel=1e-12)
    assert stats.skewness_mean == pytest.approx(float(np.mean(hand["skewness"])), rel=1e-12)
    assert stats.skewness_max_abs == pytest.approx(float(np.max(np.abs(hand["skewness"]))), rel=1e-12)
    assert stats.lyapunov_max == pytest.approx(1.0, rel=1e-12)
    assert stats.dropped_fraction == 0.25 and stats.dedicated_fraction == 0.25
    assert stats.ks_samples == 500 and stats.ks_noise_floor == pytest.approx(0.8687 / math.sqrt(500), rel=1e-4)
    payload = stats.to_dict()
    assert all(isinstance(value, (int, float)) or value is None for value in payload.values())
    assert weight_statistics(HAND_W, HAND_B, HAND_P).rank_bound is None


def _exact_ks_single_term(w: float, p: float) -> float:
    """sup_t |F(t) - Phi((t - mu)/sigma)| for nu = w x, w > 0: an atom 1 - p at 0 plus p U[0, w].

    F is piecewise linear and Phi smooth, so a fine grid plus both one-sided limits at the atom
    finds the supremum (the grid spacing bounds the error by ~1e-6).
    """
    mu, sigma = w * p / 2, w * math.sqrt(_variance(p))
    t = np.linspace(mu - 12 * sigma, mu + 12 * sigma, 2_000_001)
    cdf = np.where(t < 0, 0.0, (1 - p) + p * np.clip(t / w, 0.0, 1.0))
    gauss = ndtr((t - mu) / sigma)
    at_atom = ndtr((0.0 - mu) / sigma)
    return float(max(np.abs(cdf - gauss).max(), at_atom, abs(1 - p - at_atom)))


def test_ks_distance_of_single_term_rows_against_the_exact_value():
    samples = 20_000
    rows = row_measures(HAND_W, HAND_B, HAND_P, ks_samples=samples, seed=3)
    tolerance = KOLMOGOROV_999 / math.sqrt(samples)  # |D_N - D| <= sup |F_N - F|
    for row, w in ((1, 0.5), (3, 0.05)):  # nu_1 = 0.5 x_0, nu_3 = 0.05 x_2
        assert abs(rows.ks[row] - _exact_ks_single_term(w, HAND_P)) < tolerance


def test_ks_distance_of_a_sparse_rug_is_bounded_below_by_its_atom():
    # nu_i has an atom at 0 of mass q_i = (1 - p)^(number of nonzero W_ij, j != i); a distribution
    # with an atom q is at KS distance >= q/2 from every continuous distribution.
    model = rug_model(256, 0.5, 0.01, seed=0)
    samples = 4000
    rows = row_measures(model.W, model.b, model.p, ks_samples=samples)
    off = model.W.copy()
    np.fill_diagonal(off, 0.0)
    atom = (1 - model.p) ** (off != 0).sum(axis=1)
    assert np.all(rows.ks > atom / 2 - KOLMOGOROV_999 / math.sqrt(samples))
    assert rows.ks.mean() > 3 * 0.8687 / math.sqrt(samples)  # far above the noise floor


def test_ks_distance_of_a_near_gaussian_interference_is_near_the_noise_floor():
    # Dense rows of +-1/sqrt(n) at p = 1/2: Berry-Esseen bounds sup|F - Phi| by
    # 0.56 * sum E|w (x - Ex)|^3 / sigma^3 <= 0.56 * E|x - Ex|^3 / Var(x)^1.5 / sqrt(n - 1).
    n, p, samples = 256, 0.5, 2000
    W = np.random.default_rng(7).choice([-1.0, 1.0], size=(n, n)) / math.sqrt(n)
    rows = row_measures(W, np.zeros(n), p, ks_samples=samples)
    u = np.random.default_rng(8).random(1_000_000)
    x = np.where(u < p, np.random.default_rng(9).random(u.size), 0.0)
    third = float(np.mean(np.abs(x - p / 2) ** 3))
    berry_esseen = 0.56 * third / _variance(p) ** 1.5 / math.sqrt(n - 1)
    floor = 0.8687 / math.sqrt(samples)
    # The Kolmogorov distribution's std is 0.2603; rows share one sample, so bound the mean by one row's spread.
    assert floor * 0.5 < rows.ks.mean() < floor + 4 * 0.2603 / math.sqrt(samples) + berry_esseen


def test_exact_skewness_against_the_skewness_of_sampled_interference():
    n, p = 12, 0.2
    W = np.random.default_rng(11).normal(size=(n, n))
    W[0] = np.abs(W[0])  # one strongly skewed row
    exact = row_measures(W, np.zeros(n), p, ks_samples=100).skewness
    off = W.copy()
    np.fill_diagonal(off, 0.0)
    rng = np.random.default_rng(12)
    batches, size = 20, 20_000
    estimates = []
    for _ in range(batches):
        x = np.where(rng.random((size, n)) < p, rng.random((size, n)), 0.0)
        nu = x @ off.T
        centred = nu - nu.mean(axis=0)
        estimates.append((centred**3).mean(axis=0) / (centred**2).mean(axis=0) ** 1.5)
    estimates = np.array(estimates)
    mean = estimates.mean(axis=0)
    se = estimates.std(axis=0, ddof=1) / math.sqrt(batches)
    # The batch SE is the honest one here; sqrt(6/N) holds only for Gaussian nu, so it is a lower bound.
    assert np.all(se > 0.5 * math.sqrt(6 / (batches * size)))
    assert np.all(np.abs(mean - exact) < 4.5 * se)


def test_batch_sampling_is_the_data_distribution():
    rng = np.random.default_rng(0)
    for p in (0.01, 0.3):  # sparse and dense paths
        batch = draw_batch(rng, 20_000, 50, p)
        dense = np.zeros((20_000, 50))
        if batch.dense is not None:
            dense = batch.dense
        else:
            dense[batch.rows, batch.cols] = batch.values
        active = dense > 0
        n_total = dense.size
        assert abs(active.mean() - p) < 4 * math.sqrt(p * (1 - p) / n_total)
        values = dense[active]
        assert abs(values.mean() - 0.5) < 4 * math.sqrt(1 / 12 / values.size)
        W = np.random.default_rng(1).normal(size=(50, 7))
        np.testing.assert_allclose(batch.times(W), dense @ W, rtol=1e-12, atol=1e-12)
        index = np.array([3, 0, 41])
        np.testing.assert_array_equal(batch.columns(index), dense[:, index])


@pytest.mark.parametrize("p", [0.01, 0.3])
def test_zero_model_loses_p_over_3_with_the_exact_standard_error(p):
    n, samples = 16, 40_000
    estimate = monte_carlo_loss(np.zeros((n, n)), np.zeros(n), p, samples=samples, seed=1)
    assert abs(estimate.loss - p / 3) < 4 * estimate.standard_error
    # Per sample the loss is (1/n) sum_j x_j^2, of variance Var(x^2)/n = (p/5 - p^2/9)/n exactly.
    exact_se = math.sqrt((p / 5 - p**2 / 9) / n / samples)
    # The SE estimate's own relative error is ~ sqrt(kurtosis / N)/2 < 2% here; 10% is generous.
    assert estimate.standard_error == pytest.approx(exact_se, rel=0.1)


@pytest.mark.parametrize("p", [0.02, 0.2])
def test_antipodal_pairs_lose_p_squared_over_6(p):
    # Features 2k and 2k+1 share one hidden direction with opposite signs (THEORY.md, Checks).
    n = 8
    W = np.kron(np.eye(n // 2), np.array([[1.0, -1.0], [-1.0, 1.0]]))
    estimate = monte_carlo_loss(W, np.zeros(n), p, samples=200_000, seed=2)
    assert abs(estimate.loss - p**2 / 6) < 4 * estimate.standard_error


def _naive_loss(W, b, p, samples, seed):
    """An independent, plain implementation: dense draws, one matrix product, no chunks."""
    rng = np.random.default_rng(seed)
    n = W.shape[0]
    x = np.where(rng.random((samples, n)) < p, rng.random((samples, n)), 0.0)
    per_sample = ((np.maximum(x @ W.T + b, 0.0) - x) ** 2).mean(axis=1)
    return per_sample.mean(), per_sample.std(ddof=1) / math.sqrt(samples)


@pytest.mark.parametrize("p", [0.01, 0.2])
def test_monte_carlo_loss_agrees_with_a_naive_estimator(p):
    n = 32
    rng = np.random.default_rng(5)
    W = np.eye(n) + 0.3 * rng.normal(size=(n, n)) / math.sqrt(n)
    b = -0.05 + 0.02 * rng.normal(size=n)
    ours = monte_carlo_loss(W, b, p, samples=100_000, seed=6)
    naive, naive_se = _naive_loss(W, b, p, 100_000, seed=99)
    assert abs(ours.loss - naive) < 4 * math.hypot(ours.standard_error, naive_se)


def test_two_seeds_agree_within_their_standard_errors():
    model = rug_model(64, 0.5, 0.05, seed=0)
    first = monte_carlo_loss(model.W, model.b, model.p, samples=50_000, seed=0)
    second = monte_carlo_loss(model.W, model.b, model.p, samples=50_000, seed=1)
    assert first.loss != second.loss
    assert abs(first.loss - second.loss) < 4 * math.hypot(first.standard_error, second.standard_error)
    again = monte_carlo_loss(model.W, model.b, model.p, samples=50_000, seed=0)
    assert again == first  # deterministic given the seed


def test_meanfield_loss_from_own_statistics():
    hand = _hand_values()
    direct = meanfield_loss(HAND_P, hand["diag"], hand["sigma"], hand["bias"])  # called directly, per row
    assert meanfield_loss_own_stats(HAND_W, HAND_B, HAND_P) == pytest.approx(float(np.mean(direct)), rel=1e-13)
    # W = 0, b = 0: a = sigma = beta = 0 in every row, and l = p/3.
    assert meanfield_loss_own_stats(np.zeros((5, 5)), np.zeros(5), 0.3) == pytest.approx(0.1, rel=1e-14)


def test_measure_model_reports_the_contract():
    p, r, n = 0.05, 0.5, 8
    result = measure_model(np.zeros((n, n)), np.zeros(n), p, r, samples=20_000, seed=4, ks_samples=200)
    assert isinstance(result, ModelMeasurement)
    payload = result.to_dict()
    assert set(payload) == {
        "loss_measured", "loss_measured_se", "loss_meanfield_own_stats", "loss_meanfield_optimum",
        "loss_linear", "stats",
    }
    assert abs(payload["loss_measured"] - p / 3) < 4 * payload["loss_measured_se"]
    assert payload["loss_meanfield_own_stats"] == pytest.approx(p / 3, rel=1e-14)
    assert payload["loss_meanfield_optimum"] == solve(p, r).loss
    assert payload["loss_linear"] == pytest.approx((1 - r) * (p / 3 - p**2 / 4), rel=1e-14)
    assert payload["stats"]["dropped_fraction"] == 1.0 and payload["stats"]["r"] == r
    assert result.samples == 20_000 and result.gap == pytest.approx(payload["loss_measured"] / solve(p, r).loss - 1)


def test_default_sample_count_is_used_and_recorded():
    result = measure_model(np.eye(4), np.zeros(4), 0.5, 1.0, ks_samples=100)
    assert result.samples == 524_288  # ceil(2^20 / (n p)) = 2^19, inside [10^4, 10^6]
    assert result.loss_measured == 0.0 and result.gap is None  # W = I is exact, and L*(p, 1) = 0


BAD_INPUTS = [
    ({"W": np.zeros((3, 4))}, "W"),
    ({"W": np.zeros(4)}, "W"),
    ({"W": np.full((3, 3), np.nan)}, "W"),
    ({"b": np.zeros(4)}, "b"),
    ({"b": [0.0, np.inf, 0.0]}, "b"),
    ({"p": 0.0}, "feature_probability (p)"),
    ({"p": 1.0}, "feature_probability (p)"),
    ({"p": float("nan")}, "feature_probability (p)"),
    ({"p": [0.1, 0.2]}, "feature_probability (p)"),
    ({"r": 0.0}, "ratio (r)"),
    ({"r": 1.5}, "ratio (r)"),
    ({"samples": 5}, "samples"),
    ({"samples": 2.5e3 + 0.5}, "samples"),
    ({"seed": -1}, "seed"),
]


@pytest.mark.parametrize(("change", "name"), BAD_INPUTS)
def test_bad_input_is_a_one_line_parameter_error(change, name):
    arguments = {"W": np.eye(3), "b": np.zeros(3), "p": 0.1, "r": 0.5, "samples": 1000, "seed": 0}
    arguments.update(change)
    with pytest.raises(ParameterError) as caught:
        measure_model(**arguments)
    message = str(caught.value)
    assert "\n" not in message and name in message
    if {"W", "b", "p"} >= set(change):
        with pytest.raises(ParameterError):
            weight_statistics(arguments["W"], arguments["b"], arguments["p"])
