"""Fresh data x from THEORY.md's distribution, in chunks, and the model's pre-activations.

Each coordinate is independently 0 with probability 1 - p and U[0, 1] with probability p
(THEORY.md, "Data"). Two exact ways to draw a chunk of ``c`` samples, chosen by p:

* dense (p > SPARSE_BELOW): a mask ``rng.random((c, n)) < p`` and the values ``rng.random((c, n))``;
* sparse (p <= SPARSE_BELOW): the number of active entries K ~ Binomial(c n, p), their positions
  a uniform K-subset of the c n entries (without replacement) and their values U[0, 1). That is
  the same distribution (independent Bernoulli(p) entries), and W x then costs K n instead of
  c n^2 multiply-adds.

numpy ``default_rng`` throughout, so a seed fixes every draw (for a given p and n).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["CHUNK_ELEMENTS", "SPARSE_BELOW", "Batch", "batches", "draw_batch"]

SPARSE_BELOW = 0.02  # p at or below which chunks are drawn and multiplied as sparse matrices
CHUNK_ELEMENTS = 1 << 22  # samples x features per chunk: 32 MiB of float64 per dense array


@dataclass(frozen=True, eq=False)
class Batch:
    """``size`` samples of x (rows), dense or as coordinates (rows, cols, values) of the active entries."""

    size: int
    n: int
    dense: np.ndarray | None = None
    rows: np.ndarray | None = None
    cols: np.ndarray | None = None
    values: np.ndarray | None = None

    def times(self, matrix_t: np.ndarray) -> np.ndarray:
        """x @ matrix_t for each sample: a dense (size, k) array (matrix_t is n x k)."""
        if self.dense is not None:
            return self.dense @ matrix_t
        from scipy.sparse import csr_array

        sparse = csr_array((self.values, (self.rows, self.cols)), shape=(self.size, self.n))
        return sparse @ np.ascontiguousarray(matrix_t)  # scipy would copy a strided operand itself

    def subtract_from(self, out: np.ndarray) -> None:
        """out -= x in place (out has shape (size, n))."""
        if self.dense is not None:
            out -= self.dense
        else:
            out[self.rows, self.cols] -= self.values  # positions are distinct: drawn without replacement

    def columns(self, index: np.ndarray) -> np.ndarray:
        """The dense (size, len(index)) block x[:, index]."""
        if self.dense is not None:
            return self.dense[:, index]
        block = np.zeros((self.size, len(index)))
        where = np.full(self.n, -1, dtype=np.int64)
        where[index] = np.arange(len(index))
        keep = where[self.cols] >= 0
        block[self.rows[keep], where[self.cols[keep]]] = self.values[keep]
        return block


def draw_batch(rng: np.random.Generator, size: int, n: int, p: float) -> Batch:
    """``size`` independent samples of x in R^n (see the module docstring for the two methods)."""
    if p > SPARSE_BELOW:
        active = rng.random((size, n)) < p
        return Batch(size, n, dense=np.where(active, rng.random((size, n)), 0.0))
    total = size * n
    count = int(rng.binomial(total, p))
    flat = rng.choice(total, size=count, replace=False) if count else np.zeros(0, dtype=np.int64)
    return Batch(size, n, rows=flat // n, cols=flat % n, values=rng.random(count))


def batches(rng: np.random.Generator, samples: int, n: int, p: float) -> Iterator[Batch]:
    """``samples`` draws of x, in chunks of about CHUNK_ELEMENTS / n samples."""
    chunk = max(1, CHUNK_ELEMENTS // n)
    for start in range(0, samples, chunk):
        yield draw_batch(rng, min(chunk, samples - start), n, p)
