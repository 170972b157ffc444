"""Sylvester Hadamard matrices and the Hadamard Persian rug (THEORY.md, "Rank bound").

The rug is W = H_S^T H_S / m, where H_S holds m distinct rows of the Sylvester Hadamard
matrix of order n. Since H H^T = n I, W is (n/m) times an orthogonal projection of rank m:
its diagonal is exactly 1 and every row has off-diagonal power S_i = 1/r - 1, so it meets
the rank bound S >= a^2 (1 - r)/r with equality (derivations/05_rank_bound.md).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..errors import ParameterError
from ..parameters import RATIO

__all__ = ["rug_matrix", "rug_rows", "sylvester_hadamard"]


def _order(n: object) -> int:
    """n as an int if it is a power of two >= 2, else ParameterError."""
    valid = "n a power of two >= 2 (2, 4, 8, ...)"
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise ParameterError(f"n_features (n) must be an integer: got {n!r}; valid: {valid}")
    n = int(n)
    if n < 2 or n & (n - 1):
        raise ParameterError(f"n_features (n) = {n} is out of range; valid: {valid}")
    return n


def _sylvester_rows(n: int, rows: np.ndarray) -> np.ndarray:
    """Rows ``rows`` of the Sylvester matrix of order n: H_ij = (-1)^popcount(i & j)."""
    both = np.asarray(rows, dtype=np.int64)[:, None] & np.arange(n, dtype=np.int64)[None, :]
    parity = np.zeros_like(both)
    for bit in range(n.bit_length() - 1):  # numpy < 2 has no bitwise_count
        parity ^= (both >> bit) & 1
    return 1.0 - 2.0 * parity


def sylvester_hadamard(n: int) -> np.ndarray:
    """The Sylvester Hadamard matrix of order n (float64 entries +-1), with H H^T = n I.

    H_1 = [1] and H_2k = [[H_k, H_k], [H_k, -H_k]]; n must be a power of two >= 2.

    >>> sylvester_hadamard(2)
    array([[ 1.,  1.],
           [ 1., -1.]])
    """
    n = _order(n)
    return _sylvester_rows(n, np.arange(n))


def rug_rows(n: int, ratio: float, seed: int | None = None) -> np.ndarray:
    """The sorted indices of the m = round(ratio * n) Hadamard rows that ``rug_matrix`` uses.

    Rows are drawn without replacement by ``numpy.random.default_rng(seed)``; ``round`` is
    Python's (halves go to the even integer).
    """
    n = _order(n)
    ratio = RATIO.validate(ratio)
    if np.ndim(ratio) != 0:
        raise ParameterError(
            f"ratio (r) must be a single number: got {ratio!r}; valid: {RATIO.domain_text()}"
        )
    m = round(ratio * n)
    if m < 1:
        raise ParameterError(
            f"ratio (r) = {ratio!r} gives m = round(r n) = 0 rows for n = {n}; valid: r > {0.5 / n:g} here"
        )
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=m, replace=False))


def rug_matrix(n: int, ratio: float, seed: int | None = None) -> np.ndarray:
    """The Hadamard Persian rug W = H_S^T H_S / m, n x n of rank m = round(ratio * n).

    THEORY.md, "Rank bound": diagonal exactly 1, every S_i = n/m - 1 (= 1/r - 1 when m = r n).

    >>> W = rug_matrix(8, 0.5, seed=0)
    >>> bool((W.diagonal() == 1.0).all()), float((W**2).sum(axis=1).max() - 1.0)
    (True, 1.0)
    """
    rows = rug_rows(n, ratio, seed)
    h_s = _sylvester_rows(int(n), rows)
    return (h_s.T @ h_s) / len(rows)
