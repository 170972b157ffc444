"""Activation families under the rank-bound linear layer (issue 3; derivations/08_activation_families.md).

Three kinds of checks, each with its own rule (STYLE.md):

* symbolic identities of the derivation, exactly (sympy);
* numerics against independent evaluations: nested scipy quadrature of the definition, and
  50-digit mpmath evaluations of the definition (``_reference``), with the provenance of every
  recorded value stated where it is recorded;
* sampled values against the closed forms with tolerances from their own standard errors.

Then the optima: identity = linear baseline, JumpReLU and ReLU^alpha never worse than ReLU,
soft threshold = ReLU (its infimum), and bad input.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings

from rugtheory.activations import identity, jumprelu, power, soft_threshold
from rugtheory.activations._closed_form import evaluate
from rugtheory.activations._reference import piecewise_loss_mp, power_loss_mp
from rugtheory.activations._tails import tails
from rugtheory.activations._threshold_optimum import threshold_optimum
from rugtheory.activations.result import FamilyOptimum
from rugtheory.errors import ParameterError
from rugtheory.numeric.loss import meanfield_loss
from rugtheory.numeric.solver import kappa, linear_loss
from rugtheory.numeric.tails_mp import gaussian_tails_mp
from rugtheory.optimum import solve
from rugtheory.parameters import FEATURE_PROBABILITY, RATIO
from rugtheory.symbolic import families as sym
from rugtheory.symbolic.codegen_families import TARGET, generate

from .strategies import draws

MODULES = {"jumprelu": jumprelu, "soft_threshold": soft_threshold, "power": power, "identity": identity}
THRESHOLDED = {"jumprelu": jumprelu, "soft_threshold": soft_threshold}


def _relative(x: float, y: float) -> float:
    return 0.0 if x == y else abs(x - y) / max(abs(x), abs(y))


def _sigma(p: float, r: float, a: float = 1.0) -> float:
    """The rank-bound interference |a| sqrt((p/3 - p^2/4)(1 - r)/r) (THEORY.md, "Rank bound")."""
    return abs(a) * math.sqrt((p / 3 - p * p / 4) * (1 - r) / r)


# --- the derivation --------------------------------------------------------------------------


def test_generated_module_is_up_to_date():
    assert TARGET.read_text() == generate(), "run `python -m rugtheory.symbolic.codegen_families`"


@pytest.mark.parametrize("name", list(sym.DEFINITIONS))
def test_derivation_identities(name):
    assert sym.check_pieces(name), "pieces differ from the definition"
    assert sym.check_telescoping(name), "telescoping identity fails"
    assert sym.check_base(name), "(E F - u)^2 + Var F differs from E[(F - u)^2]"
    assert sym.check_antiderivatives(name), "integration by parts fails"


def test_identity_optimum_is_the_linear_baseline_symbolically():
    optimum = sym.identity_optimum()
    baseline = (1 - sym.r) * (sym.p / 3 - sym.p**2 / 4)
    assert sym.sp.simplify(optimum["loss_r"] - baseline) == 0
    hessian = optimum["hessian"]
    # Positive definite for p in (0, 1): trace > 0 and det = 4 kappa^2 + 4p/3 - p^2 > 0.
    assert sym.sp.expand(hessian.det() - (4 * sym.kappa**2 + 4 * sym.p / 3 - sym.p**2)) == 0
    assert sym.sp.simplify(optimum["a"].subs(sym.kappa, sym.sp.sqrt((sym.p / 3 - sym.p**2 / 4) * (1 - sym.r) / sym.r)) - sym.r) == 0


def test_power_correction_identity_and_kernels():
    kernels = sym.power_kernels()
    assert kernels["identity"] == 0
    parts = sym.power_kernel_parts()
    assert parts["M0"]["phi"] == 0 and sym.sp.simplify(parts["M0"]["Phi"] - 1 / sym.a) == 0


def test_high_order_tails_against_mpmath():
    # _tails claims <= 5.0e-15 relative for K_k = J_k/phi, 1 <= k <= 12 (806 points, s <= 1e15);
    # here 39 points against 60-digit gaussian_tails_mp, with a margin of 4. (phi itself carries
    # the rounding of its exponent, ~ s^2/2 * 1e-16 relative, from ``gaussian_tails``.)
    s = np.concatenate([np.linspace(0.0, 3.5, 15), np.geomspace(3.6, 37.0, 20), [1e2, 1e4, 1e8, 1e15]])
    values = tails(s, 12)
    worst = 0.0
    with mpmath.workdps(60):
        for i, si in enumerate(s):
            reference = gaussian_tails_mp(si, 12)
            for k in range(1, 13):
                if values[0][i] > 0:
                    exact = reference[k + 1] / reference[0]
                    worst = max(worst, float(abs(values[k + 1][i] / values[0][i] - exact) / exact))
    assert worst <= 2e-14, worst


# --- closed form against quadrature of the definition ------------------------------------------

# Points (p, a, sigma, beta, parameter): near-optimum thresholds at small p (in units of the
# rank-bound sigma), a < 0, sigma = 0, |a| < sigma (the u-quadrature branch), beta >> sigma.
S8, S30, S999 = _sigma(1e-8, 0.5), _sigma(1e-30, 0.5), _sigma(0.999, 0.3, 0.6)
QUAD_POINTS = {
    "generic": (0.3, 0.9, 0.2, -0.1, 0.15),
    "p=1e-8": (1e-8, 1.0, S8, -3 * S8, 5 * S8),
    "p=1e-30": (1e-30, 1.0, S30, -3 * S30, 12 * S30),
    "a<0": (0.1, -0.5, 0.2, 0.3, 0.1),
    "sigma=0": (0.2, 0.8, 0.0, -0.1, 0.3),
    "|a|<sigma": (0.5, 0.05, 0.3, 0.2, 0.1),
    "beta>>sigma": (0.05, 1.2, 0.01, 0.4, 0.2),
    "p=0.999": (0.999, 0.6, S999, 0.2, 0.05),
}

# quad runs at epsrel = 1e-11 in both the inner and the outer integral and its error estimate is a
# heuristic, so the nested value can be off by more than 1e-11; 1e-9 is what it can promise
# (as in tests/test_loss_methods.py). Measured on this table: <= 2.7e-15 for the closed forms,
# <= 1.0e-13 for the ReLU^alpha hybrid (where quadrature, not the hybrid, is the worse: both
# were held against 30-digit mpmath at p = 0.3, alpha = 1.7 with errors 1e-13 and 1e-16).
QUADRATURE_TOLERANCE = 1e-9


def _arguments(name: str, point: tuple[float, ...], alpha: float = 1.7) -> tuple[float, ...]:
    p, a, sigma, beta, parameter = point
    if name == "identity":
        return (p, a, sigma, beta)
    return (p, a, sigma, beta, alpha if name == "power" else parameter)


@pytest.mark.parametrize("point", list(QUAD_POINTS.values()), ids=list(QUAD_POINTS))
@pytest.mark.parametrize("name", list(MODULES))
def test_closed_form_against_quadrature(name, point):
    module = MODULES[name]
    arguments = _arguments(name, point)
    exact = module.loss(*arguments, method="hybrid" if name == "power" else "closed_form")
    assert _relative(exact, module.loss(*arguments, method="quadrature")) <= QUADRATURE_TOLERANCE
    if name == "power":
        integer = _arguments(name, point, alpha=3.0)
        assert _relative(power.loss(*integer), power.loss(*integer, method="quadrature")) <= QUADRATURE_TOLERANCE


def test_power_hybrid_matches_integer_closed_forms():
    # The hybrid (ReLU closed form + adaptive 1-D correction) and the sympy closed forms of
    # alpha = 1..4 are independent; measured worst 2.5e-15 on 300 random points over
    # p in [1e-30, 1), so 1e-13 leaves a margin of 40.
    rng = np.random.default_rng(3)
    n = 120
    p = 10 ** rng.uniform(-30, -0.001, n)
    a = rng.uniform(0.05, 2.0, n)
    r = rng.uniform(0.05, 1.0, n)
    sigma = a * np.sqrt(p * (4 - 3 * p) / 12 * (1 - r) / r) * rng.choice([0.0, 1.0, 1.0, 1.0], n)
    beta = sigma * rng.uniform(-6, 3, n) + rng.choice([0.0, 0.0, 0.0, 1.0], n) * rng.uniform(-1, 1, n)
    for k in (1, 2, 3, 4):
        closed = power.loss(p, a, sigma, beta, float(k))
        hybrid = power.loss(p, a, sigma, beta, float(k), method="hybrid")
        worst = np.max(np.abs(hybrid - closed) / np.abs(closed))
        assert worst <= 1e-13, (k, worst)


def _relu_table():
    points = []
    for p, a, r, t in [(0.5, 1.0, 0.5, -1.0), (1e-8, 1.2, 0.1, -3.0), (1e-30, 1.0, 0.5, -11.0), (0.1, -0.5, 0.3, 0.5)]:
        sigma = _sigma(p, r, a)
        points.append((p, a, sigma, t * sigma))
    return points + [(0.1, 0.7, 0.0, -0.1), (0.5, 0.01, 0.5, 0.2)]


@pytest.mark.parametrize("point", _relu_table())
def test_relu_special_cases(point):
    # alpha = 1 and threshold = 0 are the ReLU; soft threshold 0 is the identity.
    # Measured against rugtheory.meanfield_loss: <= 8e-15 on 2000 random points.
    relu = meanfield_loss(*point)
    assert _relative(power.loss(*point, 1.0), relu) <= 1e-13
    assert _relative(jumprelu.loss(*point, 0.0), relu) <= 1e-13
    assert power.loss(*point, 1.0, method="hybrid") == meanfield_loss(*point)  # alpha = 1 exactly
    assert _relative(soft_threshold.loss(*point, 0.0), identity.loss(*point)) <= 1e-13


# --- closed form against Monte Carlo ---------------------------------------------------------

MC_POINTS = [(0.5, 1.0, 0.3, -0.1, 0.2), (0.1, 0.8, 0.2, 0.05, 0.4), (0.01, 1.1, 0.06, -0.1, 0.15)]


@pytest.mark.parametrize("point", MC_POINTS)
@pytest.mark.parametrize("name", list(MODULES))
def test_monte_carlo_within_standard_errors(name, point):
    # Monte Carlo samples the same definition: no bias, only noise. 4.5 standard errors: a
    # two-sided Gaussian exceedance of 7e-6 per point, < 1e-4 over these 12 points.
    module = MODULES[name]
    arguments = _arguments(name, point)
    estimate = module.loss_monte_carlo(*arguments, samples=1_000_000, seed=2024)
    exact = module.loss(*arguments, method="hybrid" if name == "power" else "closed_form")
    assert 0 < estimate.standard_error < 0.02 * exact  # the test has power
    assert abs(estimate.loss - exact) <= 4.5 * estimate.standard_error
    assert module.loss(*arguments, method="monte_carlo", samples=1_000_000, seed=2024) == estimate.loss


# --- closed form against 50-digit mpmath evaluations of the definition ------------------------

# Computed by rugtheory.activations._reference.piecewise_loss_mp(..., digits=50) (the inner
# Gaussian expectation exact from f's evaluations, the outer u-integral by mpmath.quad) at the
# optima of rugtheory.activations.*.optimum(p, 0.5) (jumprelu, identity; soft_threshold at the
# ReLU optimum shifted to a clearance of 80 sigma) and at rugtheory.solve(p, 0.5)'s
# (a, sigma, bias) for ReLU^k; test_recorded_references_recompute (slow) recomputes them.
# Points: (p, a, sigma, beta, threshold or alpha).
REFERENCES = [
    ("jumprelu", (1e-30, 1.0, 5.773502691896258e-16, -2.477147980586575e-26, 8.195775300463368e-15),
     "3.3333333333355007191249617637263164086373527808582e-61"),
    ("soft_threshold", (1e-30, 1.0000000000000098, 5.773502691896314e-16, 1.9872101740726524e-14, 2.631591979444399e-14),
     "1.0880514886422946463422251782166643251249043606979e-59"),
    ("identity", (1e-30, 0.5, 2.886751345948129e-16, 2.5000000000000006e-31, 0.0),
     "1.666666666666666917048586894359698671549743205747e-31"),
    ("power", (1e-30, 1.0000000000000098, 5.773502691896314e-16, -6.443818053717468e-15, 1.0),
     "1.0880514886422946381194791815590161954009858831496e-59"),
    ("power", (1e-30, 1.0000000000000098, 5.773502691896314e-16, -6.443818053717468e-15, 2.0),
     "3.3333333333333530058041919137044187564674713952552e-32"),
    ("power", (1e-30, 1.0000000000000098, 5.773502691896314e-16, -6.443818053717468e-15, 3.0),
     "7.6190476190476069033190321702639560922958138715847e-32"),
    ("power", (1e-30, 1.0000000000000098, 5.773502691896314e-16, -6.443818053717468e-15, 4.0),
     "1.1111111111111064445593820849845779545543019564104e-31"),
    ("jumprelu", (1e-12, 0.9999999999999999, 5.773502691894092e-07, -6.666343606083735e-13, 5.233028978370364e-06),
     "3.3338286679957302542942529723666613954558044926259e-25"),
    ("soft_threshold", (1e-12, 1.0000057883852138, 5.773536111151706e-07, 2.11646784936388e-05, 2.5023610395574845e-05),
     "4.2130574401737034350307994284220617126478954551373e-24"),
    ("identity", (1e-12, 0.5, 2.8867513459470463e-07, 2.5e-13, 0.0),
     "1.6666666666654166570372255822395813716620844346435e-13"),
    ("power", (1e-12, 1.0000057883852138, 5.773536111151706e-07, -3.858931901936043e-06, 1.0),
     "4.2130574401737034350307994284220617126478954551373e-24"),
    ("power", (1e-12, 1.0000057883852138, 5.773536111151706e-07, -3.858931901936043e-06, 2.0),
     "3.3333461968374713811980261011419035615042805156485e-14"),
    ("power", (1e-12, 1.0000057883852138, 5.773536111151706e-07, -3.858931901936043e-06, 3.0),
     "7.6190421069352539198314947435635488865206590400932e-14"),
    ("power", (1e-12, 1.0000057883852138, 5.773536111151706e-07, -3.858931901936043e-06, 4.0),
     "1.1111085385791327148431064244981318472004738091057e-13"),
    ("jumprelu", (0.999, 0.5059663539710675, 0.14620567341010376, 0.24587763085636166, 0.0),
     "0.041668009776019535217592631597553422359383605841003"),
    ("soft_threshold", (0.999, 0.5059663539710675, 0.14620567341010376, 5.9711657518323324, 5.7252881209759705),
     "0.041668009776019535217592721289726353089045447427443"),
    ("identity", (0.999, 0.5000000000000001, 0.14448161647766822, 0.24975000000000008, 0.0),
     "0.04174987499999999900230657476467394356989031956361"),
    ("power", (0.999, 0.5059663539710675, 0.14620567341010376, 0.24587763085636166, 1.0),
     "0.041668009776019535217592631597553422359383605841003"),
    ("power", (0.999, 0.5059663539710675, 0.14620567341010376, 0.24587763085636166, 2.0),
     "0.088186586747136670317409857530641026339590348133045"),
    ("power", (0.999, 0.5059663539710675, 0.14620567341010376, 0.24587763085636166, 3.0),
     "0.14788105487170045073398994084945221520655995221601"),
    ("power", (0.999, 0.5059663539710675, 0.14620567341010376, 0.24587763085636166, 4.0),
     "0.19338499594163445865053834030279628233381015907622"),
]

# ReLU^alpha at its own optimum (non-integer alpha), by rugtheory.activations._reference.power_loss_mp
# (nested mpmath.quad, 30 digits; about 100 s each, so recomputed only in the slow test).
POWER_REFERENCES = [
    ((1e-30, 1.0000000000000049, 5.773502691896287e-16, -6.513508847327928e-15, 0.9999999999999853),
     "3.02568045579317489005878583284e-60"),
    ((1e-12, 1.0000029775101353, 5.773519882556875e-07, -3.970017087137577e-06, 0.9999910675189272),
     "1.357749476741966126545314597e-24"),
]

# Stated accuracy of the float64 closed forms (and the hybrid) relative to |loss|. Measured
# against 50-digit mpmath of the definition on 40 random points per family (p log-uniform in
# [1e-30, 0.999] with p = 1e-30, 1e-12, 0.999 forced; beta/sigma in [-8, 3], threshold/sigma in
# [0, 15]): worst 1.5e-14 (jumprelu, p = 1e-30, a tail at s = 9.9 dominating: the rounding of
# s costs ~ s^2 eps), 5.6e-15 (soft_threshold), 2.9e-16 (identity), 4.1e-15 (ReLU^1..4); on
# the table above <= 1e-14. 1e-13 is the promise, a margin of 7 over the worst case
# (test_accuracy_on_random_points, slow, re-measures it on 16 points per family: ~4 min).
CLOSED_FORM_RELATIVE_ERROR = 1e-13


def _family_loss(name: str, point: tuple[float, ...]) -> float:
    p, a, sigma, beta, parameter = point
    if name == "identity":
        return identity.loss(p, a, sigma, beta)
    if name == "power":
        method = "closed_form" if parameter in power.CLOSED_FORM_POWERS else "hybrid"
        return power.loss(p, a, sigma, beta, parameter, method=method)
    return MODULES[name].loss(p, a, sigma, beta, parameter)


@pytest.mark.parametrize("name,point,reference", REFERENCES, ids=[f"{n}-p={pt[0]:g}-{pt[4]:g}" for n, pt, _ in REFERENCES])
def test_closed_form_against_recorded_mpmath(name, point, reference):
    assert _relative(_family_loss(name, point), float(mpmath.mpf(reference))) <= CLOSED_FORM_RELATIVE_ERROR


@pytest.mark.parametrize("point,reference", POWER_REFERENCES, ids=["p=1e-30", "p=1e-12"])
def test_power_hybrid_against_recorded_mpmath(point, reference):
    assert _relative(power.loss(*point, method="hybrid"), float(mpmath.mpf(reference))) <= CLOSED_FORM_RELATIVE_ERROR


def _activation_mp(name: str, parameter: float):
    theta = mpmath.mpf(parameter)
    if name == "jumprelu":
        return (lambda y: y if y > theta else mpmath.mpf(0)), [theta], 1
    if name == "soft_threshold":
        return (lambda y: y - theta if y > theta else y + theta if y < -theta else mpmath.mpf(0)), [-theta, theta], 1
    if name == "identity":
        return (lambda y: y), [], 1
    k = int(parameter)
    return (lambda y: y**k if y > 0 else mpmath.mpf(0)), [mpmath.mpf(0)], k


def _reference_mp(name: str, point: tuple[float, ...], digits: int = 50) -> mpmath.mpf:
    p, a, sigma, beta, parameter = point
    activation, breakpoints, degree = _activation_mp(name, parameter)
    return piecewise_loss_mp(activation, breakpoints, degree, p, a, sigma, beta, digits=digits)


@pytest.mark.slow
@pytest.mark.parametrize("name,point,reference", REFERENCES, ids=[f"{n}-p={pt[0]:g}-{pt[4]:g}" for n, pt, _ in REFERENCES])
def test_recorded_references_recompute(name, point, reference):
    with mpmath.workdps(60):
        value = _reference_mp(name, point)
        assert abs(value - mpmath.mpf(reference)) <= mpmath.mpf(10) ** -45 * abs(value)


@pytest.mark.slow
def test_reference_delivers_its_digits():
    point = ("jumprelu", (1e-12, 1.0, 5.8e-7, -1e-6, 3e-6))
    with mpmath.workdps(80):
        at_50 = _reference_mp(*point, digits=50)
        at_70 = _reference_mp(*point, digits=70)
        assert abs(at_50 - at_70) <= mpmath.mpf(10) ** -50 * abs(at_70)


@pytest.mark.slow
@pytest.mark.parametrize("point,reference", POWER_REFERENCES[1:], ids=["p=1e-12"])
def test_power_reference_recomputes(point, reference):
    with mpmath.workdps(40):
        value = power_loss_mp(*point, digits=30)
        assert abs(value - mpmath.mpf(reference)) <= mpmath.mpf(10) ** -28 * abs(value)


def _random_points(name: str, count: int, seed: int) -> list[tuple[float, ...]]:
    rng = np.random.default_rng(seed)
    points = []
    for i in range(count):
        p = (1e-30, 1e-12, 0.999)[i] if i < 3 else 10 ** rng.uniform(-30, math.log10(0.999))
        r = rng.uniform(0.05, 0.95)
        k = float(kappa(p, r))
        a = 1.0 + k * rng.uniform(-3, 3) if rng.random() < 0.6 else rng.uniform(0.2, 1.6)
        sigma = k * a
        beta = sigma * rng.uniform(-8, 3)
        if name in THRESHOLDED:
            parameter = sigma * rng.uniform(0, 15)
        else:
            parameter = float(rng.integers(1, 5)) if name == "power" else 0.0
        points.append((p, a, sigma, beta, parameter))
    return points


@pytest.mark.slow
@pytest.mark.parametrize("name", ["jumprelu", "soft_threshold", "identity", "power"])
def test_accuracy_on_random_points(name):
    worst = 0.0
    for point in _random_points(name, 16, seed=11):
        with mpmath.workdps(60):
            reference = _reference_mp(name, point)
            worst = max(worst, float(abs(mpmath.mpf(_family_loss(name, point)) - reference) / reference))
    print(f"{name}: worst relative error {worst:.2e}")
    assert worst <= CLOSED_FORM_RELATIVE_ERROR


# --- the optima -------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(p=draws(FEATURE_PROBABILITY), r=draws(RATIO))
def test_identity_optimum_is_the_linear_baseline(p, r):
    result = identity.optimum(p, r)
    baseline = float(linear_loss(p, r))
    if r == 1.0:
        assert result.loss == baseline == 0.0
    else:
        assert _relative(result.loss, baseline) <= 1e-12
    assert _relative(result.parameters["a"], r) <= 1e-12


def test_identity_optimum_is_a_minimum():
    p, r = 0.2, 0.4
    best = identity.optimum(p, r)
    k = float(kappa(p, r))
    a, bias = best.parameters["a"], best.parameters["bias"]
    for da, db in [(1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3), (1e-3, -1e-3)]:
        assert identity.loss(p, a + da, k * (a + da), bias + db) > best.loss


GRID = [(p, r) for p in (1e-30, 1e-12, 1e-6, 1e-2, 0.1, 0.5, 0.999) for r in (0.05, 0.5, 0.95)]


@pytest.mark.parametrize("p,r", GRID)
def test_jumprelu_and_power_never_worse_than_relu(p, r):
    relu = solve(p, r).loss
    for module in (jumprelu, power):
        result = module.optimum(p, r)
        assert math.isfinite(result.loss) and result.loss > 0
        assert result.loss <= relu * (1 + 1e-12), (module.NAME, result.loss, relu)


@pytest.mark.parametrize("p,r", [(1e-30, 0.5), (1e-6, 0.5), (1e-2, 0.5), (0.5, 0.1), (0.999, 0.9)])
def test_soft_threshold_optimum_is_the_relu_optimum(p, r):
    # Proven in soft_threshold's docstring: l_soft(a, beta, theta) >= l_ReLU(a, beta - theta).
    relu = solve(p, r).loss
    result = soft_threshold.optimum(p, r)
    assert _relative(result.loss, relu) <= 1e-12
    # The numerical multi-start search, without the ReLU start, gets close but never below.
    searched = threshold_optimum("soft_threshold", p, r, None)
    assert relu * (1 - 1e-12) <= searched.loss <= relu * (1 + 1e-6)


def test_high_sparsity_structure():
    # JumpReLU approaches the MMSE scale p kappa^2 (a -> 1, beta -> 0); ReLU^alpha has alpha < 1.
    p, r = 1e-30, 0.5
    k = float(kappa(p, r))
    jump = jumprelu.optimum(p, r)
    assert _relative(jump.loss, p * k * k) <= 1e-9
    assert abs(jump.parameters["bias"]) < 1e-6 * jump.parameters["sigma"]
    assert 10 < jump.parameters["threshold"] / jump.parameters["sigma"] < 20
    bent = power.optimum(p, r)
    assert bent.parameters["alpha"] < 1.0 and bent.loss < 0.3 * solve(p, r).loss


@pytest.mark.parametrize("name", list(MODULES))
def test_optimum_record(name):
    module = MODULES[name]
    assert module.NAME == name
    result = module.optimum(0.1, 0.5)
    assert isinstance(result, FamilyOptimum) and result.family == name
    extra = {"jumprelu": {"threshold"}, "soft_threshold": {"threshold"}, "power": {"alpha"}, "identity": set()}[name]
    assert set(result.parameters) == {"a", "bias", "sigma"} | extra
    assert result.parameters["sigma"] == pytest.approx(float(kappa(0.1, 0.5)) * result.parameters["a"], rel=1e-15)
    assert result.to_dict()["parameters"] == result.parameters
    # The parameters reproduce the loss (at p = 0.1 the rounding of a does not matter).
    arguments = [result.parameters[key] for key in ("a", "sigma", "bias")]
    extras = [result.parameters[key] for key in sorted(extra)]
    method = "hybrid" if name == "power" else "closed_form"
    assert _relative(module.loss(0.1, *arguments, *extras, method=method), result.loss) <= 1e-14


@pytest.mark.parametrize("name", list(MODULES))
def test_full_rank_is_an_exact_fit(name):
    result = MODULES[name].optimum(0.3, 1.0)
    assert result.loss == 0.0 and result.parameters["sigma"] == 0.0 and result.parameters["a"] == 1.0


# --- bad input ------------------------------------------------------------------------------

GOOD = {"p": 0.1, "a": 1.0, "sigma": 0.2, "bias": -0.1}
BAD = [
    ("p", 0.0, ("feature_probability", "p in (0, 1)")),
    ("p", 1.0, ("feature_probability", "p in (0, 1)")),
    ("p", math.nan, ("feature_probability", "p in (0, 1)")),
    ("sigma", -0.01, ("sigma", "sigma >= 0")),
    ("a", math.inf, ("diag", "a a finite real number")),
    ("bias", "low", ("bias", "beta a finite real number")),
]
OWN = {"jumprelu": "threshold", "soft_threshold": "threshold", "power": "alpha"}
OWN_GOOD = {"threshold": 0.1, "alpha": 1.5}
OWN_BAD = [
    ("threshold", -0.1, ("threshold", "theta >= 0")),
    ("threshold", math.inf, ("threshold", "theta >= 0")),
    ("alpha", 0.0, ("alpha", "alpha > 0")),
    ("alpha", -1.0, ("alpha", "alpha > 0")),
    ("alpha", math.nan, ("alpha", "alpha > 0")),
]


def _one_line(error: pytest.ExceptionInfo, *fragments: str) -> None:
    message = str(error.value)
    assert message and "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def _call(name: str, method: str, **overrides):
    arguments = dict(GOOD)
    if name in OWN:
        arguments[OWN[name]] = OWN_GOOD[OWN[name]]
    arguments.update(overrides)
    return MODULES[name].loss(**arguments, method=method, samples=1000)


@pytest.mark.parametrize("field,value,fragments", BAD, ids=[f"{f}={v!r}" for f, v, _ in BAD])
@pytest.mark.parametrize("method", ["quadrature", "monte_carlo", "closed_form"])
@pytest.mark.parametrize("name", list(MODULES))
def test_bad_model_parameters(name, method, field, value, fragments):
    if name == "power" and method == "closed_form":
        method = "hybrid"
    with pytest.raises(ParameterError) as error:
        _call(name, method, **{field: value})
    _one_line(error, *fragments)


OWN_CASES = [(name, *case) for name in OWN for case in OWN_BAD if case[0] == OWN[name]]


@pytest.mark.parametrize("name,field,value,fragments", OWN_CASES, ids=[f"{n}-{f}={v!r}" for n, f, v, _ in OWN_CASES])
def test_bad_family_parameters(name, field, value, fragments):
    with pytest.raises(ParameterError) as error:
        _call(name, "hybrid" if name == "power" else "closed_form", **{field: value})
    _one_line(error, *fragments)


@pytest.mark.parametrize("name", list(MODULES))
def test_bad_method_seed_and_shape(name):
    with pytest.raises(ParameterError) as error:
        _call(name, "exact")
    _one_line(error, "method = 'exact' is unknown")
    with pytest.raises(ParameterError) as error:
        MODULES[name].loss(*_arguments(name, (0.1, 1.0, 0.2, -0.1, 0.1)), method="monte_carlo", seed=-1)
    _one_line(error, "seed")
    with pytest.raises(ParameterError) as error:
        _call(name, "quadrature", p=np.array([0.1, 0.2]))
    _one_line(error, "scalar inputs only")


def test_power_closed_form_needs_an_integer_alpha():
    with pytest.raises(ParameterError) as error:
        power.loss(0.1, 1.0, 0.2, -0.1, 1.5)
    _one_line(error, "alpha = 1.5 has no closed form", "alpha in {1, 2, 3, 4}")
    with pytest.raises(ParameterError) as error:
        power.loss(0.1, 1.0, 0.2, -0.1, 5.0)
    _one_line(error, "alpha")


@pytest.mark.parametrize("name", list(MODULES))
@pytest.mark.parametrize(
    "p,r,fragment",
    [(0.0, 0.5, "p in (0, 1)"), (math.nan, 0.5, "p in (0, 1)"), (0.5, 0.0, "r in (0, 1]"), (0.5, 1.5, "r in (0, 1]")],
)
def test_bad_optimum_point(name, p, r, fragment):
    with pytest.raises(ParameterError) as error:
        MODULES[name].optimum(p, r)
    _one_line(error, fragment)


def test_exact_offsets_must_agree():
    with pytest.raises(ParameterError) as error:
        jumprelu.loss(0.1, 1.0, 0.2, -0.1, 0.1, a_minus_one=0.5)
    _one_line(error, "a_minus_one must equal a - 1")
    with pytest.raises(ParameterError) as error:
        power.loss(0.1, 1.0, 0.2, -0.1, 1.5, method="hybrid", alpha_minus_one=0.4)
    _one_line(error, "alpha_minus_one must equal alpha - 1")


def test_closed_forms_take_arrays():
    p = np.array([0.5, 1e-8, 1e-30])
    for name, module in MODULES.items():
        arguments = _arguments(name, (p, 1.0, 0.01, -0.02, 0.03), alpha=2.0)
        values = module.loss(*arguments)
        assert isinstance(values, np.ndarray) and values.shape == (3,)
        for i, pi in enumerate(p):
            assert values[i] == pytest.approx(module.loss(*_arguments(name, (pi, 1.0, 0.01, -0.02, 0.03), alpha=2.0)), rel=1e-15)
    direct = evaluate("jumprelu", p, 1.0, 0.0, -0.02, 0.01, 0.03)
    assert np.array_equal(direct, jumprelu.loss(p, 1.0, 0.01, -0.02, 0.03))
