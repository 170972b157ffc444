"""Simplices: k features in k - 1 hidden dimensions, r = (k-1)/k (derivations/12_phases.md, "Simplices").

W = c (I - J/k) on the group (c times the projection orthogonal to the all-ones vector), diagonal
a = c (k - 1)/k and off-diagonal -c/k = -a/(k - 1): every partner has relative weight -1/(k - 1).
k = 2 is the antipodal pair, k = 3 the triangle (the 3-gon).
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from .optimize import GroupOptimum, group_optimum

__all__ = ["SIMPLEX_SIZES", "simplex_gram", "simplex_optimum", "simplex_partners"]

SIMPLEX_SIZES = tuple(range(2, 13))


def _size(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= 13:
        raise ParameterError(f"simplex size k = {k!r} is out of range; valid: k an integer in [2, 13]")
    return int(k)


def simplex_gram(k: int) -> np.ndarray:
    """(I - J/k) k/(k - 1): the simplex's Gram matrix with unit diagonal (rank k - 1)."""
    k = _size(k)
    return (np.eye(k) - np.full((k, k), 1.0 / k)) * k / (k - 1)


def simplex_partners(k: int) -> np.ndarray:
    """Relative partner weights of one simplex row: k - 1 times -1/(k - 1)."""
    return simplex_gram(k)[0, 1:]


def simplex_optimum(p: float, k: int) -> GroupOptimum:
    """The k-simplex's loss per feature at its best scale and bias (``optimize.group_optimum``)."""
    return group_optimum(p, simplex_partners(k))
