"""`rugtheory rug`, run as a user would (a subprocess) and in-process for the many bad inputs."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from rugtheory.checkpoint import WEIGHTS_FILE
from rugtheory.cli.main import main
from rugtheory.cli.rug import DEFAULT_P
from rugtheory.optimum import solve
from rugtheory.weights import load_rug

SAVING = "saving and loading a rug needs safetensors, in the torch extra: pip install 'rugtheory[torch]'"
DRAWING = "--png needs matplotlib, in the torch extra: pip install 'rugtheory[torch]'"
NEEDS_SAFETENSORS = pytest.mark.skipif(importlib.util.find_spec("safetensors") is None, reason=SAVING)
NEEDS_MATPLOTLIB = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason=DRAWING)
CONTRACT = {
    "n", "m", "r", "p", "diag", "offdiag_power", "a", "bias", "loss_measured", "loss_measured_se",
    "loss_meanfield_optimum",
}


def run(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "rugtheory", "rug", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


@NEEDS_SAFETENSORS
@NEEDS_MATPLOTLIB
def test_json_has_the_contract_keys_and_consistent_values(tmp_path):
    png = tmp_path / "rug.png"
    out = run("--n", "64", "--r", "0.3", "--samples", "20000", "--png", str(png), "--out", str(tmp_path / "model"), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data.keys() >= CONTRACT
    m = round(0.3 * 64)
    assert (data["n"], data["m"], data["r"], data["p"]) == (64, m, m / 64, DEFAULT_P)
    optimum = solve(DEFAULT_P, m / 64)
    assert data["a"] == optimum.a and data["bias"] == optimum.bias
    assert data["loss_meanfield_optimum"] == optimum.loss
    assert data["diag"] == pytest.approx(data["a"], rel=1e-15)
    assert data["offdiag_power"] == pytest.approx(optimum.a**2 * (64 / m - 1), rel=1e-12)
    assert data["loss_measured_se"] > 0 and data["samples"] == 20000
    assert data["gap_percent"] == pytest.approx(100 * (data["loss_measured"] / optimum.loss - 1), rel=1e-12)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    np.testing.assert_array_equal(load_rug(tmp_path / "model").W.diagonal(), data["a"])


@NEEDS_SAFETENSORS
def test_text_report_and_reload_give_the_same_measurement(tmp_path, capsys):
    assert main(["rug", "--n", "32", "--r", "0.5", "--p", "0.05", "--samples", "5000", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "gap to L*" in text and "S/a^2 = 1 vs (1-r)/r = 1" in text
    assert main(["rug", "--n", "32", "--r", "0.5", "--p", "0.05", "--samples", "5000", "--json"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert main(["rug", "--load", str(tmp_path), "--samples", "5000", "--json"]) == 0
    loaded = json.loads(capsys.readouterr().out)
    assert loaded.pop("load") == str(tmp_path) and loaded == built  # same model, same seed: same numbers


def test_bad_input_exits_2_with_one_line_in_a_subprocess():
    for args in (["--n", "100", "--r", "0.5"], ["--n", "64", "--r", "nan"]):
        out = run(*args)
        assert out.returncode == 2 and out.stdout == ""
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--n", "100", "--r", "0.5"], "n_features (n)"),
        (["--n", "1", "--r", "0.5"], "n_features (n)"),
        (["--n", "abc", "--r", "0.5"], "n_features (n)"),
        (["--n", "64", "--r", "0"], "ratio (r)"),
        (["--n", "64", "--r", "1.5"], "ratio (r)"),
        (["--n", "64", "--r", "nan"], "ratio (r)"),
        (["--n", "64", "--r", "0.001"], "ratio (r)"),
        (["--n", "64", "--r", "0.5", "--p", "0"], "feature_probability (p)"),
        (["--n", "64", "--r", "0.5", "--p", "1"], "feature_probability (p)"),
        (["--n", "64", "--r", "0.5", "--p", "nan"], "feature_probability (p)"),
        (["--n", "64", "--r", "0.5", "--samples", "5"], "samples"),
        (["--n", "64", "--r", "0.5", "--seed", "-1"], "seed"),
        (["--n", "64"], "--r required"),
        pytest.param(["--load", "/nonexistent/rug"], "missing", marks=NEEDS_SAFETENSORS),
        pytest.param(["--n", "64", "--r", "0.5", "--png", "/proc/rug.png"], "--png '/proc/rug.png' cannot be written", marks=NEEDS_MATPLOTLIB),
        (["--n", "64", "--r", "0.5", "--out", "/proc/rug"], "--out"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, fragment, capsys):
    with pytest.raises(SystemExit) as caught:  # argparse's own errors
        code = main(["rug", *args])
        raise SystemExit(code)
    assert caught.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert fragment in captured.err


@NEEDS_SAFETENSORS
def test_corrupt_saved_model_exits_2(tmp_path, capsys):
    assert main(["rug", "--n", "16", "--r", "0.5", "--samples", "1000", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    (tmp_path / WEIGHTS_FILE).write_bytes(b"garbage")
    assert main(["rug", "--load", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "SHA-256" in err
    assert main(["rug", "--load", str(tmp_path), "--n", "16"]) == 2
    assert "drop --n" in capsys.readouterr().err


def test_missing_matplotlib_is_a_one_line_error(monkeypatch, capsys, tmp_path):
    # A None entry in sys.modules makes the import fail; monkeypatch restores it afterwards.
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert main(["rug", "--n", "16", "--r", "0.5", "--png", str(tmp_path / "w.png")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "matplotlib" in err and "rugtheory[torch]" in err
    assert not (tmp_path / "w.png").exists()
