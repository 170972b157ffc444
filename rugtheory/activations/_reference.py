"""High-precision mpmath references for the activation families, from the definition only.

    l_f = (1 - p) E[f(beta + sigma Z)^2] + p int_0^1 E[(f(a u + beta + sigma Z) - u)^2] du.

Nothing of the closed forms is used: the activation enters only through evaluations f(y).

* Piecewise-polynomial f (``piecewise_loss_mp``): on each interval between breakpoints, f is
  a polynomial of known degree; its coefficients are recovered by interpolating f at
  degree + 1 points of the interval. The inner expectation is then exact: (F(m + sigma z) - u)^2
  is a polynomial in z and int_{z1}^{z2} z^k phi(z) dz follows from
  M_k = (k - 1) M_{k-2} + z1^{k-1} phi(z1) - z2^{k-1} phi(z2). The outer u-integral is
  ``mpmath.quad`` (tanh-sinh) split where m = a u + beta crosses a breakpoint and at
  1, 4 and 16 layer widths sigma/|a| around each crossing.
* ReLU^alpha for any alpha (``power_loss_mp``): both integrals by ``mpmath.quad`` (slow).

The working precision is ``digits`` plus ``GUARD`` decimal digits; the tests compare two
precisions to confirm the digits (tests/test_activations.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import mpmath

__all__ = ["GUARD", "piecewise_loss_mp", "power_loss_mp"]

GUARD = 40
_CUTOFF = mpmath.mpf(10) ** 6  # beyond |z| = 1e6, phi(z) is 0 and Phi(z) is 0 or 1 at any precision
_LAYERS = (-16, -4, -1, 1, 4, 16)


def _ncdf(z):
    if z > _CUTOFF:
        return mpmath.mpf(1)
    if z < -_CUTOFF:
        return mpmath.mpf(0)
    return mpmath.ncdf(z)


def _npdf(z):
    return mpmath.mpf(0) if abs(z) > _CUTOFF else mpmath.npdf(z)


def _moments(z1, z2, order: int) -> list:
    """int_{z1}^{z2} z^k phi(z) dz for k = 0..order (z1 may be -inf, z2 +inf)."""
    end = lambda z, k: mpmath.mpf(0) if mpmath.isinf(z) else z ** (k - 1) * _npdf(z) if k >= 1 else 0
    if z1 >= 0:
        m0 = _ncdf(-z1) - _ncdf(-z2)
    else:
        m0 = _ncdf(z2) - _ncdf(z1)
    out = [m0]
    if order >= 1:
        out.append(end(z1, 1) - end(z2, 1))
    for k in range(2, order + 1):
        out.append((k - 1) * out[k - 2] + end(z1, k) - end(z2, k))
    return out


def _interpolate(f: Callable, lo, hi, degree: int) -> list:
    """Coefficients c_0..c_degree of the polynomial equal to f on (lo, hi)."""
    if mpmath.isinf(lo) and mpmath.isinf(hi):
        points = [mpmath.mpf(k) for k in range(degree + 1)]
    elif mpmath.isinf(lo):
        points = [hi - 1 - k for k in range(degree + 1)]
    elif mpmath.isinf(hi):
        points = [lo + 1 + k for k in range(degree + 1)]
    else:
        points = [lo + (hi - lo) * (k + 1) / (degree + 2) for k in range(degree + 1)]
    matrix = mpmath.matrix([[x**k for k in range(degree + 1)] for x in points])
    values = mpmath.matrix([f(x) for x in points])
    return list(mpmath.lu_solve(matrix, values))


def _compose(coefficients: list, mean, sigma, u) -> list:
    """Coefficients in z of (F(mean + sigma z) - u)^2."""
    shifted = [mpmath.mpf(0)] * len(coefficients)
    for k, c in enumerate(coefficients):
        for j in range(k + 1):
            shifted[j] += c * mpmath.binomial(k, j) * mean ** (k - j) * sigma**j
    shifted[0] -= u
    square = [mpmath.mpf(0)] * (2 * len(shifted) - 1)
    for i, ci in enumerate(shifted):
        for j, cj in enumerate(shifted):
            square[i + j] += ci * cj
    return square


def piecewise_loss_mp(
    activation: Callable, breakpoints: Sequence, degree: int, p, a, sigma, beta, digits: int = 50
) -> mpmath.mpf:
    """l_f for a piecewise-polynomial f of the given degree, to about ``digits`` digits.

    ``activation`` maps an mpf to an mpf; ``breakpoints`` (increasing) and the other inputs
    may be floats (taken exactly), strings or mpf.
    """
    with mpmath.workdps(digits + GUARD):
        p, a, sigma, beta = (mpmath.mpf(v) for v in (p, a, sigma, beta))
        bps = [mpmath.mpf(b) for b in breakpoints]
        edges = [mpmath.ninf, *bps, mpmath.inf]
        pieces = [_interpolate(activation, lo, hi, degree) for lo, hi in itertools.pairwise(edges)]

        def expectation(u, mean):
            if sigma == 0:
                return (activation(mean) - u) ** 2
            z_edges = [mpmath.ninf, *((b - mean) / sigma for b in bps), mpmath.inf]
            total = mpmath.mpf(0)
            for coefficients, z1, z2 in zip(pieces, z_edges[:-1], z_edges[1:]):
                square = _compose(coefficients, mean, sigma, u)
                moments = _moments(z1, z2, len(square) - 1)
                total += mpmath.fsum(c * m for c, m in zip(square, moments))
            return total

        inactive = expectation(mpmath.mpf(0), beta)
        points = {mpmath.mpf(0), mpmath.mpf(1)}
        if a != 0:
            for b in bps:
                centre = (b - beta) / a
                for k in (0, *_LAYERS):
                    point = centre + k * sigma / abs(a)
                    if 0 < point < 1:
                        points.add(point)
        active = mpmath.quad(lambda u: expectation(u, a * u + beta), sorted(points))
        return +((1 - p) * inactive + p * active)


def power_loss_mp(p, a, sigma, beta, alpha, digits: int = 30) -> mpmath.mpf:
    """l_f for f = ReLU^alpha, any alpha > 0, by nested ``mpmath.quad`` (seconds per point).

    The inner expectation is u^2 Phi(-m/sigma) + int_0^inf (y^alpha - u)^2 phi((y - m)/sigma)/sigma dy,
    split at m and at multiples of sigma around it.
    """
    with mpmath.workdps(digits + GUARD):
        p, a, sigma, beta, alpha = (mpmath.mpf(v) for v in (p, a, sigma, beta, alpha))

        def expectation(u, mean):
            if sigma == 0:
                return ((max(mean, 0) ** alpha) - u) ** 2
            cuts = sorted({mpmath.mpf(0), *(mean + k * sigma for k in (-16, -4, -1, 0, 1, 4, 16) if mean + k * sigma > 0)})
            cuts.append(mean + 60 * sigma if mean + 60 * sigma > cuts[-1] else cuts[-1] + 60 * sigma)
            density = lambda y: _npdf((y - mean) / sigma) / sigma
            upper = mpmath.quad(lambda y: (y**alpha - u) ** 2 * density(y), cuts)
            return u * u * _ncdf(-mean / sigma) + upper

        inactive = expectation(mpmath.mpf(0), beta)
        points = {mpmath.mpf(0), mpmath.mpf(1)}
        if a != 0:
            centre = -beta / a
            for k in (0, *_LAYERS):
                point = centre + k * sigma / abs(a)
                if 0 < point < 1:
                    points.add(point)
        active = mpmath.quad(lambda u: expectation(u, a * u + beta), sorted(points))
        return +((1 - p) * inactive + p * active)
