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

__all__ = ["AntipodalForm", "LeadingForms", "PairRowForm", "RowKernel", "antipodal_loss", "leading_forms", "pair_row_loss",
           "row_kernel", "rug_pair_limit"]

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


y = sp.Symbol("y", real=True)


@dataclass(frozen=True)
class RowKernel:
    """A group row's cost given its total input offset y = b + nu, as truncated powers (derivations/12_phases.md).

    ``silent`` is ReLU(y)^2 (the row's own feature inactive), ``active`` is
    int_0^1 (ReLU(a u + y) - u)^2 du (active with value u). Each is sum coef * (y + shift)_+^power
    plus ``active_constant`` (1/3 for the active part, 0 for the silent one).
    """

    silent: tuple[tuple[sp.Expr, sp.Expr, int], ...]
    active: tuple[tuple[sp.Expr, sp.Expr, int], ...]
    active_constant: sp.Expr
    pieces: tuple[sp.Expr, sp.Expr]  # the active cost for y >= 0 and for -a < y < 0, integrated


@cache
def row_kernel() -> RowKernel:
    """Integrate the active cost on its three pieces of y (a > 0) and read off its truncated powers (cached).

    y <= -a: the row never fires, cost 1/3. -a < y < 0: it fires for u > -y/a. y >= 0: always.
    The middle piece minus 1/3 is a cubic in z = y + a with no z^0, z^1 terms, and the top piece
    differs from it by a pure y^3 term, so the cost is 1/3 + A (y + a)_+^3 + B (y + a)_+^2 - A y_+^3.
    """
    z = sp.Symbol("z", real=True)
    top = sp.expand(sp.integrate((a * u + y - u) ** 2, (u, 0, 1)))
    mid = sp.expand(sp.integrate(u**2, (u, 0, -y / a)) + sp.integrate((a * u + y - u) ** 2, (u, -y / a, 1)))
    shifted = sp.Poly(sp.expand((mid - sp.Rational(1, 3)).subs(y, z - a)), z)
    cube, square = (sp.simplify(shifted.coeff_monomial(z**k)) for k in (3, 2))
    assert all(sp.simplify(shifted.coeff_monomial(z**k)) == 0 for k in (0, 1))
    jump = sp.Poly(sp.expand(top - mid), y)
    assert all(sp.simplify(jump.coeff_monomial(y**k)) == 0 for k in (0, 1, 2))
    top_cube = sp.simplify(jump.coeff_monomial(y**3))
    return RowKernel(
        silent=((sp.Integer(1), sp.Integer(0), 2),),
        active=((cube, a, 3), (square, a, 2), (top_cube, sp.Integer(0), 3)),
        active_constant=sp.Rational(1, 3),
        pieces=(top, mid),
    )


@dataclass(frozen=True)
class LeadingForms:
    """High-sparsity constants (derivations/12_phases.md, "High sparsity"): L ~ C p^2 for non-positive partners.

    ``partner`` is D(c) = int int (ReLU(u - c w) - u)^2 du dw, one partner of relative weight -c at
    a = 1, b = 0, as (c < 1, c >= 1) pieces; ``pair`` the best rank-1 pair's constant
    min_g [D(g) + D(1/g)]/2 with its g; ``simplex`` (k - 1) D(1/(k - 1)) as a function of k.
    """

    partner: tuple[sp.Expr, sp.Expr]
    pair: sp.Expr
    pair_ratio: sp.Expr
    simplex: sp.Expr


@cache
def leading_forms() -> LeadingForms:
    """Derive the p^2 constants from ``pair_row_loss`` at a = 1, t = 0 (cached)."""
    k, g = sp.symbols("k g", positive=True)
    form = pair_row_loss()
    near = sp.factor(form.both_near.subs({a: 1, t: 0}))
    far = sp.factor(form.both_far.subs({a: 1, t: 0}))
    mean = (far.subs(c, g) + near.subs(c, 1 / g)) / 2  # g >= 1: row one far, row two near
    roots = [root for root in sp.solve(sp.diff(mean, g), g) if root.is_real and root > 1]
    best = min(roots, key=lambda root: mean.subs(g, root))
    simplex = sp.factor((k - 1) * near.subs(c, 1 / (k - 1)))
    return LeadingForms(partner=(near, far), pair=sp.nsimplify(mean.subs(g, best)), pair_ratio=best, simplex=simplex)


@cache
def rug_pair_limit() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """p -> 0 limit of (rug at rho + rank-1 pairs at 1/2) / L*(p, r) (derivations/12_phases.md, "High sparsity").

    To leading order the rug's loss is K (1 - rho)/rho with K = p^2 ln(1/p)/6 and the pairs' loss
    O(p^2) is negligible, so the envelope at r < 1/2 is min_rho K (1 - rho)/rho (1/2 - r)/(1/2 - rho).
    Returns (rho*, the minimum of (1 - rho)/(rho (1/2 - rho)), the ratio to L* as a function of r),
    valid for rho* < r < 1/2.
    """
    rho, r = sp.symbols("rho r", positive=True)
    h = (1 - rho) / (rho * (sp.Rational(1, 2) - rho))
    roots = [root for root in sp.solve(sp.diff(h, rho), rho) if 0 < root < sp.Rational(1, 2)]
    (best,) = roots
    h_min = sp.nsimplify(sp.simplify(h.subs(rho, best)))
    ratio = sp.simplify((sp.Rational(1, 2) - r) * h_min * r / (1 - r))
    return sp.simplify(best), h_min, ratio
