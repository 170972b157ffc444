"""The best scale and bias of a group pattern at p (derivations/12_phases.md, "Optimum").

min over (a > 0, b) of ``group_row_loss``: a vectorised scan of (a, b), then bounded L-BFGS-B from
the best scan point. Stated for p in [1e-6, 1) (``antipodal.check_optimum_probability``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
from scipy import optimize

from .antipodal import check_optimum_probability
from .groups import _evaluate, partner_weights

__all__ = ["GroupOptimum", "group_optimum"]

A_RANGE = (0.05, 4.0)
B_RANGE = (-2.0, 1.0)


@dataclass(frozen=True)
class GroupOptimum:
    """min over (a, bias) of one group row's loss at p; ``rounding`` bounds its float64 error."""

    p: float
    loss: float
    a: float
    bias: float
    rounding: float
    partners: tuple[float, ...]

    def to_dict(self) -> dict:
        """A JSON-ready dict of the fields."""
        return asdict(self)


@lru_cache(maxsize=4096)
def _optimum(p: float, partners: tuple[float, ...]) -> GroupOptimum:
    a_grid, b_grid = np.meshgrid(np.linspace(0.3, 2.4, 22), np.linspace(-1.3, 0.3, 33), indexing="ij")
    scan, _ = _evaluate(p, a_grid, b_grid, partners)
    index = np.unravel_index(np.argmin(scan), scan.shape)
    start = np.array([a_grid[index], b_grid[index]])
    scale = float(scan[index])

    def objective(x: np.ndarray) -> float:
        value, _ = _evaluate(p, np.asarray(x[0]), np.asarray(x[1]), partners)
        return float(value) / scale

    result = optimize.minimize(objective, start, method="L-BFGS-B", bounds=[A_RANGE, B_RANGE],
                               options={"ftol": 1e-12, "gtol": 1e-8})
    x = result.x if result.fun <= 1.0 else start
    value, size = _evaluate(p, np.asarray(x[0]), np.asarray(x[1]), partners)
    return GroupOptimum(p=p, loss=float(value), a=float(x[0]), bias=float(x[1]),
                        rounding=float(8 * np.finfo(float).eps * size), partners=partners)


def group_optimum(p: float, partners) -> GroupOptimum:
    """The optimal (a, bias) of a group row with relative partner weights ``partners`` (cached per p, pattern)."""
    return _optimum(check_optimum_probability(p), partner_weights(partners))
