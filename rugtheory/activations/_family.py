"""Input handling shared by the activation-family modules (issue 3).

Parameters are validated with their one declaration in ``rugtheory.parameters``; a bad value
raises ``ParameterError`` with a one-line message naming it and its range.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ParameterError
from ..numeric.solver import kappa
from ..parameters import BIAS, DIAG, FEATURE_PROBABILITY, RATIO, SAMPLES, SIGMA, check_seed
from ..parameters import check_method as _check_method

__all__ = [
    "METHODS",
    "check_exact_offset",
    "check_method",
    "check_seed",
    "optimum_scale",
    "require_scalars",
    "validate_model",
    "validate_point",
]

METHODS = ("closed_form", "quadrature", "monte_carlo")


def check_method(method: Any, methods: tuple[str, ...] = METHODS) -> str:
    """``method`` if it is one of ``methods`` (default: the families' three), else ParameterError."""
    return _check_method(method, methods)


def validate_model(p: Any, a: Any, sigma: Any, bias: Any, samples: Any, seed: Any) -> tuple[Any, ...]:
    """(p, a, sigma, bias) validated (floats or arrays); samples and seed checked."""
    values = (
        FEATURE_PROBABILITY.validate(p),
        DIAG.validate(a),
        SIGMA.validate(sigma),
        BIAS.validate(bias),
    )
    SAMPLES.validate(samples)
    check_seed(seed)
    return values


def validate_point(p: Any, r: Any) -> tuple[float, float]:
    """(p, r) of an optimum, validated as scalars."""
    return float(FEATURE_PROBABILITY.validate(p)), float(RATIO.validate(r))


def require_scalars(method: str, values: tuple[Any, ...]) -> None:
    """ParameterError unless every value is a scalar (quadrature and Monte Carlo are scalar)."""
    if any(np.ndim(v) for v in values):
        raise ParameterError(f"method = {method!r} takes scalar inputs only; valid for arrays: 'closed_form'")


def check_exact_offset(name: str, symbol: str, value: Any, offset: Any) -> Any:
    """value - 1 given exactly as ``offset`` (None: computed), checked to agree to rounding."""
    if offset is None:
        return np.asarray(value, dtype=float) - 1.0
    offset = DIAG.validate(offset) if symbol == "a" else np.asarray(offset, dtype=float)
    if not np.all(np.isfinite(offset)):
        raise ParameterError(f"{name} = {offset!r} is out of range; valid: {name} = {symbol} - 1, finite")
    if np.any(np.abs(np.asarray(value) - 1.0 - offset) > 4e-16 * np.maximum(1.0, np.abs(np.asarray(value)))):
        raise ParameterError(f"{name} must equal {symbol} - 1 to rounding; valid: {name} = {symbol} - 1")
    return offset


def optimum_scale(p: float, r: float) -> tuple[float, float]:
    """(kappa, c): the rank-bound kappa and the optimiser's unit c = min(kappa, 1) (c > 0)."""
    k = float(kappa(p, r))
    return k, min(k, 1.0)
