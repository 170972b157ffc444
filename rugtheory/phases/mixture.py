"""Dedicated, dropped and rug features under one rank budget (derivations/12_phases.md, "Mixtures").

A fraction f_ded of the features is copied exactly (a = 1, b = 0: loss 0, one hidden dimension
each), f_drop is dropped (y = ReLU(b) with the best b = p/2: loss Var x = p/3 - p^2/4 each, no
dimension), and the rest, f_rug = 1 - f_ded - f_drop, form a rug on the remaining dimensions,
at ratio rho = (r - f_ded)/f_rug, loss L*(p, rho) (``rugtheory.solve``). The per-feature loss
f_drop Var x + f_rug L*(p, rho) is a convex combination of the points (0, Var x), (1, 0),
(rho, L*(p, rho)) with weights summing to one and mean ratio r, so the best mixture is the lower
convex envelope of the rug curve with the two end points, at r (``diagram.envelope``). The curve
is sampled at RHO_GRID plus r itself; the envelope of samples is attained, an upper bound of the
continuous one.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..parameters import FEATURE_PROBABILITY, RATIO

__all__ = ["RHO_GRID", "dropped_loss", "rug_curve"]

RHO_GRID = tuple(np.round(np.concatenate([np.geomspace(0.005, 0.1, 25), np.linspace(0.1, 1.0, 181)[1:]]), 12))


def dropped_loss(p: float) -> float:
    """Loss of a dropped feature at its best constant output p/2: Var x = p/3 - p^2/4 (THEORY.md, Data)."""
    p = FEATURE_PROBABILITY.validate(p)
    return p * (4.0 - 3.0 * p) / 12.0


@lru_cache(maxsize=256)
def _curve(p: float, extra: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    from ..optimum import solve_grid

    rho = np.unique(np.array(RHO_GRID + extra))
    grid = solve_grid([p], rho)
    return rho, grid.loss[0]


def rug_curve(p: float, extra=()) -> tuple[np.ndarray, np.ndarray]:
    """The rug's L*(p, rho) on RHO_GRID and the ratios ``extra`` (cached per p)."""
    p = FEATURE_PROBABILITY.validate(p)
    extra = tuple(float(RATIO.validate(r)) for r in extra)
    return _curve(p, extra)
