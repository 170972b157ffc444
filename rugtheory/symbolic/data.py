"""Moments of one data coordinate, integrated from the mixture (THEORY.md, Data).

x = 0 with probability 1 - p and x ~ U[0, 1] with probability p.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

__all__ = ["data_moments", "interference_moments", "p", "raw_moment", "u"]

p = sp.Symbol("p", positive=True)
u = sp.Symbol("u", real=True)


def raw_moment(k: int) -> sp.Expr:
    """E x^k = (1 - p) 0^k + p int_0^1 u^k du, by integration of the mixture."""
    atom = sp.Integer(0) ** k if k > 0 else sp.Integer(1)
    return sp.simplify((1 - p) * atom + p * sp.integrate(u**k, (u, 0, 1)))


@cache
def data_moments() -> dict[str, sp.Expr]:
    """E x, E x^2, E x^3 and Var x (THEORY.md lists p/2, p/3, p/4, p/3 - p^2/4)."""
    mean = raw_moment(1)
    second = raw_moment(2)
    return {
        "mean": mean,
        "second": second,
        "third": raw_moment(3),
        "variance": sp.factor(second - mean**2),
    }


@cache
def interference_moments() -> dict[str, sp.Expr]:
    """Mean and variance of nu_i = sum_{j != i} W_ij x_j for independent x_j.

    With R = sum_{j != i} W_ij and S = sum_{j != i} W_ij^2 (the off-diagonal power):
    E nu_i = E x * R and Var nu_i = Var x * S, by linearity and independence.
    """
    row_sum, offdiag_power = sp.symbols("R S", real=True)
    moments = data_moments()
    return {
        "mean": moments["mean"] * row_sum,
        "variance": moments["variance"] * offdiag_power,
        "row_sum": row_sum,
        "offdiag_power": offdiag_power,
    }
