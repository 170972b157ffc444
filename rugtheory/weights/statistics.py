"""Row statistics of a weight matrix and the rank bound (THEORY.md, "Statistics" and "Rank bound").

For row i: the diagonal a_i = W_ii, the off-diagonal power S_i = sum_{j != i} W_ij^2 and the
off-diagonal row sum R_i = sum_{j != i} W_ij (so mu_i = (p/2) R_i and sigma_i^2 =
(p/3 - p^2/4) S_i). For rank W <= m, ||W||_F^2 >= (tr W)^2 / m, and with a constant diagonal
this is S >= a^2 (1 - r)/r (derivations/05_rank_bound.md).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError

__all__ = ["RowStatistics", "frobenius_trace_ratio", "rank_bound_ratio", "row_statistics"]


@dataclass(frozen=True, eq=False)
class RowStatistics:
    """Per-row a_i, S_i and R_i of a square W (read-only arrays of length n)."""

    diag: np.ndarray
    offdiag_power: np.ndarray
    row_sum: np.ndarray

    @property
    def n(self) -> int:
        """The number of rows n."""
        return int(self.diag.size)

    @property
    def mean_diag_square(self) -> float:
        """Mean of a_i^2 over rows."""
        return float(np.mean(self.diag**2))

    @property
    def mean_offdiag_power(self) -> float:
        """Mean of S_i over rows."""
        return float(np.mean(self.offdiag_power))

    def to_dict(self) -> dict[str, list[float]]:
        """Plain lists, for JSON."""
        return {
            "diag": self.diag.tolist(),
            "offdiag_power": self.offdiag_power.tolist(),
            "row_sum": self.row_sum.tolist(),
        }


def _square(W: object) -> np.ndarray:
    matrix = np.asarray(W, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 2:
        raise ParameterError(f"W must be a square n x n matrix with n >= 2: got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ParameterError("W must be finite: it has NaN or infinite entries")
    return matrix


def row_statistics(W: object) -> RowStatistics:
    """a_i = W_ii, S_i = sum_{j != i} W_ij^2 and R_i = sum_{j != i} W_ij (THEORY.md, Statistics).

    >>> stats = row_statistics([[1.0, 0.5], [-2.0, 3.0]])
    >>> stats.diag.tolist(), stats.offdiag_power.tolist(), stats.row_sum.tolist()
    ([1.0, 3.0], [0.25, 4.0], [0.5, -2.0])
    """
    matrix = _square(W)
    diag = matrix.diagonal().copy()
    off = matrix.copy()
    np.fill_diagonal(off, 0.0)
    arrays = (diag, np.einsum("ij,ij->i", off, off), off.sum(axis=1))
    for array in arrays:
        array.setflags(write=False)
    return RowStatistics(*arrays)


def _rank(m: object, n: int) -> int:
    if isinstance(m, bool) or not isinstance(m, numbers.Integral) or not 1 <= int(m) <= n:
        raise ParameterError(f"m (hidden size) = {m!r} is out of range; valid: m an integer in [1, {n}]")
    return int(m)


def frobenius_trace_ratio(W: object, m: int) -> float:
    """m ||W||_F^2 / (tr W)^2: at least 1 whenever rank W <= m, and 1 exactly at equality.

    Needs tr W != 0 (the bound says nothing otherwise).
    """
    matrix = _square(W)
    m = _rank(m, matrix.shape[0])
    trace = float(np.trace(matrix))
    if trace == 0.0:
        raise ParameterError("tr W = 0: the trace bound ||W||_F^2 >= (tr W)^2 / m is empty")
    return m * float(np.sum(matrix**2)) / trace**2


def rank_bound_ratio(W: object, m: int) -> float:
    """(mean S / mean a^2) / ((1 - r)/r) with r = m/n: at least 1 when rank W <= m and W_ii = a.

    1 means the rank bound S >= a^2 (1 - r)/r is tight (the Hadamard rug). For a diagonal that
    is not constant the ratio may fall below 1; ``frobenius_trace_ratio`` is the general form.
    Needs m < n (at r = 1 the bound is S >= 0) and a nonzero diagonal.

    >>> from rugtheory.weights import rug_matrix
    >>> round(rank_bound_ratio(rug_matrix(16, 0.25, seed=1), 4), 12)
    1.0
    """
    stats = row_statistics(W)
    m = _rank(m, stats.n)
    if m == stats.n:
        raise ParameterError(f"m = n = {m}: at r = 1 the rank bound is S >= 0 and the ratio is undefined")
    if stats.mean_diag_square == 0.0:
        raise ParameterError("W has a zero diagonal: the rank bound ratio is undefined")
    r = m / stats.n
    return stats.mean_offdiag_power / stats.mean_diag_square / ((1.0 - r) / r)
