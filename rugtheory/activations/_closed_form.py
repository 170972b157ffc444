"""Float64 assembly of a piecewise-polynomial family's stable loss (derivations/08, "Stable evaluation").

    l_f = (1 - p) inactive + p active,

* inactive: the region form of E[f(beta + sigma Z)^2] at u = 0 (m = beta, w = beta);
* active: int_0^1 split where m = a u + beta crosses a breakpoint; on each piece,
  Gauss-Legendre of the polynomial part (exact: ``poly_degree`` is known) plus
  sum_i [tail_i(lo) - tail_i(hi)] (integration by parts, ``_generated_families``).

Where |a| < sigma (or |a| < 1e-100) the u-integral of the same integrand is done by
32-node Gauss-Legendre instead, as ``rugtheory.numeric.closed_form`` does for the ReLU.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..numeric import _generated_families as gen
from ._tails import tails

__all__ = ["LEGENDRE_NODES", "evaluate", "evaluate_parts"]

LEGENDRE_NODES = 32


@cache
def _legendre(count: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.legendre.leggauss(count)
    return (nodes + 1.0) / 2.0, weights / 2.0


def _breakpoints(family: dict, theta: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(b, dtype=float) + np.zeros_like(theta) for b in family["breakpoints"](theta)]


def _argument(above: bool, breakpoint, mean, sigma):
    """s >= 0 of a tail: (b - m)/sigma above, (m - b)/sigma below; +inf where sigma = 0."""
    gap = breakpoint - mean if above else mean - breakpoint
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(sigma > 0, gap / np.where(sigma > 0, sigma, 1.0), np.inf)
    return np.maximum(s, 0.0)


def _region(mean, breakpoints) -> np.ndarray:
    """Index of the piece that holds the mean: the number of breakpoints strictly below it."""
    region = np.zeros(np.shape(mean), dtype=int)
    for b in breakpoints:
        region += mean > b
    return region


def _expectation(family, breakpoints, a, am1, beta, sigma, theta, u) -> np.ndarray:
    """E[(f(a u + beta + sigma Z) - u)^2] pointwise (the region's point form)."""
    mean = a * u + beta
    region = _region(mean, breakpoints)
    out = np.zeros(np.broadcast(mean, sigma).shape)
    order = family["max_tail_order"]
    for j, (poly, terms) in enumerate(family["regions"]):
        mask = region == j
        if not mask.any():
            continue
        args = [np.broadcast_to(v, out.shape)[mask] for v in (a, am1, beta, sigma, theta, u)]
        aj, am1j, betaj, sigmaj, thetaj, uj = args
        value = poly(aj, am1j, betaj, sigmaj, thetaj, uj)
        for i, above, _, point in terms:
            b = np.broadcast_to(breakpoints[i], out.shape)[mask]
            s = _argument(above, b, aj * uj + betaj, sigmaj)
            value = value + point(aj, sigmaj, thetaj, uj, tails(s, order))
        out[mask] = value
    return out


def _active_quadrature(family, breakpoints, a, am1, beta, sigma, theta) -> np.ndarray:
    nodes, weights = _legendre(LEGENDRE_NODES)
    column = lambda v: np.asarray(v)[:, None]
    values = _expectation(
        family, [column(b) for b in breakpoints], column(a), column(am1), column(beta),
        column(sigma), column(theta), nodes[None, :],
    )
    return values @ weights


def _active_closed(family, breakpoints, a, am1, beta, sigma, theta) -> np.ndarray:
    n = a.size
    order = family["max_tail_order"]
    nodes, weights = _legendre(family["poly_degree"] // 2 + 1)
    raw = [(b - beta) / a for b in breakpoints]
    crossings = [np.clip(c, 0.0, 1.0) for c in raw]
    interior = [(c >= 0.0) & (c <= 1.0) for c in raw]
    cuts = np.sort(np.stack([np.zeros(n), np.ones(n), *crossings]), axis=0)
    total = np.zeros(n)
    for q in range(cuts.shape[0] - 1):
        lo, hi = cuts[q], cuts[q + 1]
        width = hi - lo
        region = _region(a * (0.5 * (lo + hi)) + beta, breakpoints)
        for j, (poly, terms) in enumerate(family["regions"]):
            mask = (region == j) & (width > 0)
            if not mask.any():
                continue
            aj, am1j, betaj, sigmaj, thetaj, loj, hij = (
                v[mask] for v in (a, am1, beta, sigma, theta, lo, hi)
            )
            span = hij - loj
            u = loj[:, None] + span[:, None] * nodes[None, :]
            column = lambda v: v[:, None]
            value = span * (
                poly(column(aj), column(am1j), column(betaj), column(sigmaj), column(thetaj), u) @ weights
            )
            for i, above, tail, _ in terms:
                b = breakpoints[i][mask]
                at_crossing = interior[i][mask]
                crossing = crossings[i][mask]
                for sign, end in ((1.0, loj), (-1.0, hij)):
                    s = _argument(above, b, aj * end + betaj, sigmaj)
                    s = np.where(at_crossing & (end == crossing), 0.0, s)  # m = b_i exactly there
                    value = value + sign * tail(aj, sigmaj, thetaj, end, tails(s, order))
            total[mask] += value
    return total


def evaluate(name: str, p, a, am1, beta, sigma, theta) -> np.ndarray:
    """l_f of family ``name`` (a key of ``_generated_families.FAMILIES``), float64, broadcast.

    ``am1`` is a - 1 given exactly; ``theta`` is ignored by families without a threshold.
    """
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (p, a, am1, beta, sigma, theta)))
    inactive, active = evaluate_parts(name, *(v.reshape(-1) for v in arrays))
    p = arrays[0].reshape(-1)
    return ((1.0 - p) * inactive + p * active).reshape(arrays[0].shape)


def evaluate_parts(name: str, p, a, am1, beta, sigma, theta) -> tuple[np.ndarray, np.ndarray]:
    """(E[f(beta + sigma Z)^2], int_0^1 E[(f(a u + beta + sigma Z) - u)^2] du) at 1-D arrays."""
    family = gen.FAMILIES[name]
    breakpoints = _breakpoints(family, theta)
    inactive = _expectation(family, breakpoints, a, am1, beta, sigma, theta, np.zeros_like(a))
    active = np.empty_like(a)
    by_quadrature = (np.abs(a) < sigma) | (np.abs(a) < 1e-100)
    for mask, method in ((~by_quadrature, _active_closed), (by_quadrature, _active_quadrature)):
        if mask.any():
            active[mask] = method(
                family, [b[mask] for b in breakpoints], a[mask], am1[mask], beta[mask], sigma[mask], theta[mask]
            )
    return inactive, active
