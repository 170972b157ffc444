"""Mean-field loss by nested adaptive quadrature of its definition (THEORY.md, "Mean-field (large n) limit").

    l = (1 - p) E[ReLU(beta + sigma Z)^2] + p int_0^1 E[(ReLU(a u + beta + sigma Z) - u)^2] du

An evaluation independent of the closed form: no Gaussian moment formula is used except
Phi itself (``scipy.special.ndtr``). For each u the inner expectation splits at the kink
z* = -(a u + beta)/sigma: below it the ReLU is 0 and the integrand u^2 phi(z) integrates to
u^2 Phi(z*); above it ((a - 1) u + beta + sigma z)^2 phi(z) is integrated by
``scipy.integrate.quad``. The outer integral over u is split at u_c = -beta/a and at a few
multiples of the width sigma/|a| of the layer around it, where the integrand turns over.

Every quad call uses a pure relative tolerance (epsabs = 0), and each integrand is divided
by the square of its own scale, so the value stays accurate in relative terms down to
p = 1e-30 and losses ~1e-58. The Gaussian is truncated to |z| <= 40, where
phi(40) < 1e-347 lies below the smallest double.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

from scipy.integrate import quad
from scipy.special import ndtr

__all__ = ["EPSREL", "THIN", "Z_MAX", "meanfield_loss_quad", "meanfield_loss_quad_with_error"]

EPSREL = 1e-11
Z_MAX = 40.0
THIN = 1e-6  # layers of width sigma/|a| below this are integrated in delta = u - u_c (``_active_thin``)
_LIMIT = 200
_LAYER_OFFSETS = (-40.0, -8.0, -2.0, 0.0, 2.0, 8.0, 40.0)  # in units of sigma/|a| around u_c
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _phi(z: float) -> float:
    return _INV_SQRT_2PI * math.exp(-0.5 * z * z)


def _quad(function, lo: float, hi: float) -> tuple[float, float]:
    """quad with a pure relative tolerance; an empty interval gives (0, 0)."""
    if not hi > lo:
        return 0.0, 0.0
    value, error = quad(function, lo, hi, epsabs=0.0, epsrel=EPSREL, limit=_LIMIT)
    return value, error


def _quad_pieces(function, points) -> tuple[float, float]:
    """The sum of ``_quad`` over consecutive points (the integrand's breakpoints), values and errors."""
    value, error = 0.0, 0.0
    for lo, hi in itertools.pairwise(points):
        v, e = _quad(function, lo, hi)
        value += v
        error += e
    return value, error


def _square_moment_above(offset: float, sigma: float, z_lo: float) -> tuple[float, float]:
    """int_{z_lo}^{Z_MAX} (offset + sigma z)^2 phi(z) dz and its error, for z_lo >= -Z_MAX."""
    if z_lo >= Z_MAX:
        return 0.0, 0.0
    scale = max(abs(offset), sigma)
    if scale == 0.0:
        return 0.0, 0.0
    c, s = offset / scale, sigma / scale
    value, error = 0.0, 0.0
    # Split at z = 0, where the Gaussian mass sits, when it lies inside.
    for lo, hi in ((z_lo, min(0.0, Z_MAX)), (max(z_lo, 0.0), Z_MAX)):
        v, e = _quad(lambda z: (c + s * z) ** 2 * _phi(z), lo, hi)
        value += v
        error += e
    return value * scale * scale, error * scale * scale


def _inner(u: float, a: float, sigma: float, beta: float) -> tuple[float, float]:
    """E[(ReLU(a u + beta + sigma Z) - u)^2] for sigma > 0, with an error estimate."""
    # (a - 1) u + beta, not mean - u: the latter cancels when a u ~ u >> |beta|.
    return _inner_at(u, a * u + beta, (a - 1.0) * u + beta, sigma)


def _inner_at(u: float, mean: float, residual: float, sigma: float) -> tuple[float, float]:
    """E[(ReLU(mean + sigma Z) - u)^2] given mean = a u + beta and residual = mean - u, each formed accurately."""
    kink = -mean / sigma
    clipped = u * u * float(ndtr(kink)) if kink > -Z_MAX else 0.0
    value, error = _square_moment_above(residual, sigma, max(kink, -Z_MAX))
    return clipped + value, error


def _outer_points(a: float, sigma: float, beta: float) -> list[float]:
    """Breakpoints in [0, 1]: the ends, u_c = -beta/a and the layer of width sigma/|a| around it."""
    points = {0.0, 1.0}
    if a != 0.0:
        centre = -beta / a
        width = sigma / abs(a)
        for k in _LAYER_OFFSETS:
            u = centre + k * width
            if 0.0 < u < 1.0:
                points.add(u)
    return sorted(points)


def _active_thin(a: float, sigma: float, beta: float) -> tuple[float, float]:
    """``_active`` in delta = u - u_c for a layer of width sigma/|a| < THIN around u_c = -beta/a in [0, 1].

    Next to u_c the offsets k sigma/|a| are not representable in u (below its resolution eps u_c), but are in
    delta; the mean a u + beta = a delta + r0 is formed from r0 = a u_c + beta, rounded once from its exact
    value. The residual mean - u is taken whichever way cancels less: mean - u, or (a - 1) u + beta.
    """
    centre = -beta / a
    offset = float(Fraction(a) * Fraction(centre) + Fraction(beta))
    width = sigma / abs(a)
    lo, hi = -centre, 1.0 - centre
    points = sorted({lo, hi} | {k * width for k in _LAYER_OFFSETS if lo < k * width < hi})
    inner_errors: list[float] = []

    def integrand(delta: float) -> float:
        u = centre + delta
        mean = a * delta + offset
        direct, split = max(abs(mean), abs(u)), abs(a - 1.0) * abs(u) + abs(beta)
        residual = mean - u if direct <= split else (a - 1.0) * u + beta
        value, error = _inner_at(u, mean, residual, sigma)
        inner_errors.append(error)
        return value

    value, error = _quad_pieces(integrand, points)
    return value, error + max(inner_errors, default=0.0)


def _active(a: float, sigma: float, beta: float) -> tuple[float, float]:
    """int_0^1 E[(ReLU(a u + beta + sigma Z) - u)^2] du and its error estimate."""
    if sigma != 0.0 and a != 0.0 and sigma / abs(a) < THIN:
        centre, width = -beta / a, sigma / abs(a)
        if -Z_MAX * width < centre and centre - 1.0 < Z_MAX * width:  # the layer meets [0, 1]
            return _active_thin(a, sigma, beta)
    points = _outer_points(a, sigma, beta)
    if sigma == 0.0:

        def integrand(u: float) -> float:
            return u * u if a * u + beta <= 0.0 else ((a - 1.0) * u + beta) ** 2

    else:
        inner_errors: list[float] = []

        def integrand(u: float) -> float:
            value, error = _inner(u, a, sigma, beta)
            inner_errors.append(error)
            return value

    value, error = _quad_pieces(integrand, points)
    if sigma != 0.0 and inner_errors:
        # Each inner error enters the outer rule with a weight <= the interval length 1.
        error += max(inner_errors)
    return value, error


def _inactive(sigma: float, beta: float) -> tuple[float, float]:
    """E[ReLU(beta + sigma Z)^2] and its error estimate."""
    if sigma == 0.0:
        return max(beta, 0.0) ** 2, 0.0
    kink = -beta / sigma
    return _square_moment_above(beta, sigma, max(kink, -Z_MAX))


def meanfield_loss_quad_with_error(p: float, a: float, sigma: float, beta: float) -> tuple[float, float]:
    """(l, absolute error estimate) of the mean-field loss by nested quadrature (see module doc).

    >>> value, error = meanfield_loss_quad_with_error(0.5, 0.0, 0.0, 0.0)  # W = 0, b = 0: p/3
    >>> round(value, 15), error < 1e-14
    (0.166666666666667, True)
    """
    p, a, sigma, beta = (float(v) for v in (p, a, sigma, beta))
    inactive, inactive_error = _inactive(sigma, beta)
    active, active_error = _active(a, sigma, beta)
    value = (1.0 - p) * inactive + p * active
    error = (1.0 - p) * inactive_error + p * active_error
    return value, error


def meanfield_loss_quad(p: float, a: float, sigma: float, beta: float) -> float:
    """The mean-field loss l(a, sigma, beta; p) by nested quadrature of the definition.

    >>> round(meanfield_loss_quad(0.1, 1.0, 0.0, 0.0), 15)  # a = 1, b = 0, no interference
    0.0
    """
    return float(meanfield_loss_quad_with_error(p, a, sigma, beta)[0])

