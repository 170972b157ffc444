"""Vectorised float64 evaluation of the mean-field loss and its tied derivatives.

Assembles the generated stable forms (``_generated.py``, from ``symbolic/stable.py``):

    q = (1 - p) inactive + p sum_regions [ Simpson(poly, u_lo, u_hi) + tail(u_lo, s_lo) - tail(u_hi, s_hi) ].

Where |a| < sigma (and |a| < 1e-100) the u-integral of the same stable integrand is done by
Gauss-Legendre quadrature instead: there the integrand varies on the scale sigma/|a| >= 1
in u, so 32 nodes are exact to rounding, and the endpoint differences would cancel.
derivations/03_meanfield_loss.md, "Stable evaluation".
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import _generated as gen
from .tails import gaussian_tails

__all__ = ["LEGENDRE_NODES", "QUANTITIES", "evaluate", "evaluate_many", "loss"]

QUANTITIES = ("loss", "d_a", "d_beta", "d_aa", "d_abeta", "d_betabeta")
LEGENDRE_NODES = 32


@lru_cache(maxsize=1)
def _legendre() -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.legendre.leggauss(LEGENDRE_NODES)
    return (nodes + 1.0) / 2.0, weights / 2.0


def _tail_argument(region: str, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """s = -m/sigma (region L) or m/sigma (R), clipped at 0; +inf where sigma = 0."""
    signed = -mean if region == "L" else mean
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # |m|/sigma beyond float64: s = inf, a zero tail
        s = np.where(sigma > 0, signed / np.where(sigma > 0, sigma, 1.0), np.inf)
    return np.maximum(s, 0.0)


def _inactive(quantities, a, beta, sigma) -> list[np.ndarray]:
    region_l = beta <= 0
    s = np.where(region_l, _tail_argument("L", beta, sigma), _tail_argument("R", beta, sigma))
    tails = gaussian_tails(s, gen.MAX_TAIL_ORDER)
    return [
        np.where(
            region_l,
            gen.FORMS[q, "L"][3](a, beta, sigma, tails),
            gen.FORMS[q, "R"][3](a, beta, sigma, tails),
        )
        for q in quantities
    ]


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


def _active_closed(quantities, a, am1, beta, sigma) -> list[np.ndarray]:
    regions, split, interior = _regions(a, beta)
    totals = [np.zeros_like(a) for _ in quantities]
    for region, (lo, hi) in regions.items():
        width = hi - lo
        nonempty = width > 0
        mid = 0.5 * (lo + hi)
        ends = []
        for end in (lo, hi):
            s = _tail_argument(region, a * end + beta, sigma)
            s = np.where(interior & (end == split), 0.0, s)  # m(u_c) = 0 exactly
            ends.append(gaussian_tails(np.where(nonempty, s, np.inf), gen.MAX_TAIL_ORDER))
        for i, q in enumerate(quantities):
            poly, tail = gen.FORMS[q, region][:2]
            simpson = width / 6.0 * (
                poly(a, am1, beta, sigma, lo) + 4.0 * poly(a, am1, beta, sigma, mid) + poly(a, am1, beta, sigma, hi)
            )
            value = simpson + tail(a, beta, sigma, lo, ends[0]) - tail(a, beta, sigma, hi, ends[1])
            totals[i] = totals[i] + np.where(nonempty, value, 0.0)
    return totals


def _active_quadrature(quantities, a, am1, beta, sigma) -> list[np.ndarray]:
    nodes, weights = _legendre()
    a_, am1_, beta_, sigma_ = (v[..., None] for v in (a, am1, beta, sigma))
    mean = a_ * nodes + beta_
    tails = {
        region: gaussian_tails(_tail_argument(region, mean, sigma_), gen.MAX_TAIL_ORDER)
        for region in ("L", "R")
    }
    out = []
    for q in quantities:
        values = [gen.FORMS[q, region][2](a_, am1_, beta_, sigma_, nodes, tails[region]) for region in ("L", "R")]
        integrand = np.where(mean <= 0, values[0], values[1])
        out.append((integrand * weights).sum(axis=-1))
    return out


def evaluate_many(quantities, p, a, beta, sigma, a_minus_one=None) -> list[np.ndarray]:
    """Several quantities of QUANTITIES at broadcast (p, a, beta, sigma), sharing the tail work.

    Derivatives are in (a, beta) with sigma = kappa a tied (derivations/04_gradient_hessian.md).
    ``a_minus_one`` gives a - 1 exactly when a is within rounding of 1 (the solver near p -> 0).
    """
    if a_minus_one is None:
        a_minus_one = np.asarray(a, dtype=float) - 1.0
    arrays = (np.asarray(v, dtype=float) for v in (p, a, a_minus_one, beta, sigma))
    p, a, am1, beta, sigma = np.broadcast_arrays(*arrays)
    shape = p.shape
    p, a, am1, beta, sigma = (v.reshape(-1) for v in (p, a, am1, beta, sigma))
    active = [np.empty_like(a) for _ in quantities]
    # |a| < 1e-100 too: the closed form's 1/a^2 would underflow to 0/0 (the integrand is then
    # constant in u to rounding, which the quadrature integrates exactly).
    by_quadrature = (np.abs(a) < sigma) | (np.abs(a) < 1e-100)
    for mask, method in ((~by_quadrature, _active_closed), (by_quadrature, _active_quadrature)):
        if mask.any():
            for target, value in zip(active, method(quantities, a[mask], am1[mask], beta[mask], sigma[mask])):
                target[mask] = value
    inactive = _inactive(quantities, a, beta, sigma)
    return [((1.0 - p) * i + p * act).reshape(shape) for i, act in zip(inactive, active)]


def evaluate(quantity: str, p, a, beta, sigma, a_minus_one=None) -> np.ndarray:
    """One quantity of QUANTITIES at broadcast (p, a, beta, sigma)."""
    return evaluate_many((quantity,), p, a, beta, sigma, a_minus_one)[0]


def loss(p, a, sigma, beta) -> np.ndarray:
    """The mean-field loss l(a, sigma, beta; p) of THEORY.md, float64, vectorised."""
    return evaluate("loss", p, a, beta, sigma)
