"""Structured phases: exact per-feature losses of small-group solutions (issue 5, derivations/12_phases.md).

Antipodal pairs (r = 1/2): features i and j share one hidden direction with opposite signs, so row i
of W is a at i, -a at its partner j and 0 elsewhere: y_i = ReLU(a (x_i - x_j) + b). With b = -a t,
a > 0 and 0 <= t <= 1 (a threshold inside the data's range), the loss of row i, from THEORY.md's
data (x = 0 w.p. 1 - p, else U[0, 1]), is integrated here from its definition:

    l = p (1 - p) int_0^1 (ReLU(a (u - t)) - u)^2 du + p^2 int int (ReLU(a (u - w - t)) - u)^2 du dw

(both inactive costs ReLU(b)^2 = 0; only the partner active gives ReLU(-a (w + t)) = 0).

Rank-1 pairs in general (untied weights): the 2 x 2 block W_out W_in = [[a1, -c1], [-c2, a2]] has
a1 a2 = c1 c2, so the two rows of a pair may see different partner weights. ``pair_row_loss``
integrates one row, y = ReLU(a u - c w - a t), for any c > 0, in two pieces: c >= a (1 - t), where
the row fires for w < a (u - t)/c <= 1, and c < a (1 - t), where it fires for every w once
u > t + c/a. The antipodal pair is c = a.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from .data import p, u

__all__ = ["AntipodalForm", "PairRowForm", "antipodal_loss", "pair_row_loss"]

a, c, t, w = sp.symbols("a c t w", positive=True)


@dataclass(frozen=True)
class AntipodalForm:
    """The pair loss as a polynomial in (p, a, t), with its two parts."""

    single: sp.Expr   # only feature i active
    both: sp.Expr     # feature i and its partner active
    loss: sp.Expr


@cache
def antipodal_loss() -> AntipodalForm:
    """Integrate the antipodal-pair loss for a > 0, 0 <= t <= 1 (cached)."""
    single = sp.integrate(u**2, (u, 0, t)) + sp.integrate((a * (u - t) - u) ** 2, (u, t, 1))
    fired = sp.integrate(sp.integrate((a * (u - w - t) - u) ** 2, (w, 0, u - t)), (u, t, 1))
    silent = sp.integrate(sp.integrate(u**2, (w, u - t, 1)), (u, t, 1)) + sp.integrate(u**2, (u, 0, t))
    both = sp.factor(fired + silent)
    single = sp.factor(single)
    return AntipodalForm(single=single, both=both, loss=sp.expand(p * (1 - p) * single + p**2 * both))


@dataclass(frozen=True)
class PairRowForm:
    """One row of a rank-1 pair: single (partner silent) and both-active parts, the latter in two pieces."""

    single: sp.Expr
    both_far: sp.Expr    # c >= a (1 - t)
    both_near: sp.Expr   # c < a (1 - t)


@cache
def pair_row_loss() -> PairRowForm:
    """Integrate one pair row's loss for a, c > 0, 0 <= t <= 1 (cached)."""
    residual = (a * u - c * w - a * t - u) ** 2
    edge = a * (u - t) / c   # the row fires for w < edge
    kink = t + c / a         # edge = 1 here
    below = sp.integrate(u**2, (u, 0, t))
    far = (sp.integrate(sp.integrate(residual, (w, 0, edge)), (u, t, 1))
           + sp.integrate(sp.integrate(u**2, (w, edge, 1)), (u, t, 1)) + below)
    near = (sp.integrate(sp.integrate(residual, (w, 0, edge)), (u, t, kink))
            + sp.integrate(sp.integrate(residual, (w, 0, 1)), (u, kink, 1))
            + sp.integrate(sp.integrate(u**2, (w, edge, 1)), (u, t, kink)) + below)
    return PairRowForm(single=antipodal_loss().single, both_far=sp.factor(sp.expand(far)),
                       both_near=sp.factor(sp.expand(near)))
