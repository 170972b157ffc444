"""A sparse training step for sparse data: the same loss and gradients at a fraction of the work.

At feature probability p a batch x (K, B, n) has about p B n non-zeros per instance, and at a
trained model only the outputs that fire (pre-activation > 0) carry a gradient. The dense step
costs 6 B n m multiply-adds per instance (two products forward, four backward). This one costs

* forward: h = W_in x as a sparse-dense product (nnz(x) m), then pre = W_out h + b by one of two
  methods (``sparse_losses``' ``method``):

  - "composed": W = W_out W_in (n^2 m), then pre = W x + b sparse-dense (nnz(x) n);
  - "factored": pre = W_out h + b, one dense batched product (B m n; W is never formed, which at
    n = 8192 alone would be 256 MB per instance in fp32).

  Every output must be known to tell which ones fire, so when B < n, B m n is the least any
  exact step can do; "auto" (``choose_method``) takes the smaller of the two counts, per step;
* backward (either method): with G = dL/dpre, which is zero where an output does not fire,
  dW_out = G^T h, dh = G W_out and dW_in = dh^T x, all sparse-dense (nnz(G) m + nnz(x) m); while
  more than ``DENSE_GRADIENT`` of the outputs fire (early in training) G is used dense (4 B n m).

So the work is min(n^2 m + nnz(x) n, B m n) + O((nnz(x) + nnz(G)) m) per instance instead of
6 B n m. Besides: four passes over the B n outputs (add b, ReLU, the squares of the loss as one
dot product per row, finding the ones that fire; only the nnz(x) entries where x is non-zero are
touched otherwise), and two n m transposes, W_in into rows for the gathers and dW_in back into
W_in's layout. At n = 512, B = 1024 "auto" composes (W is 1/12 of the dense step's multiply-adds);
at B = 1024 and n >= 1024 it factors, and a late step is then mostly the one product W_out h
(``benchmarks/train_speed.py --sizes`` times both methods beside that product alone). The
sparse-dense products are CSR products computed by ``torch.nn.functional.embedding_bag``
(gather, scale and sum in one fused kernel), grouped by a stable argsort where the grouping
index changes. The loss and the gradients are those of
THEORY.md's model to rounding: "factored" is the dense forward's association W_out (W_in x) + b,
"composed" reassociates it as (W_out W_in) x + b (tests/test_harness_sparse.py holds both against
autograd of the dense forward).

The data: per instance, the positions of the non-zeros in the flattened (B, n) block are the
partial sums of geometric gaps (P(gap = g) = p (1 - p)^(g - 1), by inversion of a uniform), and
each non-zero is uniform on [0, 1): exactly THEORY.md's distribution (every coordinate active
independently with probability p), drawn with about 2 p B n uniforms instead of 2 B n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import ParameterError

__all__ = ["DENSE_GRADIENT", "METHODS", "SparseBatch", "choose_method", "sample_sparse", "sparse_losses"]

DENSE_GRADIENT = 0.1  # above this fraction of firing outputs the backward uses dense products with G
METHODS = ("auto", "composed", "factored")  # how the forward forms pre (module docstring)


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


def _transposed(matrix: torch.Tensor) -> torch.Tensor:
    """(K, a, b) -> a contiguous (K, b, a).

    Large matrices go one 2-d copy per instance: torch's blocked (cache-friendly) transpose is 2-d
    only, and a 3-d ``.contiguous()`` of the transpose is about 5x slower at a = 512, b = 2048 on the
    CPU. Small ones, where a Python loop over K would cost more than the copies, go in one call.
    """
    if matrix[0].numel() < 1 << 16:
        return matrix.transpose(1, 2).contiguous()
    out = torch.empty((matrix.shape[0], matrix.shape[2], matrix.shape[1]), dtype=matrix.dtype, device=matrix.device)
    for k in range(matrix.shape[0]):
        out[k].copy_(matrix[k].t())
    return out


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


def _bag_sums(keys: torch.Tensor, values: torch.Tensor, bags: int) -> torch.Tensor:
    """out[r] = sum of values[e] over keys[e] = r, a (bags,) array (``keys`` sorted; in order, no atomics)."""
    ones = torch.ones((1, 1), dtype=values.dtype, device=values.device)
    return _rows_times(keys, torch.zeros_like(keys), values, ones, bags).view(bags)


def _regroup(keys: torch.Tensor, *columns: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The non-zeros re-sorted by ``keys`` (stable), for a product grouped by another index."""
    order = torch.argsort(keys, stable=True)
    return (keys[order], *(column[order] for column in columns))


def choose_method(batch: SparseBatch, n_hidden: int) -> str:
    """The cheaper forward for ``batch`` by multiply-adds: "factored" iff B m n <= n^2 m + nnz(x) n / K.

    Each side is dominated by one dense batched product (W_out h, or W = W_out W_in), both large
    GEMMs that run at about the same rate per multiply-add, so the counts decide. The nnz(x) n
    term is a gather-bound product, slower per multiply-add than a GEMM, but it is only p B / m
    of the n^2 m term (1% at p = 0.01, B = 1024, m = 1024), so counting it at a GEMM's rate moves
    the boundary B ~ n little; ties go to "factored", which needs no (n, n) matrix (at B = n the
    two GEMMs are the same size). Reads only sizes (no device sync): a given batch always gets
    the same method, so a seeded run stays reproducible even where nnz(x) moves the choice from
    step to step.

    >>> import torch
    >>> generator, p = torch.Generator().manual_seed(0), torch.tensor([0.01])
    >>> [choose_method(sample_sparse(p, size, 512, generator), 128) for size in (1024, 512)]
    ['composed', 'factored']
    """
    instances, size, n = batch.shape
    factored = instances * size * n_hidden * n
    composed = instances * n * n * n_hidden + batch.value.numel() * n
    return "factored" if factored <= composed else "composed"


