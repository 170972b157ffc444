"""The Bayes-optimal elementwise estimator and its loss, the MMSE bound (derivations/09_mmse.md).

Reference values: ``REFERENCE`` holds MMSE(p, kappa(p, r)) to 50 significant digits, computed by
``rugtheory.numeric.mmse_mp.mmse_mp(p, kappa(p, r), precision=50)`` (the posterior-variance
integral, a formula independent of the float64 quadrature; its Gauss-Legendre and tanh-sinh
rules agreed to 50 digits at three of these points). ``test_reference_table_regenerates``
(slow) recomputes them.
"""

from __future__ import annotations

import itertools
import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings

from rugtheory import linear_loss, solve
from rugtheory.activations import mmse
from rugtheory.activations.result import FamilyOptimum
from rugtheory.errors import ParameterError
from rugtheory.numeric.montecarlo import MonteCarloEstimate
from rugtheory.numeric.solver import kappa, variance
from rugtheory.parameters import FEATURE_PROBABILITY, RATIO

from .strategies import draws

# (p, r, MMSE to 50 digits); kappa = rugtheory.numeric.solver.kappa(p, r) in float64.
REFERENCE = [
    (1e-30, 0.5, "3.3333333333352363311077452109377463403233860843879e-61"),
    (1e-30, 0.01, "3.3000000000181132487069609497290475830802207378972e-59"),
    (1e-16, 0.5, "3.3333406981908261700481840131881189896566448225362e-33"),
    (1e-16, 0.99, "3.367004162191731489444864789336181843933445260968e-35"),
    (1e-08, 0.5, "3.3590288073124198063896369561545639073726388762706e-17"),
    (1e-08, 0.01, "3.5216560812743794938944987002684313639128136845877e-15"),
    (1e-04, 0.5, "4.2163244235835967954610907397470125024328553588731e-9"),
    (1e-04, 0.99, "3.4806112740363868310414113756682607208190406330989e-11"),
    (0.01, 0.5, "0.000062199260786810340335947384900567206488543261854067"),
    (0.05, 0.1, "0.011923703496288851564772440743432490176525382300843"),
    (0.3, 0.5, "0.028894833504170110238105345746698601577795905804467"),
    (0.5, 0.01, "0.10312058109832810691559227723010571903006653906401"),
    (0.9, 0.3, "0.067806641656578891724112099026024133150060042663705"),
    (0.999, 0.01, "0.082664732851794654983484632535043478509406787344401"),
    (0.999, 0.99, "0.00079921593592257353523805395250008788835797379128037"),
]
IDS = [f"p={p:g},r={r:g}" for p, r, _ in REFERENCE]

# The float64 quadrature sums ~1e5 positive terms, each with the posterior's own error (<= 3e-14
# relative near the switch, ~1e-16 elsewhere). Measured against 20-digit mpmath at 120 random
# (p, noise) with p in [1e-30, 0.999] and noise in [1e-16, 30] (or kappa(p, r), r in [0.01, 0.99]):
# worst 1.1e-15, median 2.6e-16; on this table the worst is 6e-16. 4e-15 leaves a factor 3.5.
QUADRATURE_RTOL = 4e-15


def _reference(p: float, r: float) -> mpmath.mpf:
    with mpmath.workdps(60):
        return mpmath.mpf(next(value for pp, rr, value in REFERENCE if (pp, rr) == (p, r)))


@pytest.mark.parametrize("p, r, value", REFERENCE, ids=IDS)
def test_quadrature_against_50_digit_reference(p, r, value):
    got = mmse.mmse_loss(p, float(kappa(p, r)))
    with mpmath.workdps(60):
        assert abs(got - mpmath.mpf(value)) <= QUADRATURE_RTOL * mpmath.mpf(value)


def test_mpmath_method_live_against_the_table():
    """The mpmath method at 20 digits reproduces the stored 50-digit value (p = 1e-8, r = 0.5)."""
    p, r = 1e-8, 0.5
    with mpmath.workdps(30):
        from rugtheory.numeric.mmse_mp import mmse_mp

        got = mmse_mp(p, float(kappa(p, r)), precision=20)
        assert abs(got - _reference(p, r)) <= mpmath.mpf("1e-20") * _reference(p, r)
    assert mmse.mmse_loss(p, float(kappa(p, r)), method="mpmath", precision=20) == pytest.approx(
        float(_reference(p, r)), rel=1e-15)


