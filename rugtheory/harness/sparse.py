"""A sparse training step for sparse data: the same loss and gradients at a fraction of the work.

At feature probability p a batch x (K, B, n) has about p B n non-zeros per instance, and at a
trained model only the outputs that fire (pre-activation > 0) carry a gradient. The dense step
costs 6 B n m multiply-adds per instance (two products forward, four backward). This one costs

* forward: W = W_out W_in (n^2 m), then h = W_in x and pre = W x + b as sparse-dense products
  (nnz(x) (m + n));
* backward: with G = dL/dpre, which is zero where an output does not fire, dW_out = G^T h,
  dh = G W_out and dW_in = dh^T x, all sparse-dense (nnz(G) m + nnz(x) m); while more than
  ``DENSE_GRADIENT`` of the outputs fire (early in training) G is used dense (4 B n m).

So the work is n^2 m + O((nnz(x) + nnz(G)) (n + m)) per instance instead of 6 B n m, with B n
element-wise operations besides: at n = 512, B = 1024 the product W = W_out W_in alone is 1/12 of
the dense step's multiply-adds, the floor of any exact fp32 step (``benchmarks/train_speed.py``
times it beside the trainers). The sparse-dense products are CSR products computed by
``torch.nn.functional.embedding_bag`` (gather, scale and sum in one fused kernel), grouped by a
stable argsort where the grouping index changes. The loss and the gradients are those of
THEORY.md's model to rounding: pre = (W_out W_in) x + b is W_out (W_in x) + b reassociated
(tests/test_harness_sparse.py holds both against autograd of the dense forward).

The data: per instance, the positions of the non-zeros in the flattened (B, n) block are the
partial sums of geometric gaps (P(gap = g) = p (1 - p)^(g - 1), by inversion of a uniform), and
each non-zero is uniform on [0, 1): exactly THEORY.md's distribution (every coordinate active
independently with probability p), drawn with about 2 p B n uniforms instead of 2 B n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["DENSE_GRADIENT", "SparseBatch", "sample_sparse", "sparse_losses"]

DENSE_GRADIENT = 0.1  # above this fraction of firing outputs the backward uses dense products with G


@dataclass(frozen=True)
class SparseBatch:
    """The non-zeros of a (K, B, n) batch: instance, sample and feature index, and value (each (nnz,))."""

    instance: torch.Tensor
    sample: torch.Tensor
    feature: torch.Tensor
    value: torch.Tensor
    shape: tuple[int, int, int]

    def dense(self) -> torch.Tensor:
        """The batch as a dense (K, B, n) tensor."""
        x = torch.zeros(self.shape, dtype=self.value.dtype, device=self.value.device)
        x[self.instance, self.sample, self.feature] = self.value
        return x


def sample_sparse(probability: torch.Tensor, batch_size: int, n_features: int, generator: torch.Generator) -> SparseBatch:
    """A fresh batch with independent coordinates, x = 0 w.p. 1 - p_k, else U[0, 1) (module docstring).

    Draws, in order: gap uniforms for every instance (one (K, L) block, L = mean + 8 sd + 16), more
    blocks only for instances whose positions have not yet passed B n (rare), then the values.
    """
    instances, total = probability.shape[0], batch_size * n_features
    options = {"generator": generator, "device": probability.device, "dtype": probability.dtype}
    mean = float(probability.max()) * total
    length = int(mean + 8.0 * math.sqrt(mean) + 16)
    log_q = torch.log1p(-probability).unsqueeze(1)  # ln(1 - p_k)
    positions = []
    last = torch.full((instances, 1), -1.0, device=probability.device, dtype=probability.dtype)
    while True:
        uniform = torch.rand((instances, length), **options)
        gaps = torch.floor(torch.log1p(-uniform) / log_q) + 1.0  # geometric on {1, 2, ...}
        block = last + torch.cumsum(gaps, dim=1)
        positions.append(block)
        last = block[:, -1:]
        if bool((last >= total).all()):
            break
    flat = torch.cat(positions, dim=1)
    instance, slot = torch.nonzero(flat < total, as_tuple=True)
    where = flat[instance, slot].to(torch.int64)
    value = torch.rand(where.shape, **options)
    return SparseBatch(instance, where // n_features, where % n_features, value, (instances, batch_size, n_features))


def _stack(matrix: torch.Tensor) -> torch.Tensor:
    """(K, a, b) -> (K a, b)."""
    return matrix.reshape(-1, matrix.shape[-1])


def _offsets(sorted_keys: torch.Tensor, bags: int) -> torch.Tensor:
    """Start of each bag 0..bags-1 in ``sorted_keys`` (non-decreasing bag numbers): a CSR row pointer."""
    counts = torch.bincount(sorted_keys, minlength=bags)
    return torch.cumsum(counts, 0) - counts


def _rows_times(keys: torch.Tensor, columns: torch.Tensor, values: torch.Tensor, matrix: torch.Tensor,
                bags: int) -> torch.Tensor:
    """out[r] = sum over non-zeros e with keys[e] = r of values[e] * matrix[columns[e]]: a (bags, width) array.

    A sparse (bags x len(matrix)) times dense product in CSR form, by ``embedding_bag`` (a fused
    gather-scale-sum, far faster on the CPU than torch.sparse.mm); ``keys`` must be sorted.
    """
    return torch.nn.functional.embedding_bag(columns, matrix, _offsets(keys, bags), mode="sum",
                                             per_sample_weights=values)


def _regroup(keys: torch.Tensor, *columns: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The non-zeros re-sorted by ``keys`` (stable), for a product grouped by another index."""
    order = torch.argsort(keys, stable=True)
    return (keys[order], *(column[order] for column in columns))


