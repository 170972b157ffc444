"""Each parameter of the theory, declared once with its domain (THEORY.md, "Data" and "Model").

The declarations drive input validation, error messages, CLI help and the hypothesis
strategies of the tests, so a domain is never written twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ParameterError

__all__ = [
    "ALPHA",
    "BIAS",
    "DIAG",
    "FEATURE_PROBABILITY",
    "NOISE",
    "N_FEATURES",
    "OBSERVATION",
    "PARAMETERS",
    "PRECISION",
    "RATIO",
    "SAMPLES",
    "SIGMA",
    "THRESHOLD",
    "Parameter",
    "check_method",
    "check_seed",
]


@dataclass(frozen=True)
class Parameter:
    """A named real parameter with an interval domain.

    >>> FEATURE_PROBABILITY.domain_text()
    'p in (0, 1)'
    """

    name: str
    symbol: str
    description: str
    lower: float
    upper: float
    lower_open: bool = False
    upper_open: bool = False
    integer: bool = False
    log_scale: bool = False
    typical: tuple[float, float] | None = None

    @property
    def label(self) -> str:
        """The parameter as messages name it: ``name (symbol)``, or the name alone when the two are equal.

        >>> N_FEATURES.label, SIGMA.label
        ('n_features (n)', 'sigma')
        """
        return self.name if self.symbol == self.name else f"{self.name} ({self.symbol})"

    def show(self, value: float) -> str:
        """A value as a message prints it: integral values of an integer parameter without '.0'."""
        if self.integer and math.isfinite(value) and value == math.floor(value):
            return str(int(value))
        return repr(float(value))

    def domain_text(self) -> str:
        """The domain as a person writes it, e.g. ``r in (0, 1]``."""
        if self.integer:
            if math.isinf(self.upper):
                return f"{self.symbol} an integer >= {self.lower:g}"
            return f"{self.symbol} an integer in [{self.lower:g}, {self.upper:g}]"
        left = "(" if self.lower_open else "["
        right = ")" if self.upper_open else "]"
        if math.isinf(self.lower) and math.isinf(self.upper):
            return f"{self.symbol} a finite real number"
        if math.isinf(self.upper):
            return f"{self.symbol} {'>' if self.lower_open else '>='} {self.lower:g}"
        return f"{self.symbol} in {left}{self.lower:g}, {self.upper:g}{right}"

    def contains(self, value: Any) -> np.ndarray:
        """Elementwise membership of the domain (NaN is never inside)."""
        x = np.asarray(value, dtype=float)
        ok = np.isfinite(x)
        ok = ok & ((x > self.lower) if self.lower_open else (x >= self.lower))
        ok = ok & ((x < self.upper) if self.upper_open else (x <= self.upper))
        if self.integer:
            ok = ok & (np.floor(x) == x)
        return ok

    def validate(self, value: Any) -> Any:
        """Return ``value`` as float (or float array) if every element is in the domain.

        Raises ParameterError with a one-line message that names the parameter and
        its domain.
        """
        try:
            x = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ParameterError(
                f"{self.label} must be a number: got {value!r}; valid: {self.domain_text()}"
            ) from None
        inside = self.contains(x)
        if not np.all(inside):
            bad = float(x[~inside].flat[0] if x.ndim else x)
            raise ParameterError(f"{self.label} = {self.show(bad)} is out of range; valid: {self.domain_text()}")
        if x.ndim == 0:
            return int(x) if self.integer else float(x)
        return x


FEATURE_PROBABILITY = Parameter(
    "feature_probability", "p", "probability that a feature is active (THEORY.md, Data)",
    0.0, 1.0, lower_open=True, upper_open=True, log_scale=True, typical=(1e-30, 0.999),
)
RATIO = Parameter(
    "ratio", "r", "compression ratio m/n of the hidden layer (THEORY.md, Model)",
    0.0, 1.0, lower_open=True, typical=(1e-4, 1.0),
)
N_FEATURES = Parameter(
    "n_features", "n", "number of features n", 2, math.inf, integer=True, typical=(2, 8192),
)
DIAG = Parameter(
    "diag", "a", "diagonal value a = W_ii (THEORY.md, Statistics)",
    -math.inf, math.inf, lower_open=True, upper_open=True, typical=(0.0, 2.0),
)
SIGMA = Parameter(
    "sigma", "sigma", "standard deviation of the interference (THEORY.md, Statistics)",
    0.0, math.inf, upper_open=True, typical=(0.0, 1.0),
)
BIAS = Parameter(
    "bias", "beta", "effective bias beta = b + mu (THEORY.md, Statistics)",
    -math.inf, math.inf, lower_open=True, upper_open=True, typical=(-1.0, 1.0),
)
THRESHOLD = Parameter(
    "threshold", "theta", "activation threshold of JumpReLU and soft threshold (issue 3)",
    0.0, math.inf, upper_open=True, typical=(0.0, 1.0),
)
ALPHA = Parameter(
    "alpha", "alpha", "exponent of the activation ReLU(z)^alpha (issue 3)",
    0.0, math.inf, lower_open=True, upper_open=True, log_scale=True, typical=(0.25, 4.0),
)
PRECISION = Parameter(
    "precision", "precision", "decimal digits of an mpmath computation", 16, 1000, integer=True,
    typical=(20, 60),
)
SAMPLES = Parameter(
    "samples", "samples", "number of Monte Carlo samples", 100, math.inf, integer=True,
    typical=(10_000, 1_000_000),
)
NOISE = Parameter(
    "noise", "kappa", "noise standard deviation in v = x + kappa Z, the MMSE channel (derivations/09_mmse.md)",
    0.0, math.inf, upper_open=True, log_scale=True, typical=(1e-16, 10.0),
)
OBSERVATION = Parameter(
    "observation", "v", "an observation v = x + kappa Z of one feature (derivations/09_mmse.md)",
    -math.inf, math.inf, lower_open=True, upper_open=True, typical=(-1.0, 2.0),
)

PARAMETERS = {
    prm.name: prm
    for prm in (
        FEATURE_PROBABILITY, RATIO, N_FEATURES, DIAG, SIGMA, BIAS, THRESHOLD, ALPHA, PRECISION, SAMPLES,
        NOISE, OBSERVATION,
    )
}


def check_method(method: Any, methods: tuple[str, ...]) -> str:
    """``method`` if it is one of ``methods``, else ParameterError."""
    if not isinstance(method, str) or method not in methods:
        raise ParameterError(f"method = {method!r} is unknown; valid: {', '.join(methods)}")
    return method


def check_seed(seed: Any) -> int:
    """A non-negative integer seed, else ParameterError."""
    try:
        value = int(seed)
        ok = value == seed and value >= 0 and not isinstance(seed, bool)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ParameterError(f"seed = {seed!r} is out of range; valid: seed an integer >= 0")
    return value