@pytest.mark.slow
@pytest.mark.parametrize("p, r, value", REFERENCE, ids=IDS)
def test_reference_table_regenerates(p, r, value):
    from rugtheory.numeric.mmse_mp import mmse_mp

    with mpmath.workdps(60):
        got = mmse_mp(p, float(kappa(p, r)), precision=50)
        assert abs(got - mpmath.mpf(value)) <= mpmath.mpf("1e-48") * mpmath.mpf(value)


@pytest.mark.slow
@pytest.mark.parametrize("p, r", [(1e-30, 0.5), (1e-4, 0.5), (0.5, 0.01)])
def test_reference_rules_agree(p, r):
    from rugtheory.numeric.mmse_mp import mmse_mp

    k = float(kappa(p, r))
    with mpmath.workdps(60):
        gl = mmse_mp(p, k, precision=40)
        ts = mmse_mp(p, k, precision=40, rule="tanh-sinh")
        assert abs(gl - ts) <= mpmath.mpf("1e-39") * gl


# (p, r, stratify). The mixture (unstratified) draw is not run at p = 1e-12: it would see no
# active feature in 2e5 draws. p = 1e-12 exercises the cancellation-free error xhat - u.
MC_CASES = [(0.3, 0.5, True), (0.01, 0.5, True), (0.5, 0.01, True), (0.9, 0.3, True), (1e-12, 0.5, True),
            (0.3, 0.5, False), (0.01, 0.5, False), (0.5, 0.01, False), (0.9, 0.3, False)]


@pytest.mark.parametrize("p, r, stratify", MC_CASES,
                         ids=[f"p={p:g},r={r:g},{'strata' if s else 'mixture'}" for p, r, s in MC_CASES])
def test_monte_carlo_within_standard_errors(p, r, stratify):
    """Sampling noise only: the estimator is unbiased, so 4.5 standard errors (two-sided
    probability 7e-6 per case; seeds fixed)."""
    k = float(kappa(p, r))
    estimate = mmse.mmse_loss_mc(p, k, samples=200_000, seed=11, stratify=stratify)
    assert isinstance(estimate, MonteCarloEstimate)
    assert estimate.standard_error > 0
    assert abs(estimate.loss - mmse.mmse_loss(p, k)) <= 4.5 * estimate.standard_error
    assert mmse.mmse_loss(p, k, method="monte_carlo", samples=200_000, seed=11) == (
        mmse.mmse_loss_mc(p, k, samples=200_000, seed=11).loss)


@settings(max_examples=25, deadline=None)
@given(p=draws(FEATURE_PROBABILITY), r=draws(RATIO, lower=0.01))
def test_bound_below_relu_and_linear(p, r):
    """Every elementwise activation on the rank-bound layer is a function of v, and the best
    linear function of v reaches exactly L_lin = (1 - r) Var x (derivations/09_mmse.md)."""
    bound = mmse.optimum(p, r).loss
    assert bound <= solve(p, r).loss * (1 + 1e-12)
    assert bound <= linear_loss(p, r) * (1 + 1e-12)
    assert bound >= 0.0


def test_no_interference_gives_zero():
    assert mmse.optimum(0.2, 1.0).loss == 0.0
    for method in mmse.METHODS:
        assert mmse.mmse_loss(0.2, 0.0, method=method) == 0.0
    assert mmse.posterior_mean(0.25, 0.2, 0.0) == 0.25


@pytest.mark.parametrize("p", [1e-20, 1e-3, 0.5])
def test_monotone_in_noise(p):
    """More noise never helps (v at noise k2 > k1 is v at k1 plus independent noise). At large
    noise the MMSE saturates at Var x (only E x = p/2 is left to guess), where successive
    values can agree to rounding; below noise 0.1 every step is resolved."""
    noise = np.geomspace(1e-6, 10.0, 8)
    losses = [mmse.mmse_loss(p, k) for k in noise]
    assert all(b >= a * (1 - 1e-15) for a, b in itertools.pairwise(losses))
    assert all(b > a for a, b, k in zip(losses, losses[1:], noise[1:]) if k <= 0.1)
    assert losses[-1] <= variance(p) * (1 + 1e-15)


