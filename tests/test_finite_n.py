"""Finite-n corrections for the Hadamard rug (derivations/14_finite_n.md).

Three kinds of checks: the derived expansion terms against independent numerics (mpmath Taylor
series, Gaussian quadrature of the Stein identity, the closed-form derivative); the exact loss
against a direct quadrature (n = 2), the general ``numeric.exact.exact_loss`` and Monte Carlo
(tolerance 3 standard errors plus the stated bound); and the expansion against the exact loss.
"""

from __future__ import annotations

import itertools
import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from scipy import integrate

from rugtheory.errors import ParameterError
from rugtheory.finite import (
    data_cumulants,
    edgeworth_correction,
    finite_n,
    loss_derivative,
    required_n,
    row_function,
    rug_exact_loss,
    rug_interference,
)
from rugtheory.finite.edgeworth import terms
from rugtheory.measure import monte_carlo_loss
from rugtheory.numeric.exact import exact_loss
from rugtheory.optimum import solve
from rugtheory.symbolic import finite_n as symbolic
from rugtheory.symbolic.data import p as p_sym
from rugtheory.symbolic.gaussian import sigma as sigma_sym
from rugtheory.symbolic.meanfield import a as a_sym
from rugtheory.symbolic.meanfield import beta as beta_sym
from rugtheory.weights import rug_matrix

MP_FUNCTIONS = [{"Phi": mp.ncdf, "phi": mp.npdf}, "mpmath"]
POINTS = [(0.01, 1.2, 0.07, -0.15), (0.3, 0.8, 0.25, -0.3), (0.001, 1.05, 0.02, -0.06)]


def _rug(n: int, r: float, p: float, seed: int = 0):
    """W and b of the rug at the mean-field optimum (b = beta - mu), by the general construction."""
    optimum = solve(p, round(r * n) / n)
    W = optimum.a * rug_matrix(n, r, seed=seed)
    b = optimum.bias - 0.5 * p * (W.sum(axis=1) - W.diagonal())
    return W, b, optimum


# --- the derived terms -------------------------------------------------------------------------


@pytest.mark.parametrize("p", [1e-3, 0.2, 0.9])
def test_data_cumulants_match_the_taylor_series_of_the_log_mgf(p):
    with mp.workdps(40):
        P = mp.mpf(p)
        series = mp.taylor(lambda s: mp.log(1 - P + P * mp.expm1(s) / s) if s != 0 else mp.mpf(0), 0, 8)
        reference = [float(series[k] * mp.factorial(k)) for k in range(1, 9)]
    assert data_cumulants(p, 8) == pytest.approx(reference, rel=1e-12, abs=0)


def test_edgeworth_terms_reproduce_the_cumulant_exponential():
    """For l = e^{theta beta}, D^k l = theta^k l, so l + E_1 + ... + E_J must match
    exp(sum_k kappa_k theta^k / k!) up to O(eps^(J+1)) when kappa_k = c_k eps^(k-2)."""
    c = {k: (-1.3) ** k / (k - 1.5) for k in range(3, 8)}
    theta = 0.7
    for order in (1, 2, 3, 4):
        errors = []
        for eps in (0.02, 0.01):
            kappa = {k: c[k] * eps ** (k - 2) for k in c}
            truth = math.exp(sum(kappa[k] * theta**k / math.factorial(k) for k in range(3, order + 3)))
            series = 1.0 + sum(coefficient * math.prod(kappa[k] ** e for k, e in powers) * theta**derivative
                               for j, coefficient, powers, derivative in terms(order))
            errors.append(abs(series - truth))
        assert errors[0] / errors[1] == pytest.approx(2.0 ** (order + 1), rel=0.15)


def test_row_function_is_the_derived_pieces():
    pieces = symbolic.row_pieces()
    rng = np.random.default_rng(3)
    for _ in range(20):
        a, p, m = rng.uniform(0.3, 2.0), rng.uniform(1e-3, 0.9), rng.uniform(-2.5, 1.0)
        key = "on" if m >= 0 else ("partial" if m > -a else "off")
        reference = float(pieces[key].subs({a_sym: a, p_sym: p, symbolic.v: m}))
        assert row_function(np.array([m]), a, p)[0] == pytest.approx(reference, rel=1e-13, abs=1e-16)


