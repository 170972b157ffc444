"""The Bayes-optimal elementwise estimator and its loss, derived (derivations/09_mmse.md).

Channel: v = x + kappa Z, x = 0 w.p. 1 - p and x ~ U[0, 1] w.p. p (THEORY.md, Data), Z ~ N(0, 1).

1. ``posterior_moments``: the density of v, D(v) = (1-p) phi(v/kappa)/kappa
   + p int_0^1 phi((v - u)/kappa)/kappa du, and the numerators N_j(v) = p int_0^1 u^j
   phi((v - u)/kappa)/kappa du (j = 1, 2), integrated by sympy and written in Phi and phi.
   The posterior mean is N_1/D, the posterior second moment N_2/D.
2. ``tweedie_residual``: N_1 - v D - kappa^2 dD/dv, which is 0 (Tweedie's formula).
3. ``layer``: the small-kappa reduction. In the layer v = kappa w near v = 0 the marginal,
   divided by p, tends to m(w) = phi(w)/eps + Phi(w), eps = p kappa/(1 - p), and Brown's
   identity turns the layer's excess risk into R_0(eps) = int [w^2 phi/eps - m'^2/m] dw.
   ``layer`` returns m and that integrand in the cancellation-free form
   [a (w^2 Phi + 2 w phi) - phi^2]/(a + Phi), a = phi/eps.
4. ``truncated_moments``: B_j = int_lo^hi t^j phi(t) dt (j = 0, 1, 2), the moments of the active
   posterior in t = (u - v)/kappa on [lo, hi] = [-v/kappa, (1 - v)/kappa]; with them the posterior
   variance is a sum of non-negative terms (the mpmath reference uses it):
   D Var(x | v) = p B_0 kappa^2 (B_0 B_2 - B_1^2)/B_0^2 + p B_0 (off/D) m^2,
   off = (1 - p) phi(v/kappa)/kappa, m = v + kappa B_1/B_0.
5. ``sommerfeld_series``: R_0 for large T, T^2 = 2 ln(1/(eps sqrt(2 pi))): the off-posterior
   weight is 1/(1 + exp((w^2 - T^2)/2)) + O(eps), a Fermi function in E = w^2/2, so the
   Sommerfeld expansion with h(E) = w^2 dw/dE gives T^3/3 + sum_n 2 eta(2n) h^(2n-1)(T^2/2),
   eta the Dirichlet eta function (summed by sympy).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from .data import p
from .functions import Phi, gaussian_pdf, phi, to_phi, z

__all__ = [
    "Layer",
    "PosteriorMoments",
    "T",
    "eps",
    "hi",
    "kappa",
    "layer",
    "lo",
    "posterior_moments",
    "sommerfeld_series",
    "truncated_moments",
    "tweedie_residual",
    "v",
    "w",
]

v = sp.Symbol("v", real=True)
kappa = sp.Symbol("kappa", positive=True)
w = sp.Symbol("w", real=True)
eps = sp.Symbol("epsilon", positive=True)
T = sp.Symbol("T", positive=True)


@dataclass(frozen=True)
class PosteriorMoments:
    """D (density of v), N1, N2 (numerators of E[x | v] and E[x^2 | v]); ``active`` = the
    truncated-Gaussian integrals int_0^1 u^j phi((v - u)/kappa)/kappa du, j = 0, 1, 2."""

    density: sp.Expr
    first: sp.Expr
    second: sp.Expr
    active: tuple[sp.Expr, sp.Expr, sp.Expr]


def _active_moment(j: int) -> sp.Expr:
    """int_0^1 u^j phi((v - u)/kappa)/kappa du with u = v + kappa t, t from -v/kappa to (1 - v)/kappa."""
    lo, hi = sp.symbols("lo hi", real=True)
    terms = sp.expand((v + kappa * z) ** j).as_ordered_terms()
    integral = sum(sp.integrate(term * gaussian_pdf(z), (z, lo, hi)) for term in terms)
    expr = sp.expand(to_phi(sp.expand(integral)).subs({lo: -v / kappa, hi: (1 - v) / kappa}))
    return sp.collect(expr, [Phi((1 - v) / kappa), Phi(-v / kappa)])


@cache
def posterior_moments() -> PosteriorMoments:
    """D, N1, N2 in Phi and phi, integrated from the definitions (cached)."""
    active = tuple(_active_moment(j) for j in range(3))
    density = (1 - p) * phi(v / kappa) / kappa + p * active[0]
    return PosteriorMoments(density=density, first=p * active[1], second=p * active[2], active=active)


def tweedie_residual() -> sp.Expr:
    """N1 - v D - kappa^2 dD/dv, simplified (0: the posterior mean is v + kappa^2 (log D)')."""
    moments = posterior_moments()
    residual = moments.first - v * moments.density - kappa**2 * sp.diff(moments.density, v)
    return sp.simplify(sp.expand(residual))


lo = sp.Symbol("lo", real=True)
hi = sp.Symbol("hi", real=True)


@cache
def truncated_moments() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """B_j(lo, hi) = int_lo^hi t^j phi(t) dt, j = 0, 1, 2, in Phi and phi (cached)."""
    return tuple(
        sp.collect(sp.expand(to_phi(sp.integrate(z**j * gaussian_pdf(z), (z, lo, hi)))), [Phi(hi), Phi(lo)])
        for j in range(3)
    )


@dataclass(frozen=True)
class Layer:
    """The near-zero layer as kappa -> 0 at fixed eps = p kappa/(1 - p).

    ``marginal`` m(w); ``mean`` g(w) = w + m'/m (Tweedie); ``brown`` the integrand of R_0(eps)
    as w^2 phi/eps - m'^2/m; ``stable`` the same integrand without cancellation; ``upper`` the
    integrand -phi^2/Phi of the constant C_1 of the layer at v = 1 (a prior flat on one side).
    """

    marginal: sp.Expr
    mean: sp.Expr
    brown: sp.Expr
    stable: sp.Expr
    upper: sp.Expr


@cache
def layer() -> Layer:
    """The scaled marginal and Brown's integrand, derived from ``posterior_moments`` (cached)."""
    moments = posterior_moments()
    scaled = sp.expand(moments.density.subs(v, kappa * w) / p)
    # (1-p)/(p kappa) = 1/eps; Phi(w - 1/kappa) = O(exp(-1/(2 kappa^2))) is dropped in the layer
    scaled = sp.expand(scaled.subs(p, eps / (kappa + eps)))
    marginal = scaled.subs({Phi(-w + 1 / kappa): 1, Phi(-w): 1 - Phi(w)})
    marginal = sp.expand(sp.simplify(marginal))
    derivative = sp.diff(marginal, w)
    mean = w + derivative / marginal
    brown = w**2 * phi(w) / eps - derivative**2 / marginal
    a = phi(w) / eps
    stable = (a * (w**2 * Phi(w) + 2 * w * phi(w)) - phi(w) ** 2) / (a + Phi(w))
    upper = -phi(w) ** 2 / Phi(w)
    return Layer(marginal=marginal, mean=mean, brown=brown, stable=stable, upper=upper)


@cache
def sommerfeld_series(order: int = 3) -> sp.Expr:
    """R_0 ~ T^3/3 + sum_{n=1}^{order} 2 eta(2n) h^(2n-1)(T^2/2), h(E) = w^2 dw/dE at w = sqrt(2E)."""
    energy = sp.Symbol("E", positive=True)
    root = sp.sqrt(2 * energy)
    h = sp.simplify(root**2 * sp.diff(root, energy))
    n = sp.Symbol("n", integer=True, positive=True)
    at = {energy: T**2 / 2}
    series = sp.integrate(h, (energy, 0, energy)).subs(at)
    for order_n in range(1, order + 1):
        eta = sp.summation((-1) ** (n + 1) / n ** (2 * order_n), (n, 1, sp.oo))
        series += 2 * eta * sp.diff(h, energy, 2 * order_n - 1).subs(at)
    return sp.expand(sp.simplify(series))