def test_optimum_is_a_family_optimum():
    result = mmse.optimum(0.01, 0.5)
    assert isinstance(result, FamilyOptimum) and result.family == mmse.NAME == "mmse"
    assert result.parameters["noise"] == pytest.approx(float(kappa(0.01, 0.5)), rel=1e-15)
    assert result.loss == pytest.approx(float(_reference(0.01, 0.5)), rel=QUADRATURE_RTOL)
    from rugtheory.activations.compare import family_optimum

    assert family_optimum("mmse", 0.01, 0.5) == result


def _sympy_posterior_mean():
    import sympy as sp

    from rugtheory.symbolic.data import p
    from rugtheory.symbolic.functions import Phi
    from rugtheory.symbolic.mmse import kappa as k
    from rugtheory.symbolic.mmse import posterior_moments, v

    moments = posterior_moments()
    mean = moments.first / moments.density
    namespace = [{"Phi": mpmath.ncdf, "phi": mpmath.npdf}, "mpmath"]
    # v < 0: Phi(x) = 1 - Phi(-x), expanded, so that the 1s cancel symbolically and what is
    # left are differences of small tails
    flip = lambda expr: sp.expand(expr.replace(Phi, lambda x: 1 - Phi(-x)))
    flipped = flip(moments.first) / flip(moments.density)
    return (sp.lambdify((v, k, p), mean, modules=namespace),
            sp.lambdify((v, k, p), flipped, modules=namespace))


def test_posterior_mean_against_lambdified_sympy():
    """At 300 random points over p in [1e-30, 0.999], noise in [1e-16, 30], v around 0, the
    switch and 1: relative error <= 1e-13 (measured 2.8e-14 worst over 20000 points, set by the
    conditioning of the log-odds, ~b^2 eps with b = v/noise)."""
    direct, flipped = _sympy_posterior_mean()
    rng = np.random.default_rng(3)
    worst = 0.0
    with mpmath.workdps(150):
        for _ in range(300):
            p = 10 ** rng.uniform(-30, math.log10(0.999))
            k = 10 ** rng.uniform(-16, 1.5)
            mode = rng.integers(4)
            if mode == 0:
                v = rng.uniform(-0.5, 1.5)
            elif mode == 1:
                v = k * rng.normal() * rng.choice([1, 5, 30])
            elif mode == 2:
                v = 1 + k * rng.normal() * rng.choice([1, 5, 30])
            else:
                v = k * math.sqrt(max(2 * math.log(1 / (p * k)), 1.0)) * rng.uniform(0.5, 1.5)
            fn = flipped if v < 0 else direct
            ref = fn(mpmath.mpf(v), mpmath.mpf(k), mpmath.mpf(p))
            got = mmse.posterior_mean(v, p, k)
            worst = max(worst, float(abs(got - ref) / ref))
    assert worst <= 1e-13


def test_posterior_mean_is_vectorised_and_stays_finite():
    v = np.array([-1e300, -1.0, -1e-300, 0.0, 1e-20, 0.3, 1.0, 1.0 + 1e-16, 2.0, 1e300])
    for p in (1e-30, 0.5, 0.999):
        for k in (1e-16, 1e-3, 1.0, 30.0):
            out = mmse.posterior_mean(v[:, None], p, np.array([k, 2 * k]))
            assert out.shape == (v.size, 2)
            assert np.all(np.isfinite(out)) and np.all((out >= 0) & (out <= 1))
    assert isinstance(mmse.posterior_mean(0.3, 0.1, 0.1), float)


ASYMPTOTIC_P = (1e-4, 1e-8, 1e-16, 1e-30)