def test_jumps_are_those_used_numerically():
    jumps = symbolic.jumps()
    assert all(jumps[point, j] == 0 for point in ("0", "-a") for j in (0, 1))  # F is C^1
    assert sp.simplify(jumps["0", 2] - 2 * (1 - p_sym)) == 0
    assert sp.simplify(jumps["-a", 2] + 2 * p_sym / a_sym) == 0
    c = (a_sym + 1) / a_sym**2
    assert sp.simplify(jumps["0", 3] + 2 * p_sym * c) == 0 and sp.simplify(jumps["-a", 3] - 2 * p_sym * c) == 0


@pytest.mark.parametrize("k", [3, 4, 5, 6])
def test_loss_derivative_matches_the_closed_form_derivative(k):
    direct = sp.lambdify((p_sym, a_sym, sigma_sym, beta_sym), symbolic.loss_derivative_direct(k), MP_FUNCTIONS)
    jumps = sp.lambdify((p_sym, a_sym, sigma_sym, beta_sym), symbolic.loss_derivative(k), MP_FUNCTIONS)
    with mp.workdps(40):
        for point in POINTS:
            args = [mp.mpf(x) for x in point]
            reference = direct(*args)
            assert abs(jumps(*args) - reference) <= mp.mpf(10) ** -30 * abs(reference)
            assert loss_derivative(k, *point) == pytest.approx(float(reference), rel=1e-11)


@pytest.mark.parametrize("k", [3, 4, 5])
def test_loss_derivative_by_the_stein_identity(k):
    """D^k l = sigma^-k E[F(beta + sigma Z) He_k(Z)], integrated by quadrature (independent of the jumps)."""
    p, a, sigma, beta = POINTS[0]
    he = np.polynomial.hermite_e.HermiteE.basis(k)

    def integrand(z: float) -> float:
        return float(row_function(np.array([beta + sigma * z]), a, p)[0] * he(z)) * math.exp(-z * z / 2)

    kinks = sorted([-beta / sigma, (-a - beta) / sigma])
    edges = [-40.0, *kinks, 40.0]
    value = sum(integrate.quad(integrand, lo, hi, epsabs=0, epsrel=1e-11, limit=200)[0]
                for lo, hi in itertools.pairwise(edges))
    value /= math.sqrt(2 * math.pi) * sigma**k
    assert loss_derivative(k, p, a, sigma, beta) == pytest.approx(value, rel=1e-7)


# --- the exact loss ----------------------------------------------------------------------------


def test_every_row_of_the_rug_has_the_same_weights_and_bias():
    W, b, _ = _rug(64, 0.5, 0.05, seed=3)
    off = np.array([np.sort(np.delete(W[i], i)) for i in range(64)])
    assert np.array_equal(off, np.broadcast_to(off[0], off.shape))
    assert np.ptp(b) <= 1e-15
    xi = rug_interference(64, 0.5, 0.05, seed=3)
    expanded = np.sort(np.repeat(xi.values, xi.counts.astype(int)))
    assert np.allclose(expanded * W[0, 0], off[0], rtol=0, atol=1e-15)


def test_n_equals_2_against_direct_quadrature():
    """n = 2, m = 1: nu = a s x_j with one sign s, so the loss is (1-p) F(b) + p int_0^1 F(b + a s u) du."""
    p = 0.2
    W, b, _ = _rug(2, 0.5, p)
    a, w, bias = W[0, 0], W[0, 1], b[0]

    def F(v: float) -> float:
        return float(row_function(np.array([v]), a, p)[0])

    kinks = sorted(u for u in ((-bias) / w, (-a - bias) / w) if 0 < u < 1)
    edges = [0.0, *kinks, 1.0]
    active = sum(integrate.quad(lambda u: F(bias + w * u), lo, hi, epsabs=0, epsrel=1e-13)[0]
                 for lo, hi in itertools.pairwise(edges))
    reference = (1 - p) * F(bias) + p * active
    out = rug_exact_loss(p, 0.5, 2)
    assert abs(out.loss - reference) <= out.error_bound + 1e-15
    assert out.error_bound < 1e-6 * reference


