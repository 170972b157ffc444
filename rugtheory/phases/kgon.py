"""Regular k-gons: k features share 2 hidden dimensions, r = 2/k (derivations/12_phases.md, "k-gons").

Feature i has the unit vector e_i = (cos 2 pi i/k, sin 2 pi i/k); W = a e_i . e_j on the group, so
W_ij = a cos(2 pi (i - j)/k), rank 2. Row i's partners have relative weights g_j = cos(2 pi j/k),
j = 1 .. k - 1. k = 3 is the 3-simplex (g = -1/2, -1/2), k = 4 two antipodal pairs in one plane
(g = 0, -1, 0). For k >= 5 some partners are positive.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from .optimize import GroupOptimum, group_optimum

__all__ = ["KGON_SIDES", "kgon_gram", "kgon_optimum", "kgon_partners"]

KGON_SIDES = tuple(range(3, 13))


def _sides(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 3 <= k <= 13:
        raise ParameterError(f"k-gon sides k = {k!r} is out of range; valid: k an integer in [3, 13]")
    return int(k)


def kgon_gram(k: int) -> np.ndarray:
    """The k x k Gram matrix cos(2 pi (i - j)/k) of the regular k-gon (diagonal 1, rank 2)."""
    k = _sides(k)
    angle = 2 * np.pi * np.arange(k) / k
    return np.cos(angle[:, None] - angle[None, :])


def kgon_partners(k: int) -> np.ndarray:
    """Relative partner weights cos(2 pi j/k), j = 1 .. k - 1, of one k-gon row."""
    return kgon_gram(k)[0, 1:]


def kgon_optimum(p: float, k: int) -> GroupOptimum:
    """The k-gon's loss per feature at its best scale a and bias (``optimize.group_optimum``)."""
    return group_optimum(p, kgon_partners(k))