class _SparseToyLoss(torch.autograd.Function):
    """Per-instance loss of y = ReLU(W_out W_in x + b) on a SparseBatch, with the sparse backward.

    Rows of the stacked (K B, .) arrays are (instance, sample) pairs, k B + s; rows of the
    stacked (K n, .) arrays are (instance, feature) pairs, k n + j.
    """

    @staticmethod
    def forward(ctx, w_in, w_out, b, batch: SparseBatch):
        instances, size, n = batch.shape
        sample_row = batch.instance * size + batch.sample          # sorted: the batch is in row-major order
        feature_row = batch.instance * n + batch.feature
        w_t = torch.bmm(w_in.transpose(1, 2), w_out.transpose(1, 2))  # (K, n, n) = (W_out W_in)^T
        hidden = _rows_times(sample_row, feature_row, batch.value, _stack(w_in.transpose(1, 2).contiguous()),
                             instances * size)                      # (K B, m) = W_in x
        pre = _rows_times(sample_row, feature_row, batch.value, _stack(w_t), instances * size).view(instances, size, n)
        pre += b.unsqueeze(1)
        residual = torch.relu_(pre)                                 # y; pre is no longer needed
        fired = residual > 0
        residual[batch.instance, batch.sample, batch.feature] -= batch.value  # y - x
        losses = residual.square().sum(dim=(1, 2)) / (size * n)
        residual.mul_(fired)                                        # dL/dy restricted to firing outputs, unscaled
        ctx.batch = batch
        ctx.save_for_backward(w_in, w_out, hidden, residual)
        return losses

    @staticmethod
    def backward(ctx, grad_losses):
        w_in, w_out, hidden, residual = ctx.saved_tensors
        batch: SparseBatch = ctx.batch
        instances, size, n = batch.shape
        m = w_in.shape[1]
        scale = (2.0 / (size * n)) * grad_losses                    # (K,)
        g_dense = residual.mul_(scale.view(-1, 1, 1))               # G = dL/dpre, in place (residual is not reused)
        grad_b = g_dense.sum(dim=1)
        flat = torch.nonzero(g_dense.view(-1)).squeeze(1)
        if flat.numel() > DENSE_GRADIENT * g_dense.numel():
            # many outputs fire (early in training): dense products with G are cheaper
            grad_w_out = torch.bmm(g_dense.transpose(1, 2), hidden.view(instances, size, m))
            grad_hidden = _stack(torch.bmm(g_dense, w_out))
        else:
            g = g_dense.view(-1)[flat]
            sample_row = flat // n                                  # k B + s, sorted
            feature_row = (sample_row // size) * n + flat % n       # k n + i
            grad_hidden = _rows_times(sample_row, feature_row, g, _stack(w_out), instances * size)  # G W_out
            by_feature, rows, values = _regroup(feature_row, sample_row, g)
            grad_w_out = _rows_times(by_feature, rows, values, hidden, instances * n).view(instances, n, m)  # G^T h
        x_by_feature, x_rows, x_values = _regroup(batch.instance * n + batch.feature, batch.instance * size + batch.sample,
                                                  batch.value)
        grad_w_in = _rows_times(x_by_feature, x_rows, x_values, grad_hidden, instances * n)  # (dh^T x)^T: (K n, m)
        return grad_w_in.view(instances, n, m).transpose(1, 2), grad_w_out, grad_b, None


def sparse_losses(weights: dict[str, torch.Tensor], batch: SparseBatch) -> torch.Tensor:
    """The (K,) per-feature MSE of each instance on ``batch``, differentiable (sparse backward)."""
    w_in = weights["W_in"]
    w_out = weights["W_out"] if "W_out" in weights else w_in.transpose(1, 2)
    return _SparseToyLoss.apply(w_in, w_out, weights["b"], batch)
