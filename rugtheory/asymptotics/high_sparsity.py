"""The optimal ReLU model as kappa -> 0: p -> 0 at fixed r, and r -> 1 at fixed p (derivations/06).

The expansion is derived in ``rugtheory.symbolic.asymptotics`` and lambdified here (numpy and
mpmath, once per process). With kappa^2 = (p/3 - p^2/4)(1 - r)/r:

    L* = p kappa^2 [(1-p) J_2(t0)/p + 1 + t0^2/4]
       + p kappa^3 [t0^3/12 + t0 + 3 (1-p) t0 J_2(t0)/p - 2 J_3(t0)/3] + O(p kappa^4 t0^2),
    (1-p) J_1(t0) = p t0 / 4                                  (threshold equation),
    a* = 1 + (3/2) kappa t0 + O(kappa^2),   beta* = -t* kappa a*,   t* = t0 + O(kappa).

Large t0 (p -> 0): phi(t0) = p t0^3/4 to leading order, solved by
t_W^2 = 3 W0((1/3) (4/(p sqrt(2 pi)))^(2/3)); then L* ~ p kappa^2 (t_W^2/4 + 3/2), and the
leading term alone is L* ~ p^2 (1-r) ln(1/p) / (6 r).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

import numpy as np
from scipy.special import lambertw

from ..numeric.solver import kappa
from ..numeric.tails import gaussian_tails
from ..parameters import FEATURE_PROBABILITY, PRECISION, RATIO

__all__ = ["HighSparsityScaling", "high_sparsity", "lambert_threshold", "loss_leading", "threshold"]

NEWTON_STEPS = 40


@cache
def _lambdified(module: str) -> dict[str, Any]:
    """f2, f3, a*, t-shift as functions of (p, kappa, t, J0, J1, J2, J3)."""
    import sympy as sp

    from ..symbolic.asymptotics import J, kappa_expansion, t
    from ..symbolic.data import p
    from ..symbolic.meanfield import kappa as k

    tails = sp.symbols("J0:4")
    expansion = kappa_expansion()

    def fn(expr: sp.Expr):
        expr = expr.subs({sp.Symbol("g_2", positive=True): J(2, t) / p,
                          sp.Symbol("g_3", positive=True): J(3, t) / p})
        expr = expr.subs({J(n, t): tails[n] for n in range(4)})
        return sp.lambdify((p, k, t, *tails), expr, modules=module)

    out = {name: fn(getattr(expansion, name)) for name in ("f2", "f3", "t_shift")}
    out["a_minus_one"] = fn(sp.expand(expansion.a_star - 1))  # a* - 1 ~ kappa: keep it exact
    return out


def lambert_threshold(p):
    """t_W = sqrt(3 W0((1/3)(4/(p sqrt(2 pi)))^(2/3))), the root of phi(t) = p t^3/4."""
    p = np.asarray(p, dtype=float)
    argument = np.exp((2.0 / 3.0) * (np.log(4.0 / np.sqrt(2.0 * np.pi)) - np.log(p))) / 3.0
    return np.sqrt(3.0 * lambertw(argument).real)


def threshold(p, coefficient: float = 0.25):
    """t0 > 0 solving (1-p) J_1(t0) = c p t0, c = ``coefficient`` (1/4 for ReLU); vectorised.

    Newton on the log form from t_W; the left side falls and the right side rises in t, so the
    root is unique.
    """
    p = np.asarray(p, dtype=float)
    log_rhs = np.log(coefficient * p) - np.log1p(-p)
    t = np.maximum(lambert_threshold(p), 0.1)
    for _ in range(NEWTON_STEPS):
        _, j0, j1 = gaussian_tails(t, 1)
        h = np.log(j1) - np.log(t) - log_rhs  # decreasing in t
        slope = -j0 / j1 - 1.0 / t
        step = np.clip(-h / slope, -0.5 * t, 2.0)
        t = t + step
        if np.all(np.abs(step) <= 1e-15 * t):
            break
    return t


def _threshold_mp(p):
    import mpmath

    from ..numeric.tails_mp import gaussian_tails_mp

    def h(t):
        j1 = gaussian_tails_mp(t, 1)[2]
        return mpmath.log((1 - p) * j1) - mpmath.log(p * t / 4)

    return mpmath.findroot(h, mpmath.mpf(float(threshold(float(p)))))


def loss_leading(p, r):
    """The leading term alone, L* ~ p^2 (1 - r) ln(1/p) / (6 r)."""
    p, r = np.asarray(p, dtype=float), np.asarray(r, dtype=float)
    return p * p * (1.0 - r) * np.log(1.0 / p) / (6.0 * r)


@dataclass(frozen=True)
class HighSparsityScaling:
    """The small-kappa expansion of the optimal ReLU model at one (p, r) (derivations/06).

    ``loss_asymptotic`` is the two-term expansion at the exact root t0 of the threshold
    equation; ``loss_lambert`` = p kappa^2 (t_W^2/4 + 3/2) is its explicit large-t form;
    ``loss_leading`` = p^2 (1-r) ln(1/p)/(6r). ``threshold`` is t0; ``a``, ``bias``, ``sigma``
    the expanded optimum. With ``precision`` every value is computed in mpmath and
    ``decimal`` holds them as strings to that many digits.
    """

    p: float
    r: float
    kappa: float
    threshold: float
    threshold_lambert: float
    loss_asymptotic: float
    loss_lambert: float
    loss_leading: float
    a: float
    a_minus_one: float
    bias: float
    sigma: float
    precision: int | None = None
    decimal: dict[str, str] | None = None

    def to_dict(self) -> dict:
        """A JSON-ready dict of the fields (``decimal``/``precision`` only when set)."""
        out = asdict(self)
        for key in ("decimal", "precision"):
            if out[key] is None:
                out.pop(key)
        return out


def _expand(p, r, k, t0, tails, functions) -> dict[str, Any]:
    args = (p, k, t0, *tails)
    f2, f3 = functions["f2"](*args), functions["f3"](*args)
    a_minus_one = functions["a_minus_one"](*args)
    a_star = 1 + a_minus_one
    t_star = t0 + k * functions["t_shift"](*args)
    return {
        "loss_asymptotic": p * k * k * (f2 + k * f3),
        "a": a_star,
        "a_minus_one": a_minus_one,
        "bias": -t_star * k * a_star,
        "sigma": k * a_star,
    }


def high_sparsity(p: float, r: float, precision: int | None = None) -> HighSparsityScaling:
    """The expansion of L*, a*, beta* at (p, r); accurate when kappa t0 << 1 (p -> 0 or r -> 1).

    >>> s = high_sparsity(1e-6, 0.5)
    >>> round(s.loss_asymptotic / 2.1008060706e-12, 4)  # the optimum, from rugtheory.solve
    1.0
    """
    p = FEATURE_PROBABILITY.validate(p)
    r = RATIO.validate(r)
    k = float(kappa(p, r))
    t_w = float(lambert_threshold(p))
    lambert = p * k * k * (t_w * t_w / 4.0 + 1.5)
    leading = float(loss_leading(p, r))
    if precision is None:
        t0 = float(threshold(p))
        tails = gaussian_tails(np.array([t0]), 3)[1:]
        values = _expand(p, r, k, t0, [float(x[0]) for x in tails], _lambdified("numpy"))
        values = {key: float(value) for key, value in values.items()}
        decimal = None
    else:
        import mpmath

        from ..numeric.tails_mp import gaussian_tails_mp

        precision = PRECISION.validate(precision)
        with mpmath.workdps(precision + 15):
            P, R = mpmath.mpf(p), mpmath.mpf(r)
            K = mpmath.sqrt(P * (4 - 3 * P) / 12 * (1 - R) / R)
            T0 = _threshold_mp(P)
            exact = _expand(P, R, K, T0, gaussian_tails_mp(T0, 3)[1:], _lambdified("mpmath"))
            exact["threshold"] = T0
            decimal = {key: mpmath.nstr(value, precision) for key, value in exact.items()}
            values = {key: float(value) for key, value in exact.items()}
            t0 = values.pop("threshold")
    return HighSparsityScaling(
        p=p, r=r, kappa=k, threshold=t0, threshold_lambert=t_w, loss_lambert=float(lambert),
        loss_leading=leading, precision=precision, decimal=decimal, **values,
    )

