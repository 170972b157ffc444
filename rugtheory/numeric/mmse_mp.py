"""High-precision mpmath reference for the MMSE (derivations/09_mmse.md, "A reference").

A formula independent of the float64 quadrature: the MMSE is the expected posterior variance,
one integral over v of a sum of non-negative terms,

    MMSE = int D(v) Var(x | v) dv,
    D Var(x | v) = p B_0 kappa^2 (B_0 B_2 - B_1^2)/B_0^2 + p B_0 (off/D) m^2,

with off = (1 - p) phi(b)/kappa, D = p B_0 + off, m = v + kappa B_1/B_0, b = v/kappa and
B_j = int t^j phi(t) dt over [-b, 1/kappa - b] (``rugtheory.symbolic.mmse.truncated_moments``,
lambdified to mpmath). For b < 0 the B_j are rewritten with Phi(x) = 1 - Phi(-x) so that B_0
is a difference of two small tails. What still cancels (B_0 B_2 - B_1^2 and b + B_1/B_0 at
b << 0) costs ~4 log10 |b| digits, covered by the guard digits.
The integral runs over b on [-L, 1/kappa + L], phi(L) < 10^-(working digits), with tanh-sinh
(which resolves the layers at the ends of each piece), split at 0, 1/kappa and around the
posterior's switch point (a float64 hint from ``rugtheory.numeric.mmse.switch_point``; it only
places break points). Accepted when two working precisions, 40 digits apart, agree to
precision + 2 digits (``reference._adaptive``) and mpmath's error estimate is below the target.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import mpmath

from .reference import _adaptive

__all__ = ["mmse_mp"]


@lru_cache(maxsize=1)
def _functions() -> dict[str, Callable[..., Any]]:
    """(B_0, B_1, B_2) as one mpmath function of (lo, hi), twice: as derived ("direct") and
    with Phi(x) -> 1 - Phi(-x) ("flipped", for lo > 0)."""
    import sympy as sp

    from ..symbolic.functions import Phi
    from ..symbolic.mmse import hi, lo, truncated_moments

    namespace = [{"Phi": mpmath.ncdf, "phi": mpmath.npdf}, "mpmath"]
    moments = truncated_moments()
    flipped = tuple(sp.expand(expr.replace(Phi, lambda x: 1 - Phi(-x))) for expr in moments)
    return {
        "direct": sp.lambdify((lo, hi), moments, modules=namespace, cse=True),
        "flipped": sp.lambdify((lo, hi), flipped, modules=namespace, cse=True),
    }


def _break_points(p: float, noise: float, digits: int) -> list[float]:
    from .mmse import switch_point

    tail = math.sqrt(2.0 * digits * math.log(10.0)) + 2.0
    c = 1.0 / noise
    near = [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, tail]
    points = {-tail, c + tail}
    points |= {s * d for d in near for s in (-1.0, 1.0)}
    points |= {c + s * d for d in near for s in (-1.0, 1.0)}
    z_th, width = switch_point(p, noise)
    if math.isfinite(z_th):
        step = 0.5 * width
        while step < tail:
            points |= {z_th - step, z_th + step}
            step *= 2.0
    return sorted(x for x in points if -tail <= x <= c + tail)


def mmse_mp(p: float, noise: float, precision: int = 50, rule: str = "gauss-legendre") -> mpmath.mpf:
    """MMSE(p, noise) to ``precision`` significant digits (inputs validated by the caller).

    p and noise are taken exactly (floats are dyadic rationals); noise = 0 gives 0. ``rule`` is
    mpmath's quadrature rule on each piece ("gauss-legendre", or "tanh-sinh" as a cross-check).
    """
    if noise == 0.0:
        return mpmath.mpf(0)
    from .mmse import mmse_quadrature

    functions = _functions()
    lost = 10
    points = _break_points(p, noise, precision + lost + 30 + 40)
    # mpmath's quad stops on an absolute error: scale the integrand so that the integral is ~1
    # (the float64 value only sets the scale, it does not enter the result)
    scale = mmse_quadrature(p, noise) / noise
    if not (math.isfinite(scale) and scale > 0.0):
        scale = p * noise * noise * (1.0 + 1.0 / noise)

    def evaluate() -> dict[str, mpmath.mpf]:
        pm, k = mpmath.mpf(p), mpmath.mpf(noise)
        c = 1 / k
        unit = 1 / mpmath.mpf(scale)

        def integrand(b: mpmath.mpf) -> mpmath.mpf:
            b0, b1, b2 = functions["flipped" if b < 0 else "direct"](-b, c - b)
            if b0 == 0:
                return mpmath.mpf(0)
            active = pm * b0
            off = (1 - pm) * mpmath.npdf(b) / k
            mean = k * (b + b1 / b0)
            spread = k * k * (b0 * b2 - b1 * b1) / (b0 * b0)
            return (active * spread + active * off / (active + off) * mean * mean) * unit

        pieces = [mpmath.mpf(x) for x in points]
        value, error = mpmath.quad(integrand, pieces, method=rule, error=True)
        if not error <= mpmath.mpf(10) ** (-precision - 5) * abs(value):
            raise RuntimeError(f"mpmath quadrature error {mpmath.nstr(error, 3)} above the target")
        return {"mmse": k * value / unit}

    return _adaptive(evaluate, precision, lost)["mmse"]
