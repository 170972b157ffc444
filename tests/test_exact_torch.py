"""The torch path of ``exact_loss`` (``device=``, issue 5) against the numpy path, on the CPU.

No GPU was available where these were written: "cpu" runs the torch port (rugtheory/numeric/
exact_torch.py) in float64 on the CPU, which is the same code a CUDA device runs. Both paths do
the same arithmetic in a different summation order, so the per-row values agree within the
bound's own rounding estimate (measured: at most 14% of it, 2e-11 relative at K ~ 5000), and the
bounds (and the terms and retries they drive) to ~1e-15 relative.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rugtheory.cli.main import main
from rugtheory.errors import ParameterError
from rugtheory.numeric import exact, exact_torch
from rugtheory.numeric.exact import exact_loss
from rugtheory.weights.rug_model import rug_model

FIELDS = ("value", "bound", "window", "truncation", "series", "rounding", "decay")


def _random(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, 1.0 / np.sqrt(n), (n, n))
    np.fill_diagonal(W, 1.0)
    return W, np.full(n, -0.1)


def _antipodal(n: int) -> np.ndarray:
    W = np.zeros((n, n))
    for i in range(0, n, 2):
        W[i, i] = W[i + 1, i + 1] = 1.0
        W[i, i + 1] = W[i + 1, i] = -1.0
    return W


def _assert_rows_agree(W: np.ndarray, b: np.ndarray, p: float) -> None:
    """Every row's value, bound parts and terms from numpy and from torch on the CPU."""
    chosen = np.arange(W.shape[0])
    numpy_rows = exact._rows(W, b, p, chosen, 1e-6)
    torch_rows = exact._rows(W, b, p, chosen, 1e-6, "cpu")
    np.testing.assert_array_equal(torch_rows.terms, numpy_rows.terms)
    # values: within the rounding estimate of the bound (a few 1e-12 relative where K is in the thousands)
    difference = np.abs(torch_rows.value - numpy_rows.value)
    assert np.all(difference <= numpy_rows.rounding), (difference / numpy_rows.rounding).max()
    assert np.all(difference <= 1e-10 * np.abs(numpy_rows.value) + 1e-18)
    for name in FIELDS[1:]:
        np.testing.assert_allclose(getattr(torch_rows, name), getattr(numpy_rows, name), rtol=1e-12, atol=1e-20,
                                   err_msg=name)


@pytest.mark.parametrize("case", ["random", "rug"])
def test_torch_on_cpu_equals_numpy(case):
    if case == "random":
        W, b, p = *_random(48, 0), 0.1
    else:
        rug = rug_model(64, 0.5, 0.05, seed=1)
        W, b, p = rug.W, rug.b, 0.05
    _assert_rows_agree(W, b, p)
    reference, result = exact_loss(W, b, p), exact_loss(W, b, p, device="cpu")
    assert result.terms == reference.terms and result.n == reference.n and result.rows == reference.rows
    assert abs(result.loss - reference.loss) <= 1e-11 * reference.loss
    assert result.error_bound == pytest.approx(reference.error_bound, rel=1e-12)


def test_zero_weights_and_antipodal_pairs():
    result = exact_loss(np.zeros((6, 6)), np.zeros(6), 0.2, device="cpu")
    assert abs(result.loss - 0.2 / 3) <= result.error_bound + 1e-15
    for p in (0.05, 0.3):
        result = exact_loss(_antipodal(8), np.zeros(8), p, device="cpu")
        assert result.error_bound < 1e-6 * p / 3
        assert abs(result.loss - p * p / 6) <= result.error_bound + 1e-15
        _assert_rows_agree(_antipodal(8), np.zeros(8), p)


def test_few_active_features_retry_with_a_longer_t_range(monkeypatch):
    """n = 64, p = 0.01: p n < 1, so the first t range is too short and rows are redone (more blocks)."""
    calls = []
    original = exact_torch.block

    def counting(*args, **kwargs):
        calls.append(len(args[0]))
        return original(*args, **kwargs)

    monkeypatch.setattr(exact_torch, "block", counting)
    rug = rug_model(64, 0.5, 0.01, seed=0)
    _assert_rows_agree(rug.W, rug.b, 0.01)
    assert len(calls) > 1  # one block of 64 rows, then retries
    reference, result = exact_loss(rug.W, rug.b, 0.01), exact_loss(rug.W, rug.b, 0.01, device="cpu")
    assert abs(result.loss - reference.loss) <= 1e-11 * reference.loss
    assert result.error_bound == pytest.approx(reference.error_bound, rel=1e-12)
    assert result.terms == reference.terms


def test_auto_falls_back_to_numpy_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here: 'auto' runs on the GPU (see test_torch_on_cpu_equals_numpy)")
    assert exact._resolve_device("auto") is None
    W, b = _random(16, 2)
    assert exact_loss(W, b, 0.1, device="auto") == exact_loss(W, b, 0.1)


def test_unavailable_or_unknown_device_is_a_one_line_error():
    W, b = _random(8, 0)
    bad = ["gpu", "cuda:x", 3, "cuda:999"]
    if not torch.cuda.is_available():
        bad += ["cuda", "cuda:0"]
    for device in bad:
        with pytest.raises(ParameterError) as caught:
            exact_loss(W, b, 0.1, device=device)
        message = str(caught.value)
        assert "\n" not in message and repr(device) in message and "valid: None, 'auto', 'cpu'" in message


def test_cli_device(tmp_path, capsys):
    W, b = _random(16, 0)
    path = tmp_path / "weights.npz"
    np.savez(path, W=W, b=b)
    assert main(["exact", "--weights", str(path), "--p", "0.1", "--device", "cpu", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = exact_loss(W, b, 0.1)
    assert abs(data["loss_exact"] - expected.loss) <= 1e-12 * expected.loss
    assert data["error_bound"] == pytest.approx(expected.error_bound, rel=1e-12)
    code = main(["exact", "--weights", str(path), "--p", "0.1", "--device", "tpu"])
    err = capsys.readouterr().err
    assert code == 2 and err.strip().count("\n") == 0 and "--device" in err and "'tpu'" in err
