"""The sparse training step: its data has THEORY.md's distribution, its loss and gradients are autograd's."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch", reason="the sparse step needs the torch extra: pip install 'rugtheory[torch]'")

from rugtheory.harness.model import forward, instance_loss
from rugtheory.harness.sparse import DENSE_GRADIENT, sample_sparse, sparse_losses

K, N, M, B = 3, 48, 12, 96


def _weights(generator: torch.Generator, bias: float, tied: bool) -> dict[str, torch.Tensor]:
    weights = {"W_in": (0.3 * torch.randn(K, M, N, generator=generator, dtype=torch.float64)).requires_grad_()}
    if not tied:
        weights["W_out"] = (0.3 * torch.randn(K, N, M, generator=generator, dtype=torch.float64)).requires_grad_()
    weights["b"] = (bias + 0.05 * torch.randn(K, N, generator=generator, dtype=torch.float64)).requires_grad_()
    return weights


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("bias", [0.0, -1.2])  # many outputs fire (dense backward) / few fire (sparse backward)
def test_loss_and_gradients_equal_autograd_of_the_dense_model(tied, bias):
    generator = torch.Generator().manual_seed(4)
    batch = sample_sparse(torch.tensor([0.02, 0.1, 0.3], dtype=torch.float64), B, N, generator)
    x = batch.dense()
    weights = _weights(generator, bias, tied)
    weight = torch.tensor([1.0, 2.5, 0.5], dtype=torch.float64)  # distinct upstream gradients per instance
    dense = instance_loss(forward(weights, x), x)
    (dense * weight).sum().backward()
    expected = {name: value.grad.clone() for name, value in weights.items()}
    for value in weights.values():
        value.grad = None
    sparse = sparse_losses(weights, batch)
    (sparse * weight).sum().backward()
    fired = float((forward(weights, x) > 0).double().mean())
    assert (fired > DENSE_GRADIENT) == (bias == 0.0)  # both branches of the backward are exercised
    # float64; the sparse step reassociates W_out (W_in x) as (W_out W_in) x: rounding only
    torch.testing.assert_close(sparse, dense, rtol=1e-13, atol=0.0)
    for name, value in weights.items():
        torch.testing.assert_close(value.grad, expected[name], rtol=1e-12, atol=1e-15)


def test_sampled_data_has_the_theory_moments():
    generator = torch.Generator().manual_seed(0)
    p = torch.tensor([0.003, 0.05, 0.4], dtype=torch.float64)
    batch = sample_sparse(p, 4096, 64, generator)
    x = batch.dense()
    count = 4096 * 64
    for k, pk in enumerate(p.tolist()):
        values = x[k].reshape(-1)
        # E x = p/2 with Var x = p/3 - p^2/4; E x^2 = p/3 with Var x^2 = p/5 - p^2/9; P(x > 0) = p
        for sample, mean, var in ((values, pk / 2, pk / 3 - pk**2 / 4), (values**2, pk / 3, pk / 5 - pk**2 / 9),
                                  ((values > 0).double(), pk, pk * (1 - pk))):
            assert abs(float(sample.mean()) - mean) < 4.5 * math.sqrt(var / count)
    # neighbouring coordinates are independent: the lag-1 correlation of the activity is ~0 (SE 1/sqrt(count))
    active = (x[2].reshape(-1) > 0).double()
    correlation = float(torch.corrcoef(torch.stack([active[:-1], active[1:]]))[0, 1])
    assert abs(correlation) < 4.5 / math.sqrt(count)


def test_positions_are_distinct_and_in_range():
    generator = torch.Generator().manual_seed(1)
    batch = sample_sparse(torch.tensor([0.9, 0.5]), 32, 16, generator)
    flat = batch.instance * 32 * 16 + batch.sample * 16 + batch.feature
    assert flat.unique().numel() == flat.numel()
    assert int(batch.feature.max()) < 16 and int(batch.sample.max()) < 32
    assert bool(((batch.value >= 0) & (batch.value < 1)).all())


def test_deterministic_given_the_generator():
    draws = [sample_sparse(torch.tensor([0.05, 0.2]), 64, 32, torch.Generator().manual_seed(9)) for _ in range(2)]
    assert torch.equal(draws[0].dense(), draws[1].dense())
