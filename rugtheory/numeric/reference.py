"""High-precision mpmath reference for the mean-field loss (THEORY.md, "Mean-field (large n) limit").

The symbolic closed form (``rugtheory.symbolic.meanfield``) is lambdified to mpmath once per
process and evaluated at an adaptive working precision: a first guess of the digits that
cancellation costs, then a second evaluation 40 digits higher. The value is accepted when the
two agree to ``precision + 2`` significant digits; otherwise the working precision is doubled,
up to ``MAX_WORKING_DPS``. The two limits the closed form cannot take (it divides by sigma and
by a) are evaluated exactly instead:

* sigma = 0: the loss is a piecewise polynomial in (a, beta), integrated over u in exact
  rational arithmetic (floats are dyadic rationals);
* a = 0 (sigma > 0): the u-integral is elementary, l = G_2(beta) - p G_1(beta) + p/3 with
  G_k = E[ReLU(beta + sigma Z)^k].

sympy is imported only when the lambdified functions are first built, so
``import rugtheory.numeric`` stays free of it.

>>> import mpmath
>>> mpmath.nstr(meanfield_loss_mp(0.5, 0.0, 0.0, 0.0, precision=20), 20)  # W = 0, b = 0: p/3
'0.16666666666666666667'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from functools import lru_cache
from typing import Any

import mpmath

from ..errors import ParameterError
from ..parameters import BIAS, DIAG, FEATURE_PROBABILITY, PRECISION, SIGMA
from .loss import check_magnitude

__all__ = ["MAX_WORKING_DPS", "RECHECK_DIGITS", "meanfield_loss_mp", "tied_derivatives_mp"]

RECHECK_DIGITS = 40
MAX_WORKING_DPS = 8000
_BASE_GUARD = 30

Real = Any  # float, int, str, Fraction or mpmath.mpf


# Beyond |t| = 1e6 the Gaussian factor exp(-t^2/2) < 10^(-2e11) is zero at any working precision
# (mpmath's erfc overflows a float for |t| near 1e150), so Phi and phi are taken as 0 or 1 there.
_GAUSSIAN_CUTOFF = 1e6


def _ncdf(t: mpmath.mpf) -> mpmath.mpf:
    if t > _GAUSSIAN_CUTOFF:
        return mpmath.mpf(1)
    if t < -_GAUSSIAN_CUTOFF:
        return mpmath.mpf(0)
    return mpmath.ncdf(t)


def _npdf(t: mpmath.mpf) -> mpmath.mpf:
    return mpmath.mpf(0) if abs(t) > _GAUSSIAN_CUTOFF else mpmath.npdf(t)


def _namespace() -> list[Any]:
    return [{"Phi": _ncdf, "phi": _npdf}, "mpmath"]


@lru_cache(maxsize=1)
def _loss_function() -> Callable[..., Any]:
    """The closed form l(p, a, sigma, beta) lambdified to mpmath (once per process)."""
    import sympy as sp

    from ..symbolic.data import p
    from ..symbolic.gaussian import sigma
    from ..symbolic.meanfield import a, beta, meanfield_loss_expr

    return sp.lambdify((p, a, sigma, beta), meanfield_loss_expr(), modules=_namespace())


@lru_cache(maxsize=1)
def _tied_functions() -> dict[str, Callable[..., Any]]:
    """tied_derivatives() lambdified to mpmath, as functions of (p, a, beta, kappa)."""
    import sympy as sp

    from ..symbolic.data import p
    from ..symbolic.meanfield import a, beta, kappa, tied_derivatives

    return {
        key: sp.lambdify((p, a, beta, kappa), expr, modules=_namespace())
        for key, expr in tied_derivatives().items()
    }


def _as_float(value: Real) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _validate(parameter: Any, value: Real) -> None:
    """Check the domain on the float value; the exact value is kept for the computation."""
    if isinstance(value, (str, mpmath.mpf, Fraction)):
        parameter.validate(_as_float(value))
    else:
        parameter.validate(value)


def _mpf(value: Real) -> mpmath.mpf:
    """value as mpf at the current working precision (floats convert exactly)."""
    if isinstance(value, Fraction):
        return mpmath.mpf(value.numerator) / value.denominator
    return mpmath.mpf(value)


def _fraction(value: Real) -> Fraction:
    """The exact rational value of a float, int, decimal string, Fraction or mpf."""
    if isinstance(value, mpmath.mpf):
        man, exp = value.man_exp
        return Fraction(int(man)) * Fraction(2) ** int(exp)
    return Fraction(value)


def _log10_ratio(numerator: float, denominator: float) -> float:
    """log10(1 + |numerator| / denominator), the digits lost to an argument of that size."""
    if denominator <= 0.0:
        return 0.0
    ratio = abs(numerator) / denominator
    return math.log10(1.0 + ratio) if math.isfinite(ratio) else 400.0


def _digits_lost(p: float, a: float, sigma: float, beta: float) -> int:
    """A generous estimate of the digits that cancellation costs in the closed form.

    p/3 cancels against the active part (the loss can be ~p^2 or less), the 1/a^2 of the
    closed form against the difference Q(a + beta) - Q(beta), and the Gaussian moments at
    t = m/sigma lose ~3 log10 |t| digits when t << 0.
    """
    def neg_log(x: float) -> float:
        x = abs(x)
        return max(0.0, -math.log10(x)) if x > 0.0 else 0.0

    lost = 2.0 * neg_log(p) + 2.0 * neg_log(sigma) + 2.0 * neg_log(a)
    lost += 3.0 * _log10_ratio(beta, sigma) + 3.0 * _log10_ratio(a + beta, sigma)
    return math.ceil(lost)


def _agree(first: mpmath.mpf, second: mpmath.mpf, digits: int) -> bool:
    if first == second:
        return True
    scale = max(abs(first), abs(second))
    return abs(first - second) <= mpmath.mpf(10) ** (-digits) * scale


def _adaptive(evaluate: Callable[[], dict[str, mpmath.mpf]], precision: int, lost: int) -> dict[str, Any]:
    """Evaluate at two working precisions until every entry agrees to precision + 2 digits."""
    dps = precision + _BASE_GUARD + lost
    while True:
        if dps + RECHECK_DIGITS > MAX_WORKING_DPS:
            raise RuntimeError(
                f"mpmath reference did not reach {precision} digits within {MAX_WORKING_DPS} working digits"
            )
        with mpmath.workdps(dps):
            first = evaluate()
        with mpmath.workdps(dps + RECHECK_DIGITS):
            second = evaluate()
            if all(_agree(first[key], second[key], precision + 2) for key in second):
                return second
        dps *= 2


def _piecewise_polynomial_loss(p: Real, a: Real, beta: Real) -> Fraction:
    """The sigma = 0 loss, exactly: (1-p) ReLU(beta)^2 + p int_0^1 (ReLU(a u + beta) - u)^2 du."""
    p, a, beta = (_fraction(v) for v in (p, a, beta))
    zero, one = Fraction(0), Fraction(1)

    def clipped(u: Fraction) -> Fraction:
        return min(max(u, zero), one)

    if a == 0:
        active = (zero, one) if beta > 0 else (zero, zero)
        inactive = [(zero, zero)] if beta > 0 else [(zero, one)]
    else:
        split = clipped(-beta / a)
        if a > 0:  # a u + beta > 0 for u > split
            active, inactive = (split, one), [(zero, split)]
        else:
            active, inactive = (zero, split), [(split, one)]
    c = a - 1
    lo, hi = active
    active_part = c * c * (hi**3 - lo**3) / 3 + c * beta * (hi**2 - lo**2) + beta * beta * (hi - lo)
    clipped_part = sum(((h**3 - l**3) / 3 for l, h in inactive), zero)
    relu_beta = max(beta, zero)
    return (1 - p) * relu_beta * relu_beta + p * (active_part + clipped_part)


def _zero_diag_loss(p: mpmath.mpf, sigma: mpmath.mpf, beta: mpmath.mpf) -> mpmath.mpf:
    """The a = 0 loss: every u sees the same ReLU(beta + sigma Z) = R, so l = E R^2 - p E R + p/3."""
    t = beta / sigma
    cdf, pdf = _ncdf(t), _npdf(t)
    g1 = beta * cdf + sigma * pdf
    g2 = (beta * beta + sigma * sigma) * cdf + beta * sigma * pdf
    return g2 - p * g1 + p / 3


def _check_precision(precision: int) -> int:
    return PRECISION.validate(precision)


def meanfield_loss_mp(p: Real, a: Real, sigma: Real, beta: Real, precision: int = 50) -> mpmath.mpf:
    """The mean-field loss l(a, sigma, beta; p) to ``precision`` significant digits.

    THEORY.md, "Mean-field (large n) limit". Inputs may be floats (taken exactly), ints,
    decimal strings or mpf. Raises ParameterError for inputs outside their domains or the
    methods' range |a|, sigma, |beta| <= 1e75 (``loss.MAGNITUDE_LIMIT``), or precision < 16, and
    RuntimeError if the digits cannot be reached within MAX_WORKING_DPS.

    >>> float(meanfield_loss_mp(0.1, 1.0, 0.0, 0.0))  # a = 1, b = 0, no interference: exact
    0.0
    """
    precision = _check_precision(precision)
    for parameter, value in ((FEATURE_PROBABILITY, p), (DIAG, a), (SIGMA, sigma), (BIAS, beta)):
        _validate(parameter, value)
    for parameter, value in ((DIAG, a), (SIGMA, sigma), (BIAS, beta)):
        check_magnitude(parameter, _as_float(value))
    if _fraction(sigma) == 0:
        exact = _piecewise_polynomial_loss(p, a, beta)
        with mpmath.workdps(precision + 10):
            return _mpf(exact)
    lost = _digits_lost(*(_as_float(v) for v in (p, a, sigma, beta)))
    if _fraction(a) == 0:

        def evaluate() -> dict[str, mpmath.mpf]:
            return {"loss": _zero_diag_loss(_mpf(p), _mpf(sigma), _mpf(beta))}

    else:
        function = _loss_function()

        def evaluate() -> dict[str, mpmath.mpf]:
            return {"loss": function(_mpf(p), _mpf(a), _mpf(sigma), _mpf(beta))}

    return _adaptive(evaluate, precision, lost)["loss"]


def tied_derivatives_mp(
    p: Real, a: Real, beta: Real, kappa: Real, precision: int = 50
) -> dict[str, mpmath.mpf]:
    """Loss, gradient and Hessian in (a, beta) with sigma = kappa a, to ``precision`` digits.

    THEORY.md, "Rank bound" (sigma^2 = a^2 (p/3 - p^2/4)(1 - r)/r ties sigma to a). Keys as
    ``rugtheory.symbolic.meanfield.tied_derivatives``: loss, d_a, d_beta, d_aa, d_abeta,
    d_betabeta. Requires a > 0 and kappa > 0 (the closed form divides by a and by sigma).
    """
    precision = _check_precision(precision)
    for parameter, value in ((FEATURE_PROBABILITY, p), (DIAG, a), (BIAS, beta)):
        _validate(parameter, value)
    a_float, kappa_float = _as_float(a), _as_float(kappa)
    if not a_float > 0.0 or _fraction(a) <= 0:
        raise ParameterError(f"diag (a) = {a!r} is out of range for tied derivatives; valid: a > 0")
    if not (kappa_float > 0.0 and math.isfinite(kappa_float)):
        raise ParameterError(f"kappa = {kappa!r} is out of range; valid: kappa > 0 (sigma = kappa a)")
    functions = _tied_functions()
    lost = _digits_lost(_as_float(p), a_float, kappa_float * a_float, _as_float(beta)) + 10

    def evaluate() -> dict[str, mpmath.mpf]:
        args = (_mpf(p), _mpf(a), _mpf(beta), _mpf(kappa))
        return {key: function(*args) for key, function in functions.items()}

    return _adaptive(evaluate, precision, lost)
