"""The high-sparsity expansion and the other limits (derivations/06, 07) against the optimum.

References are independent: the mean-field loss in its readable closed form at 30-50 digits
(``meanfield_loss_mp``), the float64 and 40-digit optima of ``solve``, and hand-typed
coefficients (below) that were derived on paper, not by the symbolic layer.
"""

from __future__ import annotations

import itertools
import json

import mpmath
import numpy as np
import pytest
import sympy as sp

from rugtheory import kappa, linear_loss, solve
from rugtheory.asymptotics import high_sparsity
from rugtheory.asymptotics.high_sparsity import lambert_threshold, threshold
from rugtheory.asymptotics.limits import (
    clipped_linear_gap,
    full_rank_coefficient,
    small_ratio_gap,
    superposition_boundary,
)
from rugtheory.cli.main import main
from rugtheory.numeric.reference import meanfield_loss_mp
from rugtheory.numeric.tails_mp import gaussian_tails_mp
from rugtheory.symbolic import asymptotics as sym
from rugtheory.symbolic.data import p as P
from rugtheory.symbolic.gaussian import sigma as S
from rugtheory.symbolic.meanfield import a as A
from rugtheory.symbolic.meanfield import beta as B

DIGITS = 40


def _mp_tail(k, s):
    return gaussian_tails_mp(s, max(int(k), 0))[int(k) + 1]


def test_split_identity_on_both_branches():
    assert sym.split_identity()


@pytest.mark.parametrize(
    "p, a, sigma, beta",
    [("0.3", "0.9", "0.4", "-0.2"), ("0.01", "1.1", "0.06", "-0.05"), ("0.5", "0.7", "0.3", "-0.9"),
     ("0.2", "0.8", "0.5", "0.3"), ("1e-12", "1.000001", "5e-7", "-2e-6")],
)
def test_reduced_loss_is_exact(p, a, sigma, beta):
    """Step 2 keeps the upper-end tails, so it equals the loss exactly (30 digits)."""
    expr = sym.reduced_loss()
    with mpmath.workdps(40):
        fn = sp.lambdify((P, A, S, B), expr, modules=[{"J": _mp_tail}, "mpmath"])
        values = [mpmath.mpf(x) for x in (p, a, sigma, beta)]
        reduced = fn(*values)
        exact = meanfield_loss_mp(*values, precision=40)
        assert abs(reduced / exact - 1) < mpmath.mpf("1e-30")


def test_kappa_expansion_matches_hand_derivation():
    """f2 and f3 as derived on paper: min over the linear fit of the active features leaves
    beta^2/4, the off features cost J_2, the active ones sigma^2."""
    e = sym.kappa_expansion()
    t, g2, g3, p = sym.t, sym.g2, sym.g3, P
    assert sp.simplify(e.f2 - ((1 - p) * g2 + 1 + t**2 / 4)) == 0
    assert sp.simplify(e.f3 - (3 * (1 - p) * g2 * t + t**3 / 12 + t - 2 * p * g3 / 3)) == 0
    assert sp.simplify(e.a_star.coeff(sym.kappa, 1) - 3 * t / 2) == 0


@pytest.mark.parametrize("p", [0.5, 1e-2, 1e-6, 1e-30])
def test_threshold_solves_its_equation(p):
    t0 = float(threshold(p))
    with mpmath.workdps(30):
        lhs = (1 - mpmath.mpf(p)) * _mp_tail(1, mpmath.mpf(t0))
        rhs = mpmath.mpf(p) * t0 / 4
        assert abs(lhs / rhs - 1) < 1e-12
        tw = mpmath.mpf(float(lambert_threshold(p)))
        assert abs(mpmath.npdf(tw) / (mpmath.mpf(p) * tw**3 / 4) - 1) < 1e-12


@pytest.mark.parametrize("r", [0.05, 0.25, 0.5, 0.75, 0.95])
@pytest.mark.parametrize("p", [1e-6, 1e-9, 1e-15, 1e-30])
def test_expansion_within_one_percent(p, r):
    """The issue's bound: within 1% of the optimum for every p <= 1e-6, r in [0.05, 0.95]."""
    optimum = solve(p, r)
    scaling = high_sparsity(p, r)
    assert abs(scaling.loss_asymptotic / optimum.loss - 1) < 0.01
    assert abs(scaling.bias / optimum.bias - 1) < 0.01
    assert abs(scaling.a_minus_one / optimum.a_minus_one - 1) < 0.01


