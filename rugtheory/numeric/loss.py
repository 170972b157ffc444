"""The mean-field loss, one entry point with an explicit ``method`` (THEORY.md, "Mean-field (large n) limit").

    l(a, sigma, beta; p) = (1 - p) E[ReLU(beta + sigma Z)^2]
                           + p int_0^1 E[(ReLU(a u + beta + sigma Z) - u)^2] du,   Z ~ N(0, 1).

Methods:

* ``closed_form``: the stable float64 closed form (``closed_form.loss``), vectorised;
* ``quadrature``: nested ``scipy.integrate.quad`` of the definition (``quadrature``);
* ``mpmath``: the symbolic closed form at adaptive high precision (``reference``);
* ``monte_carlo``: stratified sampling of the definition (``montecarlo``).

Every method returns a float for scalar inputs; ``closed_form`` also takes arrays and then
returns an ndarray. The methods are held against each other in tests/test_loss_methods.py.

>>> round(meanfield_loss(0.5, 0.0, 0.0, 0.0), 15)  # W = 0, b = 0 gives p/3
0.166666666666667
>>> estimate_loss(0.5, 0.0, 0.0, 0.0, method="mpmath", precision=20).decimal
'0.16666666666666666667'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..parameters import (
    BIAS,
    DIAG,
    FEATURE_PROBABILITY,
    PRECISION,
    SAMPLES,
    SIGMA,
    Parameter,
    check_method,
    check_seed,
)

__all__ = [
    "CLOSED_FORM_RELATIVE_ERROR", "MAGNITUDE_LIMIT", "METHODS", "LossEstimate", "check_magnitude", "estimate_loss",
    "meanfield_loss",
]

METHODS = ("closed_form", "quadrature", "mpmath", "monte_carlo")

# The stated error of closed_form, relative to |loss|. The Gaussian tails it is built from are
# accurate to ~1e-14 relative (rugtheory/numeric/tails.py, checked against 60-digit mpmath) and
# the assembly adds a few roundings. Against the mpmath reference the measured disagreement is
# ~1e-16 typically (median of 1500 random points over p in [1e-30, 1)) and 1.6e-14 at worst;
# on the table of tests/test_loss_methods.py the worst is 1.1e-14 (p = 1e-8, beta = -3 sigma).
# 1e-13 covers that with a margin. (0 < |a| < 1e-100 takes the quadrature branch; tests/test_loss_methods.py.)
CLOSED_FORM_RELATIVE_ERROR = 1e-13

# The range of a, sigma and bias every method takes. The loss is quadratic in them, but the closed form's
# tail terms form fourth powers before dividing (sigma^2 (a sigma J_3) / a^2, _generated.py), and the
# Monte Carlo sums squares of squared residuals: 1e75^4 = 1e300 stays below float64's 1.8e308. (The
# mpmath reference has no overflow, but at 1e100 it was measured to drop the active part: held to it too.)
MAGNITUDE_LIMIT = 1e75


@dataclass(frozen=True)
class LossEstimate:
    """A loss value with its error and provenance.

    ``error`` is absolute: the standard error (monte_carlo), quad's error estimate
    (quadrature), 10^-precision |loss| (mpmath) or CLOSED_FORM_RELATIVE_ERROR |loss|
    (closed_form). ``decimal`` is the value as a string: ``precision`` significant digits
    for mpmath, ``repr(float)`` otherwise.
    """

    loss: float
    error: float
    method: str
    decimal: str

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON-ready)."""
        return asdict(self)


def _validated(p: Any, a: Any, sigma: Any, bias: Any, method: Any, precision: Any, samples: Any, seed: Any):
    method = check_method(method, METHODS)
    values = (
        FEATURE_PROBABILITY.validate(p),
        DIAG.validate(a),
        SIGMA.validate(sigma),
        BIAS.validate(bias),
    )
    for parameter, value in zip((DIAG, SIGMA, BIAS), values[1:]):
        check_magnitude(parameter, value)
    PRECISION.validate(precision)
    SAMPLES.validate(samples)
    check_seed(seed)
    return method, values


def check_magnitude(parameter: Parameter, value: Any) -> None:
    """ParameterError unless every |value| <= MAGNITUDE_LIMIT, the range of every method (see there)."""
    array = np.abs(np.asarray(value, dtype=float))
    if np.any(array > MAGNITUDE_LIMIT):
        bad = float(np.asarray(value, dtype=float)[array > MAGNITUDE_LIMIT].flat[0] if array.ndim else value)
        symbol, limit = parameter.symbol, f"{MAGNITUDE_LIMIT:.0e}".replace("e+", "e")
        valid = f"0 <= {symbol} <= {limit}" if parameter.lower >= 0 else f"|{symbol}| <= {limit}"
        raise ParameterError(f"{parameter.label} = {bad!r} is beyond the mean-field methods' range (float64 "
                             f"overflows in fourth powers of it); valid: {valid}")


