"""`rugtheory exact` end to end: npz, safetensors, a harness checkpoint, a saved rug, bad input."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from rugtheory.cli.main import main
from rugtheory.numeric.exact import exact_loss


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _matrix(n: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, 1.0 / np.sqrt(n), (n, n))
    np.fill_diagonal(W, 1.0)
    return W, np.full(n, -0.1)


def test_npz_with_w_and_b(tmp_path, capsys):
    W, b = _matrix()
    path = tmp_path / "weights.npz"
    np.savez(path, W=W, b=b)
    code, out, _ = _run(capsys, "exact", "--weights", str(path), "--p", "0.1", "--json")
    assert code == 0
    data = json.loads(out)
    expected = exact_loss(W, b, 0.1)
    assert data["loss_exact"] == expected.loss and data["error_bound"] == expected.error_bound
    assert data["rows"] == data["n"] == 16 and data["p"] == 0.1 and data["standard_error"] == 0.0
    assert data["seconds"] > 0
    code, out, _ = _run(capsys, "exact", "--weights", str(path), "--p", "0.1")
    assert code == 0 and "L = " in out and "rigorous bound" in out


def test_row_subsample(tmp_path, capsys):
    W, b = _matrix()
    path = tmp_path / "weights.npz"
    np.savez(path, W=W, b=b)
    code, out, _ = _run(capsys, "exact", "--weights", str(path), "--p", "0.1", "--rows", "5", "--seed", "2", "--json")
    assert code == 0
    data = json.loads(out)
    expected = exact_loss(W, b, 0.1, rows=5, seed=2)
    assert data["rows"] == 5 and data["loss_exact"] == expected.loss and data["standard_error"] == expected.standard_error


def test_safetensors_with_w_in_w_out_b(tmp_path, capsys):
    pytest.importorskip("safetensors", reason="safetensors files need the torch extra: pip install 'rugtheory[torch]'")
    from safetensors.numpy import save_file

    rng = np.random.default_rng(1)
    w_in, w_out, b = rng.normal(0, 0.4, (6, 12)), rng.normal(0, 0.4, (12, 6)), rng.normal(0, 0.05, 12)
    path = tmp_path / "model.safetensors"
    save_file({"W_in": w_in, "W_out": w_out, "b": b}, str(path))
    code, out, _ = _run(capsys, "exact", "--weights", str(path), "--p", "0.2", "--json")
    assert code == 0
    assert json.loads(out)["loss_exact"] == exact_loss(w_out @ w_in, b, 0.2).loss


def test_harness_checkpoint_with_instances(tmp_path, capsys):
    pytest.importorskip("torch", reason="rugtheory train needs the torch extra: pip install 'rugtheory[torch]'")
    out_dir = tmp_path / "run"
    code, _, _ = _run(capsys, "train", "--n", "8", "--p", "0.2", "--r", "0.5", "--instances", "2", "--steps", "30",
                      "--device", "cpu", "--samples", "2000", "--out", str(out_dir), "--no-progress", "--json")
    assert code == 0
    from rugtheory.checkpoint import load_checkpoint

    arrays, _ = load_checkpoint(out_dir / "checkpoint")
    W = arrays["W_out"].astype(float) @ arrays["W_in"].astype(float)
    for target in (out_dir, out_dir / "checkpoint", out_dir / "checkpoint" / "weights.safetensors"):
        code, out, _ = _run(capsys, "exact", "--weights", str(target), "--p", "0.2", "--json")
        assert code == 0
        data = json.loads(out)
        assert [item["instance"] for item in data] == [0, 1]
        for k, item in enumerate(data):
            assert item["loss_exact"] == exact_loss(W[k], arrays["b"][k].astype(float), 0.2).loss
    code, out, _ = _run(capsys, "exact", "--weights", str(out_dir), "--p", "0.2", "--instance", "1", "--json")
    assert code == 0 and json.loads(out)["instance"] == 1
    code, out, _ = _run(capsys, "exact", "--weights", str(out_dir), "--p", "0.2")
    assert code == 0 and "instance 0" in out and "instance 1" in out


def test_saved_rug(tmp_path, capsys):
    pytest.importorskip("safetensors", reason="rug --out needs the torch extra: pip install 'rugtheory[torch]'")
    from rugtheory.weights.rug_model import load_rug

    folder = tmp_path / "rug"
    code, _, _ = _run(capsys, "rug", "--n", "16", "--r", "0.5", "--p", "0.05", "--samples", "2000", "--out", str(folder), "--json")
    assert code == 0
    rug = load_rug(folder)
    code, out, _ = _run(capsys, "exact", "--weights", str(folder), "--p", "0.05", "--json")
    assert code == 0 and json.loads(out)["loss_exact"] == exact_loss(rug.W, rug.b, 0.05).loss


def _bad_files(tmp_path) -> dict[str, str]:
    W, b = _matrix(8)
    files = {}
    for name, arrays in {
        "nan": {"W": np.where(np.eye(8) > 0, np.nan, W), "b": b},
        "names": {"X": W, "b": b},
        "shape": {"W": W[:, :5], "b": b},
        "bias": {"W": W, "b": b[:5]},
        "compose": {"W_in": np.ones((3, 8)), "W_out": np.ones((8, 4)), "b": b},
        "good": {"W": W, "b": b},
    }.items():
        np.savez(tmp_path / f"{name}.npz", **arrays)
        files[name] = str(tmp_path / f"{name}.npz")
    (tmp_path / "corrupt.npz").write_bytes(b"not a zip file")
    (tmp_path / "corrupt.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage")
    (tmp_path / "weights.txt").write_text("1 2 3")
    files.update(corrupt=str(tmp_path / "corrupt.npz"), corrupt_st=str(tmp_path / "corrupt.safetensors"),
                 text=str(tmp_path / "weights.txt"), missing=str(tmp_path / "missing.npz"), empty_dir=str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    return files


@pytest.mark.parametrize("case, extra, needle", [
    ("missing", (), "does not exist"),
    ("empty_dir", (), "holds no"),
    ("corrupt", (), "cannot be read"),
    pytest.param("corrupt_st", (), "cannot be read", marks=pytest.mark.skipif(
        importlib.util.find_spec("safetensors") is None,
        reason="reading safetensors needs the torch extra: pip install 'rugtheory[torch]'")),
    ("text", (), "unknown type"),
    ("names", (), "has no W and b"),
    ("nan", (), "NaN"),
    ("shape", (), "square"),
    ("bias", (), "length n"),
    ("compose", (), "do not compose"),
    ("good", ("--p", "1.5"), "p in (0, 1)"),
    ("good", ("--p", "nan"), "p in (0, 1)"),
    ("good", ("--p", "abc"), "feature_probability"),
    ("good", ("--rows", "0"), "[1, 8]"),
    ("good", ("--rows", "9"), "[1, 8]"),
    ("good", ("--instance", "1"), "[0, 0]"),
])
def test_bad_input_is_one_line_and_exit_code_two(tmp_path, capsys, case, extra, needle):
    files = _bad_files(tmp_path)
    argv = ["exact", "--weights", files[case], *(extra if "--p" in extra else ("--p", "0.1", *extra))]
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own errors (a non-number)
        code = stop.code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and needle in lines[0] and captured.out == ""
    assert "Traceback" not in captured.err