class _SparseToyLoss(torch.autograd.Function):
    """Per-instance loss of y = ReLU(W_out W_in x + b) on a SparseBatch, with the sparse backward.

    Rows of the stacked (K B, .) arrays are (instance, sample) pairs, k B + s; rows of the
    stacked (K n, .) arrays are (instance, feature) pairs, k n + j. ``w_out`` None: tied, W_out = W_in^T
    (its gradient is then added to W_in's before the one transpose back).
    """

    @staticmethod
    def forward(ctx, w_in, w_out, b, batch: SparseBatch, method: str):
        instances, size, n = batch.shape
        m = w_in.shape[1]
        sample_row = batch.instance * size + batch.sample          # sorted: the batch is in row-major order
        feature_row = batch.instance * n + batch.feature
        in_rows = _stack(_transposed(w_in))                        # (K n, m): row k n + j is W_in,k[:, j]
        ctx.tied = w_out is None
        if ctx.tied:
            w_out = in_rows.view(instances, n, m)
        hidden = _rows_times(sample_row, feature_row, batch.value, in_rows, instances * size)  # (K B, m) = W_in x
        if method == "factored":                                    # B m n: W is not formed
            pre = torch.bmm(hidden.view(instances, size, m), w_out.transpose(1, 2))
        else:                                                       # n^2 m + nnz(x) n
            w_t = torch.bmm(w_in.transpose(1, 2), w_out.transpose(1, 2))  # (K, n, n) = (W_out W_in)^T
            pre = _rows_times(sample_row, feature_row, batch.value, _stack(w_t), instances * size).view(
                instances, size, n)
        pre += b.unsqueeze(1)                                       # (baddbmm's broadcast copy of b is slower)
        residual = torch.relu_(pre)                                 # y; pre is no longer needed
        # Off the non-zeros of x, y - x = y, and y = 0 where an output does not fire, so only the
        # non-zeros need fixing for residual = (y - x) [fired], the unscaled dL/dpre. Where x > 0 does
        # not fire (missed), (y - x)^2 = x^2 is in the loss but not in the residual.
        where = (batch.instance, batch.sample, batch.feature)
        at_x = residual[where]
        missed = at_x <= 0
        residual[where] = torch.where(missed, 0.0, at_x - batch.value)
        rows = residual.view(instances * size, 1, n)               # squares: one pass, no (K, B, n) temporary,
        squares = torch.bmm(rows, rows.transpose(1, 2)).view(instances, size).sum(dim=1)  # a dot product per row
        squares += _bag_sums(batch.instance, batch.value.square() * missed, instances)
        ctx.batch = batch
        ctx.save_for_backward(w_in, w_out, hidden, residual)
        return squares / (size * n)

    @staticmethod
    def backward(ctx, grad_losses):
        w_in, w_out, hidden, residual = ctx.saved_tensors
        batch: SparseBatch = ctx.batch
        instances, size, n = batch.shape
        m = w_in.shape[1]
        scale = (2.0 / (size * n)) * grad_losses                    # (K,): G = dL/dpre = scale_k residual
        flat = torch.nonzero(residual.view(-1)).squeeze(1)
        if flat.numel() > DENSE_GRADIENT * residual.numel():
            # many outputs fire (early in training): dense products with G are cheaper
            grad_b = residual.sum(dim=1).mul_(scale.view(-1, 1))
            grad_w_out = torch.bmm(residual.transpose(1, 2), hidden.view(instances, size, m)).mul_(scale.view(-1, 1, 1))
            grad_hidden = _stack(torch.bmm(residual, w_out).mul_(scale.view(-1, 1, 1)))
        else:
            sample_row = flat // n                                  # k B + s, sorted
            instance = sample_row // size
            feature_row = instance * n + flat % n                   # k n + i
            g = residual.view(-1)[flat] * scale[instance]
            grad_hidden = _rows_times(sample_row, feature_row, g, _stack(w_out), instances * size)  # G W_out
            by_feature, rows, values = _regroup(feature_row, sample_row, g)
            grad_w_out = _rows_times(by_feature, rows, values, hidden, instances * n).view(instances, n, m)  # G^T h
            grad_b = _bag_sums(by_feature, values, instances * n).view(instances, n)
        x_by_feature, x_rows, x_values = _regroup(batch.instance * n + batch.feature, batch.instance * size + batch.sample,
                                                  batch.value)
        grad_rows = _rows_times(x_by_feature, x_rows, x_values, grad_hidden, instances * n)  # (dh^T x)^T: (K n, m)
        if ctx.tied:
            return _transposed(grad_rows.view(instances, n, m).add_(grad_w_out)), None, grad_b, None, None
        return _transposed(grad_rows.view(instances, n, m)), grad_w_out, grad_b, None, None


def sparse_losses(weights: dict[str, torch.Tensor], batch: SparseBatch, method: str = "auto") -> torch.Tensor:
    """The (K,) per-feature MSE of each instance on ``batch``, differentiable (sparse backward).

    ``method``: how the forward forms the pre-activations, "composed" (through W = W_out W_in),
    "factored" (W_out (W_in x), no W) or "auto" (``choose_method``); the loss and gradients agree
    to rounding (module docstring).
    """
    if method not in METHODS:
        raise ParameterError(f"method = {method!r} is not a sparse-step method; valid: {', '.join(METHODS)}")
    w_in = weights["W_in"]
    chosen = choose_method(batch, w_in.shape[1]) if method == "auto" else method
    return _SparseToyLoss.apply(w_in, weights.get("W_out"), weights["b"], batch, chosen)
