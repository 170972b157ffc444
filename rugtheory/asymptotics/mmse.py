"""The MMSE bound as kappa -> 0 (p -> 0 at fixed r, or r -> 1): derivations/09_mmse.md, "Asymptotics".

Two statements, of different strength:

1. Reduction (exact up to exponentially small terms). With eps = p kappa/(1 - p),

       MMSE(p, kappa) = p kappa^2 [1 + kappa F(eps)] + O(p exp(-1/(8 kappa^2))),
       F(eps) = C_1 + R_0(eps),   C_1 = -int phi^2/Phi dw = -0.9031972855686253536...,
       R_0(eps) = int [a (w^2 Phi + 2 w phi) - phi^2]/(a + Phi) dw,   a = phi(w)/eps.

   p kappa^2 is the noise on every active feature; kappa^3 F collects the two boundary layers:
   C_1 < 0 is the gain from knowing u <= 1, R_0 the price of deciding "off" or "on" near u = 0
   (Brown's identity on the layer's improper prior, ``rugtheory.symbolic.mmse.layer``).
   ``loss_reduced`` evaluates this with R_0 by float64 quadrature.
2. Expansion of F for large T, T^2 = 2 ln(1/(eps sqrt(2 pi))) (T = v_th/kappa, the detection
   threshold in noise units; T^2 ~ 3 ln(1/p) at fixed r), a Sommerfeld series:

       F = T^3/3 + C_1 + pi^2/(6T) + 7 pi^4/(120 T^5) + 31 pi^6/(144 T^9) + ...  + O(eps T^2).

   It is asymptotic (the coefficients grow factorially), not convergent; the O(eps T^2) terms are
   exponentially small in T^2. ``loss`` is p kappa^2 [1 + kappa F_series].

So MMSE ~ p kappa^2 to leading order, and the leading correction is p kappa^3 T^3/3: the active
features with u below the threshold kappa T are rejected and cost u^2 each.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

import numpy as np
from scipy.integrate import quad
from scipy.special import ndtr

from ..numeric.solver import kappa as _kappa
from ..parameters import FEATURE_PROBABILITY, RATIO

__all__ = ["SERIES_ORDER", "MMSEExpansion", "layer_coefficient", "mmse_asymptotic", "series_coefficient",
           "threshold", "upper_constant"]

SERIES_ORDER = 3  # Sommerfeld terms kept: through 31 pi^6/(144 T^9)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _phi(x):
    return _INV_SQRT_2PI * np.exp(-0.5 * np.square(x))


_NUMPY = [{"Phi": ndtr, "phi": _phi}, "numpy"]


@cache
def upper_constant(precision: int = 30) -> float:
    """C_1 = -int phi(w)^2/Phi(w) dw (the layer at u = 1), by mpmath quadrature of the sympy integrand."""
    import mpmath
    import sympy as sp

    from ..symbolic.mmse import layer, w

    integrand = sp.lambdify(w, layer().upper, modules=[{"Phi": mpmath.ncdf, "phi": mpmath.npdf}, "mpmath"])
    with mpmath.workdps(precision):
        return float(mpmath.quad(integrand, [-mpmath.inf, -10, -3, 0, 3, mpmath.inf]))


@cache
def _stable_integrand():
    import sympy as sp

    from ..symbolic.mmse import eps, layer, w

    return sp.lambdify((w, eps), layer().stable, modules=_NUMPY)


def threshold(epsilon: float) -> float:
    """T = sqrt(2 ln(1/(eps sqrt(2 pi)))), the root of phi(T) = eps (0 when eps sqrt(2 pi) >= 1)."""
    return math.sqrt(max(0.0, -2.0 * (math.log(epsilon) + 0.5 * math.log(2.0 * math.pi))))


def layer_coefficient(epsilon: float) -> float:
    """F(eps) = C_1 + R_0(eps), R_0 by adaptive quadrature of the stable integrand on [-30, T + 30]
    (beyond, the integrand is below phi(30) ~ 1e-197)."""
    integrand = _stable_integrand()
    t = threshold(epsilon)
    points = sorted({-3.0, 0.0, max(t - 3.0, 0.5), t, t + 3.0})
    value, _ = quad(lambda x: float(integrand(x, epsilon)), -30.0, t + 30.0, points=points,
                    epsabs=0.0, epsrel=1e-13, limit=400)
    return upper_constant() + value


@cache
def _series_function(order: int):
    import sympy as sp

    from ..symbolic.mmse import T, sommerfeld_series

    return sp.lambdify(T, sommerfeld_series(order), modules="math")


def series_coefficient(epsilon: float, order: int = SERIES_ORDER) -> float:
    """F_series(eps) = T^3/3 + C_1 + (Sommerfeld terms through T^(3 - 4 order))."""
    t = threshold(epsilon)
    return _series_function(order)(t) + upper_constant() if t > 0 else math.nan


@dataclass(frozen=True)
class MMSEExpansion:
    """The small-kappa MMSE at (p, r); see the module docstring.

    ``leading`` = p kappa^2; ``correction`` = F_series; ``loss`` = p kappa^2 (1 + kappa F_series);
    ``coefficient_reduced`` = F(eps) by quadrature and ``loss_reduced`` = p kappa^2 (1 + kappa F).
    """

    p: float
    r: float
    kappa: float
    epsilon: float
    threshold: float
    leading: float
    correction: float
    loss: float
    coefficient_reduced: float
    loss_reduced: float

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON-ready)."""
        return asdict(self)


def mmse_asymptotic(p: float, r: float, order: int = SERIES_ORDER) -> MMSEExpansion:
    """The expansion of MMSE(p, kappa(p, r)) as kappa -> 0 (module docstring).

    Meaningful where kappa is small and T is large (p -> 0 at fixed r): at r = 0.5 its relative
    error is ~1e-7 at p = 1e-4 and falls below 1e-25 by p = 1e-30 (tests/test_mmse.py). r = 1
    gives kappa = 0 and zero loss.

    >>> e = mmse_asymptotic(1e-12, 0.5)
    >>> round(e.loss / e.leading, 6), round(e.threshold, 3)
    (1.000143, 9.064)
    """
    p = FEATURE_PROBABILITY.validate(p)
    r = RATIO.validate(r)
    k = float(_kappa(p, r))
    if k == 0.0:
        return MMSEExpansion(p, r, 0.0, 0.0, math.inf, 0.0, 0.0, 0.0, 0.0, 0.0)
    epsilon = p * k / (1.0 - p)
    leading = p * k * k
    correction = series_coefficient(epsilon, order)
    reduced = layer_coefficient(epsilon)
    return MMSEExpansion(
        p=p, r=r, kappa=k, epsilon=epsilon, threshold=threshold(epsilon), leading=leading,
        correction=correction, loss=leading * (1.0 + k * correction),
        coefficient_reduced=reduced, loss_reduced=leading * (1.0 + k * reduced),
    )
