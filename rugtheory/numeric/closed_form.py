"""Vectorised float64 evaluation of the mean-field loss and its tied derivatives.

Assembles the generated stable forms (``_generated.py``, from ``symbolic/stable.py``):

    q = (1 - p) inactive + p sum_regions [ Simpson(poly, u_lo, u_hi) + tail(u_lo, s_lo) - tail(u_hi, s_hi) ].

Where |a| < sigma (and a = 0) the u-integral of the same stable integrand is done by
Gauss-Legendre quadrature instead: there the integrand varies on the scale sigma/|a| >= 1
in u, so 32 nodes are exact to rounding, and the endpoint differences would cancel.
derivations/03_meanfield_loss.md, "Stable evaluation".
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import _generated as gen
from .tails import gaussian_tails

__all__ = ["evaluate", "loss", "QUANTITIES", "LEGENDRE_NODES"]

QUANTITIES = ("loss", "d_a", "d_beta", "d_aa", "d_abeta", "d_betabeta")
LEGENDRE_NODES = 32


@lru_cache(maxsize=1)
def _legendre() -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.legendre.leggauss(LEGENDRE_NODES)
    return (nodes + 1.0) / 2.0, weights / 2.0


def _tail_argument(region: str, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """s = -m/sigma (region L) or m/sigma (R), clipped at 0; +inf where sigma = 0."""
    signed = -mean if region == "L" else mean
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(sigma > 0, signed / np.where(sigma > 0, sigma, 1.0), np.inf)
    return np.maximum(s, 0.0)


def _inactive(quantity: str, a, beta, sigma) -> np.ndarray:
    region_l = beta <= 0
    s = _tail_argument("L", beta, sigma)
    s = np.where(region_l, s, _tail_argument("R", beta, sigma))
    tails = gaussian_tails(s, gen.MAX_TAIL_ORDER)
    value_l = gen.FORMS[quantity, "L"][3](a, beta, sigma, tails)
    value_r = gen.FORMS[quantity, "R"][3](a, beta, sigma, tails)
    return np.where(region_l, value_l, value_r)


def _regions(a, beta):
    """u-intervals of region L (m <= 0) and R (m >= 0), the split u_c, and whether m(u_c) = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = -beta / a
    interior = (raw >= 0.0) & (raw <= 1.0)
    split = np.clip(raw, 0.0, 1.0)
    increasing = a > 0
    zero = np.zeros_like(split)
    one = np.ones_like(split)
    # For a > 0, m <= 0 on [0, u_c]; for a < 0, on [u_c, 1].
    l_lo = np.where(increasing, zero, split)
    l_hi = np.where(increasing, split, one)
    r_lo = np.where(increasing, split, zero)
    r_hi = np.where(increasing, one, split)
    return {"L": (l_lo, l_hi), "R": (r_lo, r_hi)}, split, interior


def _active_closed(quantity: str, a, beta, sigma) -> np.ndarray:
    regions, split, interior = _regions(a, beta)
    total = np.zeros_like(a)
    for region, (lo, hi) in regions.items():
        poly, tail = gen.FORMS[quantity, region][:2]
        width = hi - lo
        simpson = width / 6.0 * (
            poly(a, beta, sigma, lo) + 4.0 * poly(a, beta, sigma, 0.5 * (lo + hi)) + poly(a, beta, sigma, hi)
        )
        ends = []
        for end in (lo, hi):
            s = _tail_argument(region, a * end + beta, sigma)
            s = np.where(interior & (end == split), 0.0, s)  # m(u_c) = 0 exactly
            ends.append(tail(a, beta, sigma, end, gaussian_tails(s, gen.MAX_TAIL_ORDER)))
        total = total + np.where(width > 0, simpson + ends[0] - ends[1], 0.0)
    return total


def _active_quadrature(quantity: str, a, beta, sigma) -> np.ndarray:
    nodes, weights = _legendre()
    a_, beta_, sigma_ = (v[..., None] for v in (a, beta, sigma))
    mean = a_ * nodes + beta_
    values = []
    for region in ("L", "R"):
        s = _tail_argument(region, mean, sigma_)
        point = gen.FORMS[quantity, region][2]
        values.append(point(a_, beta_, sigma_, nodes, gaussian_tails(s, gen.MAX_TAIL_ORDER)))
    integrand = np.where(mean <= 0, values[0], values[1])
    return (integrand * weights).sum(axis=-1)


def evaluate(quantity: str, p, a, beta, sigma) -> np.ndarray:
    """A quantity of QUANTITIES at broadcast (p, a, beta, sigma); derivatives tie sigma = kappa a."""
    p, a, beta, sigma = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (p, a, beta, sigma)))
    shape = p.shape
    p, a, beta, sigma = (v.reshape(-1) for v in (p, a, beta, sigma))
    active = np.empty_like(a)
    by_quadrature = (np.abs(a) < sigma) | (a == 0)
    closed = ~by_quadrature
    if closed.any():
        active[closed] = _active_closed(quantity, a[closed], beta[closed], sigma[closed])
    if by_quadrature.any():
        idx = by_quadrature
        active[idx] = _active_quadrature(quantity, a[idx], beta[idx], sigma[idx])
    value = (1.0 - p) * _inactive(quantity, a, beta, sigma) + p * active
    return value.reshape(shape)


def loss(p, a, sigma, beta) -> np.ndarray:
    """The mean-field loss l(a, sigma, beta; p) of THEORY.md, float64, vectorised."""
    return evaluate("loss", p, a, beta, sigma)
