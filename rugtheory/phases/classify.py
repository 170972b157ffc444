"""Which structured family a weight matrix resembles, from its weights (derivations/12_phases.md, "Classifier").

Per row i: the diagonal a_i, the off-diagonal power S_i and the **large partners**, the j with
|W_ij| > max(MIN_RELATIVE |a_i|, NOISE_FACTOR * 1.4826 * median_j |W_ij|) (a robust multiple of
the row's typical entry). Large partners link rows into a graph; each connected component of 2 to
MAX_GROUP rows that holds at least GROUP_SHARE of its rows' off-diagonal power is a group, named
by its block B = W[C, C] (k = |C|, numerical rank by singular values > RANK_TOL max):

* k = 2: "pairs" (a rank-1 pair; ``antipodal`` counts those with both partner weights negative);
* every off-diagonal entry negative and rank k - 1: "simplex";
* rank 2, k >= 3: "kgon";
* otherwise "frame" when B^2 is proportional to B within FRAME_TOL (a tight frame), else "other".

Rows outside groups: "dropped" if |a_i| < DROPPED_DIAG, "dedicated" if S_i < DEDICATED_POWER a_i^2,
"rug" if the interference is spread (Lyapunov ratio sum |W_ij|^3 / S_i^(3/2) below RUG_LYAPUNOV),
else "other". The label is the family with most rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ParameterError

__all__ = ["Classification", "classify"]

MIN_RELATIVE = 0.05
NOISE_FACTOR = 6.0
MAX_GROUP = 16
GROUP_SHARE = 0.7
RANK_TOL = 0.1
FRAME_TOL = 0.1
DROPPED_DIAG = 0.1
DEDICATED_POWER = 0.01
RUG_LYAPUNOV = 0.5
LABELS = ("pairs", "kgon", "simplex", "frame", "dedicated", "dropped", "rug", "other")


@dataclass(frozen=True)
class Classification:
    """Fractions of rows per family, the overall label, the groups found and per-row labels."""

    label: str
    fractions: dict[str, float]
    group_sizes: dict[str, dict[int, int]]   # family -> {k: number of groups}
    antipodal_pairs: int
    rows: tuple[str, ...] = field(repr=False)
    lyapunov_mean: float = 0.0
    n: int = 0

    def to_dict(self) -> dict:
        """A JSON-ready dict (per-row labels left out; ``rows`` holds them)."""
        return {"label": self.label, "fractions": dict(self.fractions), "n": self.n,
                "group_sizes": {key: {str(k): v for k, v in value.items()} for key, value in self.group_sizes.items()},
                "antipodal_pairs": self.antipodal_pairs, "lyapunov_mean": self.lyapunov_mean}


def _components(n: int, edges: np.ndarray) -> list[list[int]]:
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in edges:
        ri, rj = find(int(i)), find(int(j))
        if ri != rj:
            parent[ri] = rj
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _block_kind(B: np.ndarray) -> str:
    k = B.shape[0]
    if k == 2:
        return "pairs"
    singular = np.linalg.svd(B, compute_uv=False)
    rank = int(np.sum(singular > RANK_TOL * singular[0]))
    off = B[~np.eye(k, dtype=bool)]
    if np.all(off < 0) and rank == k - 1:
        return "simplex"
    if rank == 2:
        return "kgon"
    square = B @ B
    scale = np.sum(square * B) / max(np.sum(B * B), 1e-300)
    if np.linalg.norm(square - scale * B) <= FRAME_TOL * np.linalg.norm(square):
        return "frame"
    return "other"


def classify(W: Any, b: Any = None) -> Classification:
    """Classify the rows of a square weight matrix W (b is accepted for symmetry and checked, not used).

    >>> import numpy as np
    >>> pair = np.array([[1.0, -1.0], [-1.0, 1.0]])
    >>> classify(np.kron(np.eye(8), pair)).label
    'pairs'
    """
    matrix = np.asarray(W, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 2 or not np.all(np.isfinite(matrix)):
        raise ParameterError(f"W must be a finite square matrix with n >= 2: got shape {matrix.shape}")
    n = matrix.shape[0]
    if b is not None:
        bias = np.asarray(b, dtype=float)
        if bias.shape != (n,) or not np.all(np.isfinite(bias)):
            raise ParameterError(f"b must be a finite vector of length n = {n}: got shape {bias.shape}")
    diag = np.diag(matrix).copy()
    off = matrix - np.diag(diag)
    absolute = np.abs(off)
    power = np.sum(off**2, axis=1)
    lyapunov = np.where(power > 0, np.sum(absolute**3, axis=1) / np.where(power > 0, power, 1.0) ** 1.5, 0.0)
    others = np.where(np.eye(n, dtype=bool), np.nan, absolute)
    noise = 1.4826 * np.nanmedian(others, axis=1)
    threshold = np.maximum(MIN_RELATIVE * np.abs(diag), NOISE_FACTOR * noise)
    large = absolute > threshold[:, None]
    edges = np.argwhere(large)
    labels = ["" for _ in range(n)]
    groups: dict[str, Counter] = {}
    antipodal = 0
    for component in _components(n, edges):
        k = len(component)
        if not 2 <= k <= MAX_GROUP:
            continue
        block = matrix[np.ix_(component, component)]
        inside = np.sum((block - np.diag(np.diag(block))) ** 2, axis=1)
        share = inside / np.where(power[component] > 0, power[component], 1.0)
        if np.mean(share >= GROUP_SHARE) < 0.5:
            continue
        kind = _block_kind(block)
        if kind == "pairs" and block[0, 1] < 0 and block[1, 0] < 0:
            antipodal += 1
        groups.setdefault(kind, Counter())[k] += 1
        for i in component:
            labels[i] = kind
    for i in range(n):
        if labels[i]:
            continue
        if abs(diag[i]) < DROPPED_DIAG:
            labels[i] = "dropped"
        elif power[i] < DEDICATED_POWER * diag[i] ** 2:
            labels[i] = "dedicated"
        elif lyapunov[i] < RUG_LYAPUNOV:
            labels[i] = "rug"
        else:
            labels[i] = "other"
    counts = Counter(labels)
    fractions = {name: counts.get(name, 0) / n for name in LABELS}
    label = max(LABELS, key=lambda name: (fractions[name], -LABELS.index(name)))
    return Classification(label=label, fractions=fractions,
                          group_sizes={key: dict(sorted(value.items())) for key, value in groups.items()},
                          antipodal_pairs=antipodal, rows=tuple(labels), lyapunov_mean=float(np.mean(lyapunov)), n=n)