def _require_scalars(method: str, values: tuple[Any, ...]) -> None:
    if any(np.ndim(v) for v in values):
        raise ParameterError(
            f"method = {method!r} takes scalar inputs only; valid for arrays: 'closed_form'"
        )


def _check_a_minus_one(method: str, a: Any, a_minus_one: Any) -> Any:
    """a - 1 given exactly (the optimum near p -> 0 has a - 1 ~ sigma, below the resolution of a)."""
    if a_minus_one is None:
        return None
    if method not in ("closed_form", "mpmath"):
        raise ParameterError(f"a_minus_one is supported by closed_form and mpmath only; got method = {method!r}")
    value = DIAG.validate(a_minus_one)
    if np.any(np.abs(np.asarray(a) - 1.0 - value) > 4e-16 * np.maximum(1.0, np.abs(np.asarray(a)))):
        raise ParameterError("a_minus_one must equal a - 1 to rounding; valid: a_minus_one = a - 1")
    return value


def _estimate(
    method: str, values: tuple[float, ...], precision: int, samples: int, seed: int,
    a_minus_one: float | None = None,
) -> LossEstimate:
    p, a, sigma, bias = values
    if method == "closed_form":
        from .closed_form import evaluate

        value = float(evaluate("loss", p, a, bias, sigma, a_minus_one))
        return LossEstimate(value, CLOSED_FORM_RELATIVE_ERROR * abs(value), method, repr(value))
    if method == "quadrature":
        from .quadrature import meanfield_loss_quad_with_error

        value, error = meanfield_loss_quad_with_error(p, a, sigma, bias)
        return LossEstimate(float(value), float(error), method, repr(float(value)))
    if method == "mpmath":
        import mpmath

        from .reference import meanfield_loss_mp

        a_exact = a if a_minus_one is None else mpmath.mpf(1) + mpmath.mpf(a_minus_one)
        exact = meanfield_loss_mp(p, a_exact, sigma, bias, precision=precision)
        value = float(exact)
        return LossEstimate(value, 10.0 ** (-precision) * abs(value), method, mpmath.nstr(exact, precision))
    from .montecarlo import meanfield_loss_mc

    result = meanfield_loss_mc(p, a, sigma, bias, samples=samples, seed=seed)
    return LossEstimate(result.loss, result.standard_error, method, repr(result.loss))


def meanfield_loss(
    p: Any,
    a: Any,
    sigma: Any,
    bias: Any,
    method: str = "closed_form",
    precision: int = 50,
    samples: int = 1_000_000,
    seed: int = 0,
    a_minus_one: Any = None,
) -> Any:
    """The mean-field loss l(a, sigma, beta = bias; p) of THEORY.md by the chosen ``method``.

    Returns a float for scalar inputs (the rounded value for mpmath, the point estimate for
    monte_carlo) and, for closed_form only, an ndarray for array inputs. ``precision`` (digits,
    mpmath) and ``samples``/``seed`` (monte_carlo) are validated always, used where they apply.
    ``a_minus_one`` (closed_form, mpmath) gives a - 1 exactly, as ``solve`` reports it: near
    p -> 0 the optimum's a - 1 ~ sigma is below float64's resolution of a, and the rounded a
    alone shifts the loss at second order (8.5e-7 relative at p = 1.6e-29).
    Raises ParameterError (a ValueError) naming the parameter and its range.

    >>> meanfield_loss(0.1, 1.0, 0.0, 0.0, method="quadrature")  # a = 1, no interference
    0.0
    """
    method, values = _validated(p, a, sigma, bias, method, precision, samples, seed)
    a_minus_one = _check_a_minus_one(method, values[1], a_minus_one)
    if method == "closed_form" and any(np.ndim(v) for v in values + (a_minus_one,)):
        from .closed_form import evaluate

        p, a, sigma, bias = values
        return np.asarray(evaluate("loss", p, a, bias, sigma, a_minus_one), dtype=float)
    _require_scalars(method, values)
    return _estimate(method, values, int(precision), int(samples), int(seed), a_minus_one).loss


def estimate_loss(
    p: Any,
    a: Any,
    sigma: Any,
    bias: Any,
    method: str = "closed_form",
    precision: int = 50,
    samples: int = 1_000_000,
    seed: int = 0,
    a_minus_one: Any = None,
) -> LossEstimate:
    """The mean-field loss with its error and a decimal string (scalar inputs only).

    See LossEstimate for what ``error`` means for each method.

    >>> estimate_loss(0.5, 0.0, 0.0, 0.0, method="monte_carlo", samples=1000).method
    'monte_carlo'
    """
    method, values = _validated(p, a, sigma, bias, method, precision, samples, seed)
    a_minus_one = _check_a_minus_one(method, values[1], a_minus_one)
    _require_scalars(method, values)
    return _estimate(method, values, int(precision), int(samples), int(seed), a_minus_one)
