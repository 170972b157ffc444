"""The CUDA paths, held against their CPU counterparts: they run only where CUDA is present.

Each test skips with its reason on a machine without a CUDA device (CI never has one);
``benchmarks/gpu_check.sh`` runs them on a lent GPU. The references are independent of the
code under test on the device: autograd of the dense model in float64 for the sparse step's
gradients, the numpy engine for the exact loss, the closed-form baseline p/3 for training.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the CUDA paths need the torch extra: pip install 'rugtheory[torch]'")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device here (torch.cuda.is_available() is False)", allow_module_level=True)

from rugtheory.harness import TrainConfig, train
from rugtheory.harness.model import forward, instance_loss
from rugtheory.harness.sparse import sample_sparse, sparse_losses
from rugtheory.numeric.exact import exact_loss

CUDA = torch.device("cuda")


@pytest.mark.parametrize("method", ["composed", "factored"])
@pytest.mark.parametrize("bias", [0.0, -1.2])
def test_sparse_gradients_on_cuda_equal_autograd(bias, method):
    generator = torch.Generator(device=CUDA).manual_seed(4)
    k, n, m, size = 3, 64, 16, 48
    batch = sample_sparse(torch.tensor([0.02, 0.1, 0.3], dtype=torch.float64, device=CUDA), size, n, generator)
    x = batch.dense()
    weights = {
        "W_in": (0.3 * torch.randn(k, m, n, generator=generator, dtype=torch.float64, device=CUDA)).requires_grad_(),
        "W_out": (0.3 * torch.randn(k, n, m, generator=generator, dtype=torch.float64, device=CUDA)).requires_grad_(),
        "b": (bias + 0.05 * torch.randn(k, n, generator=generator, dtype=torch.float64, device=CUDA)).requires_grad_(),
    }
    instance_loss(forward(weights, x), x).sum().backward()
    expected = {name: value.grad.clone() for name, value in weights.items()}
    for value in weights.values():
        value.grad = None
    sparse_losses(weights, batch, method=method).sum().backward()
    for name, value in weights.items():
        torch.testing.assert_close(value.grad, expected[name], rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("kernel", ["dense", "sparse"])
def test_a_short_cuda_run_trains_and_matches_its_cpu_twin_to_rounding(kernel):
    config = TrainConfig(n_features=64, n_hidden=16, feature_probability=[0.05, 0.2], seed=(0, 1), steps=400,
                         batch_size=256, kernel=kernel, dtype="float64")
    on_gpu = train(config, device="cuda", progress=False)
    assert on_gpu.device.startswith("cuda") and np.all(np.isfinite(on_gpu.W))
    # the data stream differs between devices (torch's generators), so compare what training reaches
    for k, p in enumerate(config.feature_probability):
        assert on_gpu.final_loss[k] < p / 3, (k, on_gpu.final_loss[k], p / 3)


def test_exact_loss_on_cuda_equals_numpy():
    rng = np.random.default_rng(0)
    n = 256
    W = rng.normal(0.0, 1.0 / np.sqrt(n), size=(n, n)) + np.eye(n)
    b = np.full(n, -0.2)
    host = exact_loss(W, b, 0.05)
    device = exact_loss(W, b, 0.05, device="cuda")
    assert abs(device.loss - host.loss) <= 1e-11 * host.loss + host.error_bound
