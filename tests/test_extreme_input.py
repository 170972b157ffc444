"""Extreme finite inputs (1e-300 to 1e300, both signs, zeros, subnormals): every evaluator gives a finite
value within its stated bound of an independent high-precision reference, or a one-line ParameterError,
and never NaN or a RuntimeWarning.

References: for ``exact_loss`` an exact rational computation (``_exact_row``), independent of the Fourier
method of derivations/13_exact_loss.md; for the mean field, ``method="mpmath"`` at 50 digits.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction
from itertools import combinations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rugtheory.errors import ParameterError
from rugtheory.numeric.exact import exact_loss

_EPS = np.finfo(float).eps


# --- an exact reference for one row's loss -----------------------------------------------------------


def _plus(x: Fraction, k: int) -> Fraction:
    return x**k if x > 0 else Fraction(0)


def _truncated_moment(c: Fraction, weights: list[Fraction], k: int) -> Fraction:
    """E[(c + sum_j w_j U_j)_+^k] exactly, U_j iid uniform on [0, 1], w_j != 0.

    Integrating one uniform at a time, int_0^1 (y + w u)_+^k du = ((y + w)_+^{k+1} - y_+^{k+1}) / ((k + 1) w),
    so r of them give k!/(k + r)! sum_{T subset} (-1)^{r - |T|} (c + sum_T w_j)_+^{k+r} / prod_j w_j.
    """
    r = len(weights)
    total = Fraction(0)
    for size in range(r + 1):
        sign = 1 if (r - size) % 2 == 0 else -1
        for chosen in combinations(weights, size):
            total += sign * _plus(c + sum(chosen, Fraction(0)), k + r)
    denominator = Fraction(math.factorial(k + r), math.factorial(k))
    for w in weights:
        denominator *= w
    return total / denominator


def _row_terms(a: Fraction, p: Fraction) -> list[tuple[Fraction, Fraction, int]]:
    """h(m) - p/3 as sum of coefficient * (m + shift)_+^k (THEORY.md's row loss, its u-integral done by hand).

    h = p/3 + (1 - p) m_+^2 + p (T1 - 2 T2) with T1 = int_0^1 (a u + m)_+^2 du = ((m + a)_+^3 - m_+^3) / (3a)
    and T2 = int_0^1 u (a u + m)_+ du = T1 / a - ((m + a)_+^3 - a (m + a)_+^2 - m_+^3) / (2 a^2); a = 0 gives
    h = p/3 + m_+^2 - p m_+.
    """
    if a == 0:
        return [(Fraction(1), Fraction(0), 2), (-p, Fraction(0), 1)]
    cubic = 1 / (3 * a) - 2 / (3 * a * a) + 1 / (a * a)
    return [(1 - p, Fraction(0), 2), (p * cubic, a, 3), (-p * cubic, Fraction(0), 3), (-p / a, a, 2)]


def _exact_row(a: float, b: float, weights: list[float], p: float) -> Fraction:
    """E h(b + nu) exactly: a sum over the active set of the other features, then the uniforms exactly."""
    a_, b_, p_ = Fraction(a), Fraction(b), Fraction(p)
    nonzero = [Fraction(w) for w in weights if w != 0]
    terms = _row_terms(a_, p_)
    total = p_ / 3
    for size in range(len(nonzero) + 1):
        probability = p_**size * (1 - p_) ** (len(nonzero) - size)
        for active in combinations(nonzero, size):
            total += probability * sum(c * _truncated_moment(b_ + shift, list(active), k) for c, shift, k in terms)
    return total


def _exact(W: np.ndarray, b: np.ndarray, p: float) -> Fraction:
    n = len(b)
    rows = [_exact_row(W[i, i], b[i], [W[i, j] for j in range(n) if j != i], p) for i in range(n)]
    return sum(rows, Fraction(0)) / n


def test_reference_reproduces_known_losses():
    """W = 0 gives p/3, antipodal pairs p^2/6, and a = 1, b = 0 alone gives 0, exactly."""
    assert _exact(np.zeros((3, 3)), np.zeros(3), 0.3) == Fraction(0.3) / 3
    antipodal = np.array([[1.0, -1.0], [-1.0, 1.0]])
    assert _exact(antipodal, np.zeros(2), 0.25) == Fraction(0.25) ** 2 / 6
    assert _exact(np.eye(3), np.zeros(3), 0.1) == 0


# --- the brief's reproductions ---------------------------------------------------------------------


def _quiet(function, *args, **kwargs):
    """function(*args, **kwargs) with every warning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return function(*args, **kwargs)


def _assert_within(result, reference: Fraction, n: int) -> None:
    """|loss - reference| <= error_bound, plus the rounding of the mean over n rows and of the reference
    to a float, both below n eps |reference| (sums of n positive terms: relative (n - 1) eps/2)."""
    assert math.isfinite(result.loss) and math.isfinite(result.error_bound)
    value = float(reference)
    assert abs(result.loss - value) <= result.error_bound + 4 * n * _EPS * abs(value), (result, value)


def _one_line(error: BaseException) -> str:
    text = str(error)
    assert text and "\n" not in text and "nan" not in text.lower()
    return text


@pytest.mark.parametrize("device", [None, "cpu"])
def test_never_firing_rows_give_p_over_three_exactly(device):
    """b so negative that the pre-activation is never positive: h = p/3 on the whole support."""
    if device == "cpu":
        pytest.importorskip("torch", reason="the torch path needs torch: pip install 'rugtheory[torch]'")
    cases = [(np.zeros((8, 8)), np.full(8, -1e300)), (np.full((8, 8), 1e-300), np.full(8, -1e300)),
             (np.full((8, 8), 1e300), np.full(8, -1e308)),
             (np.random.default_rng(0).normal(size=(8, 8)), np.full(8, -1e10))]
    for W, b in cases:
        result = _quiet(exact_loss, W, b, 0.1, device=device)
        assert result.loss == 0.1 / 3 and result.error_bound == 0.0


def test_always_firing_rows_are_the_quadratic_in_closed_form():
    """b so positive that every unit fires: E h from the first two moments, against the exact reference."""
    W = np.random.default_rng(1).normal(size=(4, 4))
    for scale in (1e-10, 1.0, 1e10, 1e150):
        b = np.full(4, 10.0 * scale)
        result = _quiet(exact_loss, W * scale, b, 0.2)
        _assert_within(result, _exact(W * scale, b, 0.2), 4)
        assert result.error_bound <= 1e-13 * result.loss


@pytest.mark.parametrize("W, b", [
    (np.full((8, 8), 1e300), np.zeros(8)),  # every unit fires: the loss is ~1e600
    (np.zeros((8, 8)), np.full(8, 1e300)),
    (1e300 * np.random.default_rng(0).normal(size=(8, 8)), np.zeros(8)),  # beyond the Fourier method's range
    (1e100 * np.random.default_rng(0).normal(size=(8, 8)), np.zeros(8)),
])
def test_unrepresentable_or_out_of_range_rows_are_one_line_errors(W, b):
    with pytest.raises(ParameterError) as error:
        _quiet(exact_loss, W, b, 0.1)
    text = _one_line(error.value)
    assert "row " in text and "valid:" in text


def test_tiny_weights_take_the_lipschitz_bound():
    """Off-diagonal weights of 1e-300 (and subnormals): h(b), within the bound of the exact value."""
    rng = np.random.default_rng(2)
    for scale in (1e-300, 5e-324, 1e-100):
        W = scale * rng.normal(size=(4, 4))
        np.fill_diagonal(W, [1.0, 0.5, -0.5, 0.0])
        b = np.array([-0.25, 0.1, 0.2, 0.0])
        result = _quiet(exact_loss, W, b, 0.1)
        _assert_within(result, _exact(W, b, 0.1), 4)


def test_small_windows_far_from_zero_keep_their_precision():
    """Interference 1e-10 at beta = 0.2 (a = -0.5, the middle piece): the period's mean was off by 1e-9."""
    W = 1e-10 * np.random.default_rng(1).normal(size=(5, 5))
    np.fill_diagonal(W, -0.5)
    b = np.full(5, 0.2)
    result = _quiet(exact_loss, W, b, 0.1)
    _assert_within(result, _exact(W, b, 0.1), 5)


def test_feature_probability_below_the_exact_range_is_a_one_line_error():
    with pytest.raises(ParameterError, match=r"feature_probability \(p\) = 5e-324 .*valid: p in \[1e-290, 1\)"):
        _quiet(exact_loss, np.eye(3), np.zeros(3), 5e-324)
    result = _quiet(exact_loss, np.eye(3) * 0.5, np.zeros(3), 1e-290)  # the edge of the range works
    assert math.isfinite(result.loss)


# --- fuzz ------------------------------------------------------------------------------------------

_MAGNITUDES = [5e-324, 1e-310, 1e-300, 1e-150, 1e-60, 1e-10, 1e10, 1e75, 1e150, 1e300]
_EXTREME = st.builds(lambda m, f, s: s * m * f, st.sampled_from(_MAGNITUDES), st.floats(1.0, 9.0),
                     st.sampled_from([-1.0, 1.0]))
_SCALE = st.sampled_from([0.0, 1.0, 1.0] + _MAGNITUDES)


@st.composite
def _array(draw, size: int) -> np.ndarray:
    """A common scale (zero, one or extreme) times entries in [-2, 2], with a few extreme entries mixed in."""
    entries = draw(_SCALE) * np.array(draw(st.lists(st.floats(-2.0, 2.0), min_size=size, max_size=size)))
    for index in draw(st.lists(st.integers(0, size - 1), max_size=2)):
        entries[index] = draw(st.one_of(st.just(0.0), _EXTREME))
    return entries


@st.composite
def _weights(draw, max_n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(2, max_n))
    return draw(_array(n * n)).reshape(n, n), draw(_array(n))


def _check_exact(W: np.ndarray, b: np.ndarray, p: float, device: str | None) -> None:
    """Finite and within error_bound of the exact value (plus the final mean's rounding), or a clean error."""
    try:
        result = _quiet(exact_loss, W, b, p, device=device)
    except ParameterError as error:
        _one_line(error)
        return
    _assert_within(result, _exact(W, b, p), len(b))


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(_weights(), st.sampled_from([0.5, 0.1, 0.01]))
def test_exact_loss_fuzz_numpy(case, p):
    _check_exact(*case, p, None)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(_weights(max_n=4), st.sampled_from([0.5, 0.1]))
def test_exact_loss_fuzz_torch_cpu(case, p):
    pytest.importorskip("torch", reason="the torch path needs torch: pip install 'rugtheory[torch]'")
    _check_exact(*case, p, "cpu")


# --- the mean field --------------------------------------------------------------------------------

_REAL = st.one_of(st.just(0.0), st.floats(-3.0, 3.0), _EXTREME)
_P = st.sampled_from([0.5, 0.1, 1e-3, 1e-10, 1e-30])


def _reference(p: float, a: float, sigma: float, bias: float) -> float:
    from rugtheory.numeric.reference import meanfield_loss_mp

    return float(meanfield_loss_mp(p, a, sigma, bias, precision=50))


def _check_meanfield(method: str, p: float, a: float, sigma: float, bias: float, compare: bool = True,
                     **options) -> None:
    """Finite and within the method's stated error of the 50-digit reference, or a clean error."""
    from rugtheory import estimate_loss

    try:
        estimate = _quiet(estimate_loss, p, a, sigma, bias, method=method, **options)
    except ParameterError as error:
        assert max(abs(a), sigma, abs(bias)) > 1e75, _one_line(error)  # only beyond the methods' range
        _one_line(error)
        return
    assert math.isfinite(estimate.loss) and math.isfinite(estimate.error) and estimate.loss >= 0
    if not compare:
        return
    reference = _reference(p, a, sigma, bias)
    # the stated error: relative 1e-13 (closed_form), quad's estimate (quadrature), 10^-precision
    # (mpmath); Monte Carlo: 4 standard errors. Plus the final rounding of a float, 2 eps.
    allowed = (4.0 if method == "monte_carlo" else 1.0) * estimate.error + 2 * _EPS * abs(reference)
    assert abs(estimate.loss - reference) <= allowed, (estimate, reference)


@pytest.mark.parametrize("method", ["closed_form", "quadrature", "mpmath", "monte_carlo"])
@pytest.mark.parametrize("point", [
    (1e-10, 1e300, 1e150, 1e-300),  # the closed form returned nan, quadrature OverflowError
    (0.1, 0.0, 0.0, -1e300),  # 0.0333 with RuntimeWarnings
    (0.1, 1e150, 0.0, 1e300),
])
def test_meanfield_beyond_its_range_is_a_one_line_error(method, point):
    from rugtheory import meanfield_loss

    with pytest.raises(ParameterError, match=r"beyond the mean-field methods' range .*valid: .*<= 1e75$"):
        _quiet(meanfield_loss, *point, method=method, samples=1000)


_THIN_LAYERS = [
    (0.1, 1e50, 1e20, -1e50),  # a layer of width 1e-30 at u = 1: quadrature missed it (p/3 for 2.7e8)
    (1e-10, 1e20, 1e5, -1e20),  # width 1e-15: IntegrationWarning and 8e-7 relative error
    (0.1, 1e75, 1e5, -1e20),  # a layer at u = 1e-55: IntegrationWarning
]
_EDGES = [
    (0.1, 1e75, 1e75, -1e75),  # the edge of the range: Monte Carlo's squared deviations overflowed
    (0.9, -1e5, 1e75, -1e75),
    (0.1, 1e-300, 1e-300, 5e-324),
]


@pytest.mark.parametrize("method", ["closed_form", "quadrature"])
@pytest.mark.parametrize("point", _THIN_LAYERS + _EDGES)
def test_meanfield_at_extreme_points_matches_the_reference(method, point):
    _check_meanfield(method, *point)


@pytest.mark.parametrize("point", _EDGES)
def test_monte_carlo_at_the_edges_of_the_range_matches_the_reference(point):
    """(Not on the thin layers: a layer of width 1e-30 in u is never sampled, a limit of sampling itself.)"""
    _check_meanfield("monte_carlo", *point, samples=20_000)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(_P, _REAL, _REAL.map(abs), _REAL)
def test_meanfield_closed_form_fuzz(p, a, sigma, bias):
    _check_meanfield("closed_form", p, a, sigma, bias)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(_P, _REAL, _REAL.map(abs), _REAL)
def test_meanfield_quadrature_fuzz(p, a, sigma, bias):
    _check_meanfield("quadrature", p, a, sigma, bias)


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(_P, _REAL, _REAL.map(abs), _REAL)
def test_meanfield_mpmath_and_monte_carlo_fuzz(p, a, sigma, bias):
    _check_meanfield("mpmath", p, a, sigma, bias, precision=20)
    # sampling cannot promise to find thin layers (above): finite, non-negative or a clean error
    _check_meanfield("monte_carlo", p, a, sigma, bias, compare=False, samples=2_000)


# --- messages --------------------------------------------------------------------------------------


def test_integer_parameters_print_as_integers_and_a_symbol_equal_to_the_name_once():
    from rugtheory.parameters import N_FEATURES, PRECISION, SIGMA

    with pytest.raises(ParameterError, match=r"^n_features \(n\) = 1 is out of range; valid: n an integer >= 2$"):
        N_FEATURES.validate(1)
    with pytest.raises(ParameterError, match=r"^precision = 5 is out of range"):
        PRECISION.validate(5)
    with pytest.raises(ParameterError, match=r"^sigma = -1.0 is out of range; valid: sigma >= 0$"):
        SIGMA.validate(-1.0)
    with pytest.raises(ParameterError, match=r"^n_features \(n\) = 2.5 is out of range"):
        N_FEATURES.validate(2.5)


@pytest.mark.parametrize("text, expected", [
    ("1e-400", "feature_probability (p) = 1e-400 underflows to 0 in float64; valid: p in (0, 1)"),
    ("1e400", "feature_probability (p) = 1e400 overflows to inf in float64; valid: p in (0, 1)"),
    ("-1e400", "feature_probability (p) = -1e400 overflows to -inf in float64; valid: p in (0, 1)"),
])
def test_cli_reports_the_number_typed_when_it_under_or_overflows(text, expected, capsys):
    from rugtheory.cli.main import main

    with pytest.raises(SystemExit) as exit_:
        main(["exact", "--weights", "unused.npz", "--p", text])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().endswith(expected)


def test_cli_keeps_an_underflow_inside_the_domain_and_a_typed_zero():
    import argparse

    from rugtheory.cli.arguments import number
    from rugtheory.parameters import BIAS, FEATURE_PROBABILITY

    assert number(BIAS)("1e-400") == 0.0  # the nearest double, and a valid bias
    assert number(FEATURE_PROBABILITY)("0.0") == 0.0  # typed as 0: the range check says so later
    with pytest.raises(argparse.ArgumentTypeError, match="bias \\(beta\\) = 1e999 overflows to inf"):
        number(BIAS)("1e999")


def test_cli_exact_text_has_no_inf_relative(tmp_path, capsys):
    from rugtheory.cli.main import main

    for name, W, b in (("zero", np.zeros((4, 4)), np.zeros(4)), ("identity", np.eye(4), np.zeros(4)),
                       ("negative", np.zeros((4, 4)), np.full(4, -1e300))):
        path = tmp_path / f"{name}.npz"
        np.savez(path, W=W, b=b)
        assert _quiet(main, ["exact", "--weights", str(path), "--p", "0.1"]) in (0, None)
        out = capsys.readouterr().out
        line = out.splitlines()[-1]
        assert "inf" not in line and "nan" not in line and "(exact to rounding)" in line