def test_asymptotic_expansion_error_shrinks():
    """Relative error of p kappa^2 (1 + kappa F_series) against the 50-digit MMSE at r = 0.5,
    evaluated in mpmath from the float fields (their rounding is below 1e-28 relative here).
    Measured: 6.1e-8, 6.6e-12, 6.6e-18, 1.1e-26; the reduction with F(eps) by quadrature:
    <= 1.4e-17; the leading term alone: 0.21, 7.7e-3, 2.2e-6, 5.7e-13."""
    series, reduced, leading = [], [], []
    with mpmath.workdps(60):
        for p in ASYMPTOTIC_P:
            e = mmse.mmse_asymptotic(p, 0.5)
            ref = _reference(p, 0.5)
            lead = mpmath.mpf(p) * mpmath.mpf(e.kappa) ** 2
            assert e.leading == pytest.approx(float(lead), rel=1e-15)
            series.append(abs(lead * (1 + mpmath.mpf(e.kappa) * mpmath.mpf(e.correction)) - ref) / ref)
            reduced.append(abs(lead * (1 + mpmath.mpf(e.kappa) * mpmath.mpf(e.coefficient_reduced)) - ref) / ref)
            leading.append(abs(lead - ref) / ref)
            assert e.loss == pytest.approx(float(ref), rel=max(1e-15, 2 * float(series[-1])))
    assert all(b < a / 1e3 for a, b in itertools.pairwise(series))
    assert all(float(x) < bound for x, bound in zip(series, (1e-7, 1e-11, 1e-17, 1e-25)))
    assert all(float(x) < 1e-15 for x in reduced)
    assert all(b < a for a, b in itertools.pairwise(leading))
    assert all(s < lead for s, lead in zip(series, leading))


def test_asymptotic_threshold_and_r_equal_one():
    e = mmse.mmse_asymptotic(1e-12, 0.5)
    assert e.threshold == pytest.approx(math.sqrt(2 * math.log(1 / (e.epsilon * math.sqrt(2 * math.pi)))))
    assert e.epsilon == pytest.approx(1e-12 * e.kappa / (1 - 1e-12), rel=1e-15)
    assert mmse.mmse_asymptotic(0.01, 1.0).loss == 0.0
    assert set(e.to_dict()) >= {"p", "r", "kappa", "threshold", "leading", "correction", "loss"}


BAD = [
    (lambda: mmse.mmse_loss(0.0, 0.1), ("feature_probability", "p in (0, 1)")),
    (lambda: mmse.mmse_loss(1.0, 0.1), ("feature_probability", "p in (0, 1)")),
    (lambda: mmse.mmse_loss(math.nan, 0.1), ("feature_probability", "p in (0, 1)")),
    (lambda: mmse.mmse_loss("often", 0.1), ("feature_probability", "p in (0, 1)")),
    (lambda: mmse.mmse_loss(0.1, -0.1), ("noise", "kappa >= 0")),
    (lambda: mmse.mmse_loss(0.1, math.inf), ("noise", "kappa >= 0")),
    (lambda: mmse.mmse_loss(0.1, [0.1, 0.2]), ("noise", "scalar")),
    (lambda: mmse.mmse_loss(0.1, 0.1, method="exact"), ("method", "quadrature")),
    (lambda: mmse.mmse_loss(0.1, 0.1, method="mpmath", precision=5), ("precision", "[16, 1000]")),
    (lambda: mmse.mmse_loss(0.1, 0.1, samples=10), ("samples", ">= 100")),
    (lambda: mmse.mmse_loss_mc(0.1, 0.1, seed=-1), ("seed", ">= 0")),
    (lambda: mmse.optimum(0.1, 0.0), ("ratio", "r in (0, 1]")),
    (lambda: mmse.optimum(0.1, 1.5), ("ratio", "r in (0, 1]")),
    (lambda: mmse.mmse_asymptotic(1e-3, -1.0), ("ratio", "r in (0, 1]")),
    (lambda: mmse.posterior_mean(math.nan, 0.1, 0.1), ("observation", "v a finite real number")),
    (lambda: mmse.posterior_mean(0.5, 0.1, -1.0), ("noise", "kappa >= 0")),
    (lambda: mmse.posterior_mean(0.5, [0.1, 2.0], 0.1), ("feature_probability", "p in (0, 1)")),
]


@pytest.mark.parametrize("call, fragments", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_raises_parameter_error(call, fragments):
    with pytest.raises(ParameterError) as error:
        call()
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)

