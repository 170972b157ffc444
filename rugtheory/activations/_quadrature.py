"""Nested scipy quadrature of a family's loss from its definition (independent of the closed forms).

    l_f = (1 - p) E[f(beta + sigma Z)^2] + p int_0^1 E[(f(a u + beta + sigma Z) - u)^2] du.

A family supplies ``residual(u, z)`` = f(a u + beta + sigma z) - u, computed without
cancellation (in the residual w = (a - 1) u + beta with a - 1 given exactly), and its
breakpoints b (where f is not smooth). The inner integral over z is split at
(b - m)/sigma and at 0 and truncated to |z| <= 40 (phi(40) < 1e-347); the outer over u at
(b - beta)/a and at multiples of the layer width sigma/|a| around it, as
``rugtheory.numeric.quadrature`` does for the ReLU. Every quad call uses a pure relative
tolerance (epsabs = 0), so the value stays relative-accurate down to p = 1e-30.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Sequence

from scipy.integrate import IntegrationWarning, quad

__all__ = ["EPSREL", "Z_MAX", "family_loss_quad"]

EPSREL = 1e-11
Z_MAX = 40.0
_LIMIT = 200
_LAYER_OFFSETS = (-40.0, -8.0, -2.0, 0.0, 2.0, 8.0, 40.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

Residual = Callable[[float, float], float]


def _quad(function: Callable[[float], float], lo: float, hi: float) -> tuple[float, float]:
    """quad at a pure relative tolerance; its roundoff warning is silenced (the error estimate stays)."""
    if not hi > lo:
        return 0.0, 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IntegrationWarning)
        return quad(function, lo, hi, epsabs=0.0, epsrel=EPSREL, limit=_LIMIT)


def _inner(residual: Residual, breakpoints: Sequence[float], u: float, mean: float, sigma: float):
    """E[residual(u, Z)^2] and its error estimate."""
    if sigma == 0.0:
        return residual(u, 0.0) ** 2, 0.0
    cuts = {-Z_MAX, 0.0, Z_MAX}
    for b in breakpoints:
        z = (b - mean) / sigma
        if -Z_MAX < z < Z_MAX:
            cuts.add(z)
    cuts = sorted(cuts)
    value, error = 0.0, 0.0
    for lo, hi in itertools.pairwise(cuts):
        v, e = _quad(lambda z: residual(u, z) ** 2 * _INV_SQRT_2PI * math.exp(-0.5 * z * z), lo, hi)
        value += v
        error += e
    return value, error


def family_loss_quad(
    residual: Residual, breakpoints: Sequence[float], p: float, a: float, sigma: float, beta: float
) -> tuple[float, float]:
    """(l_f, absolute error estimate) by nested quadrature of the definition (see module doc).

    >>> identity = lambda u, z: -0.5 * u + 0.1 + 0.2 * z  # a = 0.5, beta = 0.1, sigma = 0.2
    >>> value, error = family_loss_quad(identity, (), 0.5, 0.5, 0.2, 0.1)
    >>> round(value, 12)  # (1-p)(beta^2+sigma^2) + p (1/12 - 0.05 + 0.01 + 0.04)
    0.066666666667
    """
    # residual(0, z) = f(beta + sigma z): the inactive part is the u = 0 integrand.
    inactive, inactive_error = _inner(residual, breakpoints, 0.0, beta, sigma)
    points = {0.0, 1.0}
    if a != 0.0:
        for b in breakpoints:
            centre = (b - beta) / a
            for k in _LAYER_OFFSETS:
                u = centre + k * sigma / abs(a)
                if 0.0 < u < 1.0:
                    points.add(u)
    points = sorted(points)
    errors: list[float] = []

    def integrand(u: float) -> float:
        value, error = _inner(residual, breakpoints, u, a * u + beta, sigma)
        errors.append(error)
        return value

    active, active_error = 0.0, 0.0
    for lo, hi in itertools.pairwise(points):
        v, e = _quad(integrand, lo, hi)
        active += v
        active_error += e
    active_error += max(errors, default=0.0)
    value = (1.0 - p) * inactive + p * active
    return value, (1.0 - p) * inactive_error + p * active_error