@pytest.mark.parametrize(("n", "r", "p", "rows"), [(16, 0.25, 0.1, None), (32, 0.5, 0.05, 2), (64, 0.75, 0.02, 1)])
def test_exact_matches_the_general_exact_loss(n, r, p, rows):
    """Every row has the same loss (the test above), so a few rows of the general method suffice."""
    W, b, _ = _rug(n, r, p)
    general = exact_loss(W, b, p, rows=rows)
    ours = rug_exact_loss(p, r, n)
    assert abs(ours.loss - general.loss) <= ours.error_bound + general.error_bound + 1e-14


@pytest.mark.parametrize(("n", "r", "p"), [(16, 0.5, 0.1), (64, 0.25, 0.05)])
def test_exact_matches_monte_carlo_within_three_standard_errors(n, r, p):
    W, b, _ = _rug(n, r, p, seed=1)
    mc = monte_carlo_loss(W, b, p, samples=200_000, seed=7)
    ours = rug_exact_loss(p, r, n, seed=1)
    assert abs(ours.loss - mc.loss) <= 3 * mc.standard_error + ours.error_bound


def test_error_bound_is_small_where_the_interference_is_near_gaussian():
    out = rug_exact_loss(0.01, 0.5, 1 << 16)
    assert out.error_bound < 1e-7 * out.loss and out.terms < 1000


# --- re-optimisation and the expansion against the exact loss -----------------------------------


def test_reoptimised_loss_is_not_above_the_meanfield_point():
    out = finite_n(0.05, 0.5, 256)
    assert out.exact_reoptimised.loss <= out.exact_meanfield.loss
    assert out.exact_reoptimised.loss < out.exact_meanfield.loss - 10 * out.exact_meanfield.error_bound
    assert out.loss_meanfield_optimum <= out.exact_reoptimised.loss  # finite n costs here


def test_expansion_beats_the_mean_field_and_its_error_falls_faster():
    """At p = 0.01, r = 1/2 the correction falls like 1/(p n), the error of l + E_1 + E_2 like
    (p n)^(-3/2) or faster (its size fluctuates with the rows drawn, so the test spans 64x in n)."""
    p, r = 0.01, 0.5
    star = solve(p, r)
    corrections, errors = [], []
    for n in (1 << 12, 1 << 18):
        xi = rug_interference(n, r, p)
        exact = rug_exact_loss(p, r, n)
        predicted = edgeworth_correction(p, star.a, star.bias, {k: xi.power_sum(k) for k in range(2, 5)}, 2)
        corrections.append(exact.loss - star.loss)
        errors.append(abs(exact.loss - predicted.prediction(2)))
        assert errors[-1] < 0.1 * abs(corrections[-1])
        assert errors[-1] > 10 * exact.error_bound  # the error measured is not the exact loss's own
    assert 1 / 128 < corrections[1] / corrections[0] < 1 / 32  # ~ 1/64
    assert errors[1] / errors[0] < 0.25 * corrections[1] / corrections[0]


def test_required_n_is_consistent_with_its_scan():
    out = required_n(0.2, 0.5, tolerance=0.05, reoptimised=False)
    scan = {n: exact for n, exact, _, _ in out.rows}
    assert out.n_exact is not None and abs(scan[out.n_exact]) <= 0.05
    smaller = [n for n in scan if n < out.n_exact]
    assert smaller and abs(scan[max(smaller)]) > 0.05
    assert all(abs(scan[n]) <= 0.05 for n in scan if n >= out.n_exact)


@pytest.mark.parametrize(("call", "word"), [
    (lambda: rug_interference(12, 0.5, 0.1), "n_features"),
    (lambda: rug_interference(16, 0.5, 1.0), "feature_probability"),
    (lambda: rug_interference(16, float("nan"), 0.1), "ratio"),
    (lambda: required_n(0.1, 1.0), "ratio"),
    (lambda: required_n(0.1, 0.5, tolerance=2.0), "tolerance"),
    (lambda: finite_n(0.1, 0.5, 16, seed=-1), "seed"),
])
def test_bad_input_is_a_parameter_error(call, word):
    with pytest.raises(ParameterError, match=word):
        call()
