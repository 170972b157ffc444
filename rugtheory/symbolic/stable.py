"""The stable form of the mean-field loss and its tied derivatives (derivations/03_meanfield_loss.md).

The readable closed form cancels catastrophically at small p: the loss is ~p^2 while its
terms are ~p. Here the same integral is rewritten so that every term is a small positive
tail. The u-integral is split where the mean pre-activation m = a u + beta changes sign:

* region "L" (m <= 0): (ReLU(y) - u)^2 = ReLU(y)^2 - 2u ReLU(y) + u^2,
* region "R" (m >= 0): (ReLU(y) - u)^2 = (y - u)^2 - ReLU(-y)^2 - 2u ReLU(-y),

and E[ReLU(+-y)^k] = sigma^k J_k(s) with s = -+m/sigma >= 0 (``gaussian.relu_moment_tail``).
Each region's integrand is then poly(u) + sum_k P_k(u) J_k(s(u)). The polynomial part is
integrated exactly by Simpson's rule (it is at most cubic), and the tail part by
repeated integration by parts,

    int_x^inf P(t) J_k(t) dt = sum_i P^(i)(x) J_{k+1+i}(x) / (d_{k+1} ... d_{k+1+i}),

with the derivatives of P taken at the endpoint's exact u, so that no two large terms meet.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from .data import u
from .functions import J, gaussian_pdf, tail_step, z
from .gaussian import relu_moment_tail, sigma
from .meanfield import a, beta, kappa

__all__ = [
    "QUANTITIES",
    "REGIONS",
    "RegionForm",
    "check_region_identity",
    "du_ds",
    "inactive_forms",
    "inactive_integrand",
    "region_forms",
    "region_integrand",
    "s",
    "tail_antiderivative",
]

REGIONS = ("L", "R")
QUANTITIES = ("loss", "d_a", "d_beta", "d_aa", "d_abeta", "d_betabeta")
_DERIVATIVES = {
    "loss": (),
    "d_a": (a,),
    "d_beta": (beta,),
    "d_aa": (a, a),
    "d_abeta": (a, beta),
    "d_betabeta": (beta, beta),
}

s = sp.Symbol("s", nonnegative=True)
_y = sp.Symbol("y", real=True)


def check_region_identity() -> bool:
    """(ReLU(y) - u)^2 = (y - u)^2 - ReLU(-y)^2 - 2u ReLU(-y) on both branches of y."""
    relu = lambda v: sp.Max(v, 0)
    lhs = (relu(_y) - u) ** 2
    rhs = (_y - u) ** 2 - relu(-_y) ** 2 - 2 * u * relu(-_y)
    pos = sp.Symbol("pos", positive=True)
    return all(
        sp.simplify((lhs - rhs).subs(_y, value)) == 0 for value in (pos, -pos, sp.S.Zero)
    )


def _signed_s(region: str, mean: sp.Expr) -> sp.Expr:
    """s >= 0 of a region: -m/sigma in L, m/sigma in R."""
    return -mean / sigma if region == "L" else mean / sigma


def region_integrand(region: str) -> sp.Expr:
    """E[(ReLU(a u + beta + sigma Z) - u)^2] in the region's non-cancelling form."""
    mean = a * u + beta
    if region == "L":
        relu1 = relu_moment_tail(1, mean, sigma)
        relu2 = relu_moment_tail(2, mean, sigma)
        return relu2 - 2 * u * relu1 + u**2
    square = sp.integrate(sp.expand((mean + sigma * z - u) ** 2) * gaussian_pdf(z), (z, -sp.oo, sp.oo))
    neg1 = relu_moment_tail(1, -mean, sigma)
    neg2 = relu_moment_tail(2, -mean, sigma)
    return sp.expand(square) - neg2 - 2 * u * neg1


def inactive_integrand(region: str) -> sp.Expr:
    """E[ReLU(beta + sigma Z)^2]: tail form for beta <= 0 (L), y^2 minus tail for beta >= 0 (R)."""
    if region == "L":
        return relu_moment_tail(2, beta, sigma)
    square = sp.integrate(sp.expand((beta + sigma * z) ** 2) * gaussian_pdf(z), (z, -sp.oo, sp.oo))
    return sp.expand(square) - relu_moment_tail(2, -beta, sigma)


