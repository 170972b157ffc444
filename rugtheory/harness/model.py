"""The batched toy model, its data and its loss in torch (THEORY.md, "Data" and "Model and loss").

K instances live in one set of tensors: W_in (K, m, n), W_out (K, n, m) and b (K, n). For a
batch x of shape (K, B, n) the forward pass is y_k = ReLU(W_out,k W_in,k x + b_k), two batched
matrix products (torch.bmm / baddbmm). With tied weights W_out,k = W_in,k^T and there is no
W_out tensor.
"""

from __future__ import annotations

import math

import torch

from .config import TrainConfig

__all__ = ["forward", "init_weights", "instance_loss", "sample_features"]


def init_weights(config: TrainConfig, device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Initial parameters: Xavier/Glorot normal weights, zero bias.

    Each matrix has i.i.d. N(0, 2 / (n + m)) entries, the fans of ``torch.nn.init.xavier_normal_``
    on one m x n matrix. (Elhage et al.'s toy-model code applies xavier_normal_ to the whole
    (K, n, m) stack, whose fans then grow with K; per-matrix fans keep an instance's init
    independent of K.) Instance k draws W_in (m x n, row-major) and then, when untied, W_out
    (n x m) from ``torch.Generator().manual_seed(seed[k])`` on the CPU, in float64, then rounds to
    ``dtype``: the initial weights are the same on every device. b = 0.
    """
    n, m = config.n_features, config.n_hidden
    std = math.sqrt(2.0 / (n + m))
    w_in, w_out = [], []
    for seed in config.seed:
        generator = torch.Generator().manual_seed(seed)
        w_in.append(torch.randn(m, n, generator=generator, dtype=torch.float64) * std)
        if not config.tied:
            w_out.append(torch.randn(n, m, generator=generator, dtype=torch.float64) * std)
    weights = {"W_in": torch.stack(w_in)}
    if not config.tied:
        weights["W_out"] = torch.stack(w_out)
    weights["b"] = torch.zeros(config.instances, n, dtype=torch.float64)
    return {name: value.to(device=device, dtype=dtype).requires_grad_() for name, value in weights.items()}


def forward(weights: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """y = ReLU(W_out W_in x + b) for x of shape (K, B, n); returns (K, B, n)."""
    w_in, b = weights["W_in"], weights["b"]
    hidden = torch.bmm(x, w_in.transpose(1, 2))  # (K, B, m)
    w_out_t = weights["W_out"].transpose(1, 2) if "W_out" in weights else w_in  # (K, m, n)
    return torch.relu(torch.baddbmm(b.unsqueeze(1), hidden, w_out_t))


def instance_loss(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The per-feature MSE of each instance, mean over batch and features: shape (K,)."""
    return (y - x).square().mean(dim=(1, 2))


def sample_features(
    probability: torch.Tensor, batch_size: int, n_features: int, generator: torch.Generator
) -> torch.Tensor:
    """A fresh (K, B, n) batch: x = where(rand < p_k, uniform, 0) (THEORY.md, "Data").

    ``probability`` is the (K,) tensor of p_k on the generator's device, in the data dtype. Two
    draws from ``generator``, in this order: the values u ~ U[0, 1), then the mask uniforms.
    In float32 the mask uniforms are multiples of 2^-24, so p is resolved to about 6e-8.
    """
    shape = (probability.shape[0], batch_size, n_features)
    options = {"generator": generator, "device": probability.device, "dtype": probability.dtype}
    values = torch.rand(shape, **options)
    active = torch.rand(shape, **options) < probability.view(-1, 1, 1)
    return values.mul_(active)
