"""The mean-field loss l(a, sigma, beta; p) in closed form (derivations/03_meanfield_loss.md).

Derived, not typed in: THEORY.md's definition

    l = (1 - p) E[ReLU(beta + sigma Z)^2] + p int_0^1 E[(ReLU(a u + beta + sigma Z) - u)^2] du

is expanded as E[ReLU^2] - 2u E[ReLU] + u^2, the Gaussian moments come from
``gaussian.relu_moment`` and sympy integrates over u (through m = a u + beta).
The result is

    l = (1 - p) G_2(beta, sigma) + p/3 + (p/a) [Q(a + beta) - Q(beta)],
    Q(m) = A(m) Phi(m/sigma) + B(m) sigma phi(m/sigma),

with A and B polynomials. Gradient and Hessian are taken in (a, beta) with sigma = kappa a,
the rank bound (derivations/05_rank_bound.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from .data import p
from .functions import Phi, phi, to_phi
from .gaussian import m, relu_moment, sigma

__all__ = [
    "MeanFieldForm",
    "a",
    "beta",
    "kappa",
    "latex_loss",
    "meanfield_form",
    "meanfield_loss_expr",
    "tied_derivatives",
]

a = sp.Symbol("a", positive=True)
beta = sp.Symbol("beta", real=True)
kappa = sp.Symbol("kappa", positive=True)


@dataclass(frozen=True)
class MeanFieldForm:
    """The readable closed form: inactive part G_2, the antiderivative Q = A Phi + B sigma phi."""

    inactive: sp.Expr
    antiderivative: sp.Expr
    A: sp.Expr
    B: sp.Expr
    loss: sp.Expr


@cache
def meanfield_form() -> MeanFieldForm:
    """Derive the closed form of the mean-field loss (once per process)."""
    g1 = relu_moment(1)
    g2 = relu_moment(2)
    # Active integrand as a function of m = a u + beta, without the u^2 term (it integrates to 1/3).
    u_of_m = (m - beta) / a
    integrand = sp.expand((g2 - 2 * u_of_m * g1).rewrite(sp.erf))
    antiderivative = to_phi(sp.integrate(integrand, m))
    t = m / sigma
    parts = sp.collect(antiderivative, [Phi(t), phi(t)], evaluate=False)
    constant = sp.simplify(parts.pop(sp.S.One, sp.S.Zero))
    A = sp.factor(parts.pop(Phi(t), sp.S.Zero))
    B = sp.factor(parts.pop(phi(t), sp.S.Zero) / sigma)
    if parts or m in constant.free_symbols:
        raise RuntimeError(f"unexpected terms in the antiderivative: {parts}, {constant}")
    # A constant of integration cancels between the endpoints, so Q leaves it out.
    Q = A * Phi(t) + B * sigma * phi(t)
    inactive = g2.subs(m, beta)
    loss = (1 - p) * inactive + p / 3 + (p / a) * (Q.subs(m, a + beta) - Q.subs(m, beta))
    return MeanFieldForm(inactive=inactive, antiderivative=Q, A=A, B=B, loss=loss)


def meanfield_loss_expr() -> sp.Expr:
    """l(a, sigma, beta; p) as one sympy expression in Phi and phi."""
    return meanfield_form().loss


@cache
def tied_derivatives() -> dict[str, sp.Expr]:
    """Loss, gradient and Hessian in (a, beta) with sigma = kappa a (THEORY.md, Rank bound).

    Keys: loss, d_a, d_beta, d_aa, d_abeta, d_betabeta. Expressions are in a, beta, kappa, p.
    """
    loss = meanfield_loss_expr().subs(sigma, kappa * a)
    d_a = sp.diff(loss, a)
    d_beta = sp.diff(loss, beta)
    return {
        "loss": loss,
        "d_a": d_a,
        "d_beta": d_beta,
        "d_aa": sp.diff(d_a, a),
        "d_abeta": sp.diff(d_a, beta),
        "d_betabeta": sp.diff(d_beta, beta),
    }


def latex_loss() -> str:
    """The closed form as LaTeX lines: l, G_2 and Q."""
    form = meanfield_form()
    sym_m = sp.Symbol("m")
    Q = form.antiderivative.subs(m, sym_m)
    lines = [
        (r"\ell(a,\sigma,\beta;p) = (1-p)\,G_2(\beta) + \frac{p}{3}"
        r" + \frac{p}{a}\left[Q(a+\beta) - Q(\beta)\right]"),
        r"G_2(m) = " + sp.latex(relu_moment(2).subs(m, sym_m)),
        r"Q(m) = " + sp.latex(Q),
    ]
    return "\n".join(lines)
