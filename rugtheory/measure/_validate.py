"""Input checks of the measurement functions: one-line ParameterError naming the parameter."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ParameterError
from ..parameters import FEATURE_PROBABILITY, RATIO, SAMPLES
from ..weights.statistics import _square

__all__ = ["check_bias_vector", "check_probability", "check_ratio", "check_samples", "check_weights"]


def check_weights(W: Any) -> np.ndarray:
    """W as a finite float64 n x n array with n >= 2, else ParameterError."""
    return _square(W)


def check_bias_vector(b: Any, n: int) -> np.ndarray:
    """b as a finite float64 vector of length n, else ParameterError."""
    try:
        vector = np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(f"b must be a vector of {n} finite numbers: got {type(b).__name__}") from None
    if vector.shape != (n,):
        raise ParameterError(f"b must have shape ({n},), one bias per feature: got shape {vector.shape}")
    if not np.all(np.isfinite(vector)):
        raise ParameterError("b must be finite: it has NaN or infinite entries")
    return vector


def _scalar(parameter, value: Any) -> float:
    checked = parameter.validate(value)
    if np.ndim(checked) != 0:
        raise ParameterError(
            f"{parameter.name} ({parameter.symbol}) must be a single number; valid: {parameter.domain_text()}"
        )
    return float(checked)


def check_probability(p: Any) -> float:
    """p in (0, 1) as a float (FEATURE_PROBABILITY), else ParameterError."""
    return _scalar(FEATURE_PROBABILITY, p)


def check_ratio(r: Any) -> float:
    """r in (0, 1] as a float (RATIO), else ParameterError."""
    return _scalar(RATIO, r)


def check_samples(samples: Any) -> int:
    """A sample count (SAMPLES: an integer >= 100), else ParameterError."""
    try:
        inside = not isinstance(samples, bool) and np.ndim(samples) == 0 and bool(SAMPLES.contains(samples))
    except (TypeError, ValueError):
        inside = False
    if not inside:
        raise ParameterError(f"samples = {samples!r} is out of range; valid: {SAMPLES.domain_text()}")
    return int(samples)
