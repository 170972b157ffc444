"""Structured phases: exact per-feature losses of small-group solutions (issue 5, derivations/12_phases.md).

Antipodal pairs (r = 1/2): features i and j share one hidden direction with opposite signs, so row i
of W is a at i, -a at its partner j and 0 elsewhere: y_i = ReLU(a (x_i - x_j) + b). With b = -a t,
a > 0 and 0 <= t <= 1 (a threshold inside the data's range), the loss of row i, from THEORY.md's
data (x = 0 w.p. 1 - p, else U[0, 1]), is integrated here from its definition:

    l = p (1 - p) int_0^1 (ReLU(a (u - t)) - u)^2 du + p^2 int int (ReLU(a (u - w - t)) - u)^2 du dw

(both inactive costs ReLU(b)^2 = 0; only the partner active gives ReLU(-a (w + t)) = 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from .data import p, u

__all__ = ["AntipodalForm", "antipodal_loss"]

a, t, w = sp.symbols("a t w", positive=True)


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
