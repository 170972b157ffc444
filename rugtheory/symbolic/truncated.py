"""The active feature's posterior: x ~ U[0, 1] seen as v = x + kappa Z (derivations/11_power_bounds.md).

Given v and the active event, x has density proportional to phi((x - v)/kappa) on [0, 1]: a
normal N(v, kappa^2) truncated to [0, 1]. With x = v + kappa z the bounds are
z_lo = -v/kappa and z_hi = (1 - v)/kappa, and sympy integrates the moments
int_{z_lo}^{z_hi} z^k phi(z) dz (k = 0, 1, 2) from their definition. From them:

* q1(v) = M_0 = Phi(z_hi) - Phi(z_lo), the density of v given active;
* m1(v) = v + kappa M_1/M_0, the posterior mean;
* Var(x | v) = kappa^2 (M_2/M_0 - (M_1/M_0)^2), and the integrand of the active MMSE's deficit
  c = (1 - Var/kappa^2) q1, which ``rugtheory.asymptotics.power_bounds.active_noise`` integrates.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from .functions import Phi, gaussian_pdf, phi, z

__all__ = ["TruncatedPosterior", "truncated_posterior", "z_hi", "z_lo"]

z_lo, z_hi = sp.symbols("z_lo z_hi", real=True)


@dataclass(frozen=True)
class TruncatedPosterior:
    """Moments M_k = int_{z_lo}^{z_hi} z^k phi(z) dz and the derived mean shift, variance ratio and c."""

    moments: tuple[sp.Expr, sp.Expr, sp.Expr]
    mean_shift: sp.Expr      # (m1 - v)/kappa = M_1/M_0
    variance_ratio: sp.Expr  # Var(x | v, active)/kappa^2
    deficit: sp.Expr         # c = (1 - variance_ratio) M_0


def _to_phi(expr: sp.Expr) -> sp.Expr:
    """Rewrite erf and exp(-x^2/2) in Phi and phi."""
    expr = expr.replace(sp.erf, lambda x: 2 * Phi(x * sp.sqrt(2)) - 1)
    for bound in (z_lo, z_hi):
        expr = expr.subs(sp.exp(-(bound**2) / 2), sp.sqrt(2 * sp.pi) * phi(bound))
    return sp.simplify(expr)


@cache
def truncated_posterior() -> TruncatedPosterior:
    """Derive the truncated-normal moments from their integrals (cached)."""
    moments = tuple(_to_phi(sp.integrate(z**k * gaussian_pdf(z), (z, z_lo, z_hi))) for k in range(3))
    shift = sp.simplify(moments[1] / moments[0])
    ratio = sp.simplify(moments[2] / moments[0] - shift**2)
    deficit = sp.simplify((1 - ratio) * moments[0])
    return TruncatedPosterior(moments=moments, mean_shift=shift, variance_ratio=ratio, deficit=deficit)
