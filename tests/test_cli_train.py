"""`rugtheory train`, run as a user would (a subprocess), plus its bad-input paths (issue 4).

The contract keys are those of issue 4. Reference values are independent of the code under
test: the linear baseline (1 - r)(p/3 - p^2/4) and the zero-model loss p/3 (THEORY.md).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("torch", reason="rugtheory train needs the torch extra: pip install 'rugtheory[torch]'")

from rugtheory.cli.main import main

CONTRACT = {
    "n", "m", "p", "r", "seed", "device", "steps", "seconds", "loss_measured", "loss_measured_se",
    "loss_meanfield_own_stats", "loss_meanfield_optimum", "loss_linear", "stats",
}
FAST = ["--steps", "120", "--batch-size", "256", "--samples", "20000"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rugtheory", "train", *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_json_of_one_instance_has_the_contract_keys(tmp_path):
    out = run("--n", "16", "--p", "0.2", "--r", "0.5", "--seed", "3", "--device", "cpu", "--out", str(tmp_path),
              "--json", *FAST)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert CONTRACT <= payload.keys() and isinstance(payload["stats"], dict)
    assert (payload["n"], payload["m"], payload["r"], payload["seed"], payload["steps"]) == (16, 8, 0.5, 3, 120)
    assert payload["device"] == "cpu" and payload["seconds"] > 0
    assert payload["loss_linear"] == pytest.approx(0.5 * (0.2 / 3 - 0.04 / 4), rel=1e-14)
    assert payload["loss_measured"] < 0.2 / 3 - 10 * payload["loss_measured_se"]  # better than W = 0
    assert "train" in out.stderr  # the progress bar, on stderr
    # --out holds the same JSON and the checkpoint; --resume of the finished run reports the same.
    assert json.loads((tmp_path / "results.json").read_text()) == payload
    assert (tmp_path / "checkpoint" / "weights.safetensors").is_file()
    again = run("--n", "16", "--p", "0.2", "--r", "0.5", "--seed", "3", "--device", "cpu", "--out", str(tmp_path),
                "--resume", "--json", "--no-progress", *FAST)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == payload and again.stderr == ""


def test_several_instances_give_a_list_with_consecutive_seeds():
    out = run("--n", "16", "--p", "0.1", "--r", "0.25", "--instances", "2", "--seed", "5", "--device", "cpu",
              "--tied", "--json", "--no-progress", *FAST)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert isinstance(payload, list) and [item["seed"] for item in payload] == [5, 6]
    assert all(CONTRACT <= item.keys() and item["m"] == 4 and item["tied"] for item in payload)
    text = run("--n", "16", "--p", "0.1", "--r", "0.25", "--device", "cpu", "--no-progress", *FAST)
    assert text.returncode == 0 and "loss measured" in text.stdout and "linear baseline" in text.stdout


def test_bad_input_is_one_line_and_exit_code_2():
    out = run("--n", "16", "--p", "1.5", "--r", "0.5")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        "rugtheory train: error: feature_probability (p) = 1.5 is out of range; valid: p in (0, 1)"
    ]


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"--p": "nan"}, "feature_probability (p) = nan"),
        ({"--p": "0"}, "feature_probability (p) = 0.0"),
        ({"--r": "0"}, "ratio (r) = 0.0"),
        ({"--r": "1.5"}, "ratio (r) = 1.5"),
        ({"--n": "1"}, "n_features (n) = 1 is out of range"),
        ({"--n": "2.5"}, "n_features (n) must be an integer"),
        ({"--r": "0.01"}, "gives m = 0 hidden units"),
        ({"--instances": "0"}, "instances (K) = 0"),
        ({"--device": "tpu"}, "device = 'tpu' is unknown"),
        ({"--resume": None}, "--resume needs the run folder"),
        ({"--steps": "0"}, "steps = 0"),
        ({"--kernel": "fused"}, "kernel = 'fused' is unknown"),
    ],
)
def test_each_bad_input_names_the_parameter(changes, needle, capsys):
    options = {"--n": "16", "--p": "0.1", "--r": "0.5", "--device": "cpu", **changes}
    argv = ["train", *[token for key, value in options.items() for token in (key, value) if token is not None]]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse rejects the text before the command runs
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err


def test_missing_cuda_and_bad_checkpoint_are_one_line_errors(tmp_path, capsys):
    import torch

    if not torch.cuda.is_available():
        assert main(["train", "--n", "16", "--p", "0.1", "--r", "0.5", "--device", "cuda"]) == 2
        assert "device = 'cuda' is not available" in capsys.readouterr().err
    (tmp_path / "checkpoint").mkdir()
    (tmp_path / "checkpoint" / "config.json").write_text("{not json")
    (tmp_path / "checkpoint" / "weights.safetensors").write_bytes(b"\x00" * 16)
    code = main(["train", "--n", "16", "--p", "0.1", "--r", "0.5", "--device", "cpu", "--out", str(tmp_path),
                 "--resume", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "not valid JSON" in err and len(err.strip().splitlines()) == 1