def _differentiate(expr: sp.Expr, quantity: str) -> sp.Expr:
    """The quantity's derivative in (a, beta) with sigma = kappa a, written back in sigma."""
    variables = _DERIVATIVES[quantity]
    if not variables:
        return expr
    tied = expr.subs(sigma, kappa * a)
    for var in variables:
        tied = sp.diff(tied, var)
    return tied.subs(kappa, sigma / a)


def _split(expr: sp.Expr, argument: sp.Expr) -> tuple[sp.Expr, dict[int, sp.Expr]]:
    """Split into poly(u) + sum_k P_k(u) J_k(argument), replacing the J argument by s."""
    expr = sp.expand(expr)
    poly = sp.S.Zero
    tails: dict[int, sp.Expr] = {}
    for term in sp.Add.make_args(expr):
        js = [f for f in term.atoms(J)]
        if not js:
            poly += term
            continue
        if len(js) != 1:
            raise RuntimeError(f"a term with several tails: {term}")
        (jk,) = js
        k, arg = jk.args
        if sp.simplify(arg - argument) != 0:
            raise RuntimeError(f"unexpected tail argument {arg}, expected {argument}")
        coefficient = sp.simplify(term / jk)
        if coefficient.has(J):
            raise RuntimeError(f"tail appears non-linearly: {term}")
        tails[int(k)] = tails.get(int(k), sp.S.Zero) + coefficient
    return sp.simplify(poly), {k: sp.factor(v) for k, v in sorted(tails.items())}


def du_ds(region: str) -> sp.Expr:
    """du/ds along a region: s = -(a u + beta)/sigma in L and (a u + beta)/sigma in R."""
    return -sigma / a if region == "L" else sigma / a


def tail_antiderivative(region: str, tails: dict[int, sp.Expr], x: sp.Symbol) -> sp.Expr:
    """W(x) = int_x^inf sum_k P_k J_k ds, by parts, with P_k's derivatives taken in u at the endpoint.

    ``u`` in the result stands for the endpoint's u, ``x`` for its s.
    """
    slope = du_ds(region)
    total = sp.S.Zero
    for k, coefficient in tails.items():
        poly = sp.Poly(coefficient, u)
        derivative = coefficient
        divisor = sp.S.One
        for i in range(poly.degree() + 1):
            divisor *= tail_step(k + 1 + i)
            total += slope**i * derivative * J(k + 1 + i, x) / divisor
            derivative = sp.diff(derivative, u)
    return total


@dataclass(frozen=True)
class RegionForm:
    """One quantity in one region: poly(u) + sum_k tails[k](u) J_k(s), and the antiderivative W."""

    poly: sp.Expr
    tails: dict[int, sp.Expr]
    antiderivative: sp.Expr


@cache
def region_forms() -> dict[tuple[str, str], RegionForm]:
    """Every (quantity, region) of the active part, derived once per process."""
    forms = {}
    for region in REGIONS:
        base = region_integrand(region)
        argument = _signed_s(region, a * u + beta)
        for quantity in QUANTITIES:
            poly, tails = _split(_differentiate(base, quantity), argument)
            if sp.Poly(poly, u).degree() > 3:
                raise RuntimeError("Simpson's rule needs a polynomial part of degree <= 3")
            forms[quantity, region] = RegionForm(
                poly=poly, tails=tails, antiderivative=tail_antiderivative(region, tails, s)
            )
    return forms


@cache
def inactive_forms() -> dict[tuple[str, str], sp.Expr]:
    """Every (quantity, region) of the inactive part, written in J_k(s) with s = |beta|/sigma."""
    forms = {}
    for region in REGIONS:
        base = inactive_integrand(region)
        argument = _signed_s(region, beta)
        for quantity in QUANTITIES:
            poly, tails = _split(_differentiate(base, quantity), argument)
            forms[quantity, region] = poly + sum(c * J(k, s) for k, c in tails.items())
    return forms