@pytest.mark.parametrize("r", [0.05, 0.5, 0.95])
def test_expansion_error_decreases_monotonically(r):
    """Relative error against the 40-digit optimum shrinks on p = 1e-4 ... 1e-30."""
    errors = []
    for p in (1e-4, 1e-6, 1e-8, 1e-12, 1e-16, 1e-20, 1e-25, 1e-30):
        optimum = solve(p, r, precision=DIGITS)
        scaling = high_sparsity(p, r, precision=DIGITS)
        with mpmath.workdps(DIGITS):
            ratio = mpmath.mpf(scaling.decimal["loss_asymptotic"]) / mpmath.mpf(optimum.decimal["loss"])
            errors.append(abs(float(ratio - 1)))
    assert all(b < a for a, b in itertools.pairwise(errors)), errors
    assert errors[-1] < 1e-25  # O(kappa^2) relative: ~p


def test_leading_and_lambert_forms_converge_slowly():
    """The leading term is off by ~10% at p = 1e-6 (log log corrections); the Lambert form ~2%."""
    optimum = solve(1e-6, 0.5)
    scaling = high_sparsity(1e-6, 0.5)
    assert 0.05 < scaling.loss_leading / optimum.loss - 1 < 0.15
    assert 0.005 < scaling.loss_lambert / optimum.loss - 1 < 0.03
    assert high_sparsity(1e-30, 0.5).loss_lambert / solve(1e-30, 0.5).loss - 1 < 1e-3


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_full_rank_limit(p):
    """r -> 1: L* = kappa^2 Lambda(p)(1 + O(kappa)) and the two-term expansion is O(kappa^2)."""
    errors, errors2 = [], []
    for r in (0.99, 0.999, 0.9999):
        optimum = solve(p, r)
        errors.append(abs(float(kappa(p, r)) ** 2 * full_rank_coefficient(p) / optimum.loss - 1))
        errors2.append(abs(high_sparsity(p, r).loss_asymptotic / optimum.loss - 1))
    assert errors[0] > errors[1] > errors[2]
    assert errors2[0] > errors2[1] > errors2[2]
    assert errors2[2] < 1e-4


def test_small_ratio_limit_is_the_clipped_linear_model():
    """r -> 0 at p = 0.1: L_lin - L* tends to the clipping gain Delta and its explicit form."""
    p = 0.1
    to_delta, to_explicit = [], []
    for r in (0.01, 0.005, 0.003, 0.002):
        optimum = solve(p, r, precision=DIGITS)
        with mpmath.workdps(DIGITS):
            gap = float(mpmath.mpf(1) * (1 - r) * p * (4 - 3 * p) / 12 - mpmath.mpf(optimum.decimal["loss"]))
        to_delta.append(abs(gap / clipped_linear_gap(p, r) - 1))
        to_explicit.append(abs(gap / small_ratio_gap(p, r) - 1))
        assert optimum.bias > 0  # linear branch: no filtering
    assert to_delta[-1] < 0.02
    assert all(b < a for a, b in itertools.pairwise(to_explicit)), to_explicit


def test_dense_end_gain_is_the_clipping_gain():
    """p -> 1: the optimum is the clipped linear model; gain - 1 ~ Delta / L_lin."""
    p = 1 - 1e-6
    errors = []
    for r in (0.9, 0.5, 0.3):
        optimum = solve(p, r)
        assert optimum.bias > 0
        predicted = clipped_linear_gap(p, r) / float(linear_loss(p, r))
        errors.append(abs((optimum.gain - 1) / predicted - 1))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.05


@pytest.mark.parametrize("r", [0.1, 0.5, 0.9])
def test_superposition_boundary_separates_the_bias_signs(r):
    pc = superposition_boundary(r)
    assert 0 < pc < 1
    assert solve(pc * 0.99, r).bias < 0 < solve(min(pc * 1.01, 1 - 1e-9), r).bias


def test_scaling_cli_json_keys(capsys):
    assert main(["scaling", "--p", "1e-8", "--r", "0.25", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("p", "r", "loss_asymptotic", "loss_leading", "loss_numeric", "latex"):
        assert key in out
    assert abs(out["loss_asymptotic"] / out["loss_numeric"] - 1) < 1e-6
    assert out["loss_numeric"] == pytest.approx(solve(1e-8, 0.25).loss, rel=1e-12)


def test_scaling_cli_bad_input(capsys):
    assert main(["scaling", "--r", "1.5"]) == 2
    err = capsys.readouterr().err
    assert "ratio" in err and len(err.strip().splitlines()) == 1


def test_expansion_vectorised_threshold():
    ps = np.logspace(-30, -1, 20)
    assert np.allclose(threshold(ps), [float(threshold(x)) for x in ps], rtol=1e-13)
