"""Gaussian moments of the ReLU (derivations/02_gaussian_moments.md).

G_k(m, sigma) = E[ReLU(m + sigma Z)^k], integrated by sympy from the definition and
rewritten in Phi and phi; and the same moments as tails J_k, which is how the stable
numerics use them.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from .functions import J, Phi, gaussian_pdf, phi, to_phi, z

__all__ = ["check_tail_identity", "m", "relu_moment", "relu_moment_tail", "sigma"]

m = sp.Symbol("m", real=True)
sigma = sp.Symbol("sigma", positive=True)


@cache
def relu_moment(k: int) -> sp.Expr:
    """E[ReLU(m + sigma Z)^k] in Phi(m/sigma) and phi(m/sigma), from the integral over z > -m/sigma."""
    integral = sp.integrate((m + sigma * z) ** k * gaussian_pdf(z), (z, -m / sigma, sp.oo))
    expr = sp.expand(to_phi(sp.expand(integral)))
    t = m / sigma
    return sp.collect(expr, [Phi(t), phi(t)])


def relu_moment_tail(k: int, mean: sp.Expr, scale: sp.Expr) -> sp.Expr:
    """E[ReLU(mean + scale Z)^k] = scale^k J_k(-mean/scale), the tail form (valid for any sign)."""
    return scale**k * J(k, -mean / scale)


def check_tail_identity(k: int) -> bool:
    """True if the tail form and the Phi/phi form of E[ReLU(m + sigma Z)^k] agree symbolically."""
    tail = relu_moment_tail(k, m, sigma).rewrite(sp.erf)
    direct = relu_moment(k).rewrite(sp.erf)
    return sp.simplify(sp.expand(tail - direct).rewrite(sp.erfc)) == 0
