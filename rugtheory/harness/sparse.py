"""A sparse training step for sparse data: the same loss and gradients at a fraction of the work.

At feature probability p a batch x (K, B, n) has about p B n non-zeros per instance, and at a
trained model only the outputs that fire (pre-activation > 0) carry a gradient. The dense step
costs 6 B n m multiply-adds per instance (two products forward, four backward). This one costs

* forward: W = W_out W_in (n^2 m), then h = W_in x and pre = W x + b as sparse-dense products
  (nnz(x) (m + n));
* backward: with G = dL/dpre, which is zero where an output does not fire, dW_out = G^T h,
  dh = G W_out and dW_in = dh^T x, all sparse-dense (nnz(G) m + nnz(x) m); while more than
  ``DENSE_GRADIENT`` of the outputs fire (early in training) G is used dense (4 B n m).

So the work is n^2 m + O((nnz(x) + nnz(G)) (n + m)) per instance instead of 6 B n m: about 4x
less at n = 512, m = 256, B = 1024, p = 0.01 (``benchmarks/train_speed.py`` measures it). The
loss and the gradients are those of THEORY.md's model to rounding: pre = (W_out W_in) x + b is
W_out (W_in x) + b reassociated (tests/test_harness_sparse.py holds both against autograd of the
dense forward).

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

    def matrix(self) -> torch.Tensor:
        """x as a (K B) x (K n) sparse COO matrix, block-diagonal over instances."""
        instances, batch, n = self.shape
        rows = self.instance * batch + self.sample
        cols = self.instance * n + self.feature
        return torch.sparse_coo_tensor(torch.stack([rows, cols]), self.value, (instances * batch, instances * n),
                                       is_coalesced=True, check_invariants=False)


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


def _block(rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    return torch.sparse_coo_tensor(torch.stack([rows, cols]), values, shape, check_invariants=False)


class _SparseToyLoss(torch.autograd.Function):
    """Per-instance loss of y = ReLU(W_out W_in x + b) on a SparseBatch, with the sparse backward."""

    @staticmethod
    def forward(ctx, w_in, w_out, b, batch: SparseBatch):
        instances, size, n = batch.shape
        x = batch.matrix()                                      # (K B, K n)
        w_t = torch.bmm(w_in.transpose(1, 2), w_out.transpose(1, 2))  # (K, n, n) = (W_out W_in)^T, contiguous
        hidden = torch.sparse.mm(x, _stack(w_in.transpose(1, 2)))     # (K B, m) = W_in x
        pre = torch.sparse.mm(x, _stack(w_t)).view(instances, size, n)
        pre += b.unsqueeze(1)
        residual = torch.relu_(pre)                             # y; pre is no longer needed
        fired = residual > 0
        residual[batch.instance, batch.sample, batch.feature] -= batch.value  # y - x
        losses = residual.square().sum(dim=(1, 2)) / (size * n)
        residual.mul_(fired)                                    # dL/dy restricted to firing outputs, unscaled
        ctx.batch = batch
        ctx.save_for_backward(w_in, w_out, hidden, residual)
        return losses

    @staticmethod
    def backward(ctx, grad_losses):
        w_in, w_out, hidden, residual = ctx.saved_tensors
        batch: SparseBatch = ctx.batch
        instances, size, n = batch.shape
        m = w_in.shape[1]
        scale = (2.0 / (size * n)) * grad_losses                # (K,)
        if residual.count_nonzero() > DENSE_GRADIENT * residual.numel():
            # many outputs fire (early in training): dense products with G are cheaper
            g_dense = residual * scale.view(-1, 1, 1)
            grad_b = g_dense.sum(dim=1)
            grad_w_out = torch.bmm(g_dense.transpose(1, 2), hidden.view(instances, size, m))
            grad_hidden = _stack(torch.bmm(g_dense, w_out))
        else:
            k, s, i = torch.nonzero(residual, as_tuple=True)
            g = residual[k, s, i] * scale[k]                    # the non-zeros of G = dL/dpre
            grad_b = torch.zeros(instances, n, dtype=g.dtype, device=g.device).index_put_((k, i), g, accumulate=True)
            g_t = _block(k * n + i, k * size + s, g, (instances * n, instances * size))      # G^T
            grad_w_out = torch.sparse.mm(g_t, hidden).view(instances, n, m)                  # G^T h
            g_mat = _block(k * size + s, k * n + i, g, (instances * size, instances * n))    # G
            grad_hidden = torch.sparse.mm(g_mat, _stack(w_out))                             # G W_out: (K B, m)
        x_t = _block(batch.instance * n + batch.feature, batch.instance * size + batch.sample, batch.value,
                     (instances * n, instances * size))
        grad_w_in = torch.sparse.mm(x_t, grad_hidden).view(instances, n, m).transpose(1, 2)  # (dh^T x)
        return grad_w_in, grad_w_out, grad_b, None


def sparse_losses(weights: dict[str, torch.Tensor], batch: SparseBatch) -> torch.Tensor:
    """The (K,) per-feature MSE of each instance on ``batch``, differentiable (sparse backward)."""
    w_in = weights["W_in"]
    w_out = weights["W_out"] if "W_out" in weights else w_in.transpose(1, 2)
    return _SparseToyLoss.apply(w_in, w_out, weights["b"], batch)
