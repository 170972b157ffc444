"""The sparse training step: its data has THEORY.md's distribution, its loss and gradients are autograd's."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch", reason="the sparse step needs the torch extra: pip install 'rugtheory[torch]'")

from rugtheory.errors import ParameterError
from rugtheory.harness.model import forward, instance_loss
from rugtheory.harness.sparse import DENSE_GRADIENT, choose_method, sample_sparse, sparse_losses

K, N, M, B = 3, 48, 12, 96


def _weights(generator: torch.Generator, bias: float, tied: bool) -> dict[str, torch.Tensor]:
    weights = {"W_in": (0.3 * torch.randn(K, M, N, generator=generator, dtype=torch.float64)).requires_grad_()}
    if not tied:
        weights["W_out"] = (0.3 * torch.randn(K, N, M, generator=generator, dtype=torch.float64)).requires_grad_()
    weights["b"] = (bias + 0.05 * torch.randn(K, N, generator=generator, dtype=torch.float64)).requires_grad_()
    return weights


@pytest.mark.parametrize("method", ["composed", "factored", "auto"])
@pytest.mark.parametrize("size", [4 * N, N // 2])  # B > n (auto composes) and B < n (auto factors)
@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("bias", [0.0, -1.2])  # many outputs fire (dense backward) / few fire (sparse backward)
def test_loss_and_gradients_equal_autograd_of_the_dense_model(tied, bias, size, method):
    generator = torch.Generator().manual_seed(4)
    batch = sample_sparse(torch.tensor([0.02, 0.1, 0.3], dtype=torch.float64), size, N, generator)
    x = batch.dense()
    weights = _weights(generator, bias, tied)
    weight = torch.tensor([1.0, 2.5, 0.5], dtype=torch.float64)  # distinct upstream gradients per instance
    dense = instance_loss(forward(weights, x), x)
    (dense * weight).sum().backward()
    expected = {name: value.grad.clone() for name, value in weights.items()}
    for value in weights.values():
        value.grad = None
    sparse = sparse_losses(weights, batch, method=method)
    (sparse * weight).sum().backward()
    fired = float((forward(weights, x) > 0).double().mean())
    assert (fired > DENSE_GRADIENT) == (bias == 0.0)  # both branches of the backward are exercised
    assert choose_method(batch, M) == ("composed" if size > N else "factored")  # so auto runs both forwards
    # float64; "composed" reassociates W_out (W_in x) as (W_out W_in) x: rounding only
    torch.testing.assert_close(sparse, dense, rtol=1e-13, atol=0.0)
    for name, value in weights.items():
        torch.testing.assert_close(value.grad, expected[name], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("tied", [False, True])
def test_gradients_at_a_size_where_the_transposes_go_per_instance(tied):
    # m n = 2^16 per instance: W_in is transposed by one 2-d copy per instance (the blocked path)
    k, n, m, size = 2, 512, 128, 64
    generator = torch.Generator().manual_seed(11)
    batch = sample_sparse(torch.tensor([0.02, 0.05], dtype=torch.float64), size, n, generator)
    x = batch.dense()
    weights = {"W_in": (0.1 * torch.randn(k, m, n, generator=generator, dtype=torch.float64)).requires_grad_()}
    if not tied:
        weights["W_out"] = (0.1 * torch.randn(k, n, m, generator=generator, dtype=torch.float64)).requires_grad_()
    weights["b"] = torch.full((k, n), -0.02, dtype=torch.float64).requires_grad_()
    assert choose_method(batch, m) == "factored"
    expected = torch.autograd.grad(instance_loss(forward(weights, x), x).sum(), list(weights.values()))
    got = torch.autograd.grad(sparse_losses(weights, batch).sum(), list(weights.values()))
    for name, value, reference in zip(weights, got, expected):
        assert value.is_contiguous(), name  # the parameter's layout: autograd keeps it without a copy
        torch.testing.assert_close(value, reference, rtol=1e-12, atol=1e-15)


def test_the_two_forwards_agree_to_rounding_in_float32():
    # the trainer's dtype: at a realistic size the reassociation moves the loss by rounding only
    generator = torch.Generator().manual_seed(7)
    batch = sample_sparse(torch.tensor([0.01, 0.05]), 128, 256, generator)
    weights = {"W_in": 0.1 * torch.randn(2, 64, 256, generator=generator), "b": torch.full((2, 256), -0.05)}
    losses = [sparse_losses(weights, batch, method=method) for method in ("composed", "factored")]
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-5, atol=0.0)


@pytest.mark.parametrize(("size", "n", "m", "method"), [
    (1024, 512, 128, "composed"), (512, 512, 128, "factored"),  # B = n: a tie in the products, nnz(x) n decides
    (1024, 1024, 256, "factored"), (300, 2048, 512, "factored"), (4096, 2048, 512, "composed"),
    (2100, 2048, 16, "factored"),  # B > n, but nnz(x) n (p B / m = 1.3 of n^2 m) tips it
])
def test_auto_takes_the_smaller_multiply_add_count(size, n, m, method):
    # composed: n^2 m + nnz(x) n / K per instance; factored: B m n
    batch = sample_sparse(torch.tensor([0.01, 0.01]), size, n, torch.Generator().manual_seed(3))
    composed = n * n * m + batch.value.numel() * n / 2
    assert (size * m * n <= composed) == (method == "factored")  # the case is what its comment says
    assert choose_method(batch, m) == method


def test_the_trainer_on_the_factored_forward_is_bitwise_reproducible():
    # B < n: the trainer's auto step factors (tests/test_harness_train.py runs B > n, composed, and
    # checks that it learns); the gradients are the tests above
    from rugtheory.harness import TrainConfig, train

    config = TrainConfig(n_features=64, n_hidden=16, feature_probability=(0.05, 0.2), seed=(1, 2), batch_size=32,
                         steps=40, log_every=10, kernel="sparse")
    assert choose_method(sample_sparse(torch.tensor([0.2, 0.2]), 32, 64, torch.Generator()), 16) == "factored"
    runs = [train(config, device="cpu", progress=False) for _ in range(2)]
    for name in ("W_in", "W_out", "b", "final_loss"):
        assert (getattr(runs[0], name) == getattr(runs[1], name)).all()


def test_an_unknown_method_is_refused():
    generator = torch.Generator().manual_seed(0)
    batch = sample_sparse(torch.tensor([0.1]), 4, 8, generator)
    weights = {"W_in": torch.zeros(1, 2, 8), "b": torch.zeros(1, 8)}
    with pytest.raises(ParameterError, match="valid: auto, composed, factored"):
        sparse_losses(weights, batch, method="dense")


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
