"""Every subcommand on a core-only install: it works, or says in one line which extra it needs.

The extras (torch, safetensors, matplotlib, tqdm) are hidden from a subprocess by stub packages
first on PYTHONPATH whose import raises ModuleNotFoundError, as on ``pip install rugtheory``.
The weight files are written here with the real safetensors (those cases skip without it).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rugtheory
from rugtheory.cli.main import main

EXTRAS = ("torch", "safetensors", "matplotlib", "tqdm")
INSTALL = "rugtheory[torch]"
SAFETENSORS = "the weight files are written with safetensors, in the torch extra: pip install 'rugtheory[torch]'"


@pytest.fixture(scope="module")
def stubs(tmp_path_factory) -> Path:
    """A folder of packages named like the extras whose import fails as if they were not installed."""
    folder = tmp_path_factory.mktemp("stubs")
    for name in EXTRAS:
        (folder / name).mkdir()
        (folder / name / "__init__.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{name}'\", name={name!r})\n")
    return folder


def core_only(stubs: Path, cwd: Path, *args: str, code: str | None = None) -> subprocess.CompletedProcess:
    """``rugtheory ARGS`` (or ``python -c CODE``) with the extras hidden and this process's rugtheory."""
    path = [str(stubs), str(Path(rugtheory.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(part for part in path if part)}
    command = [sys.executable, "-c", code] if code is not None else [sys.executable, "-m", "rugtheory", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd, env=env, check=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A .npz (core only), and made with the real safetensors: a .safetensors, a train run, a rug."""
    folder = tmp_path_factory.mktemp("weights")
    rng = np.random.default_rng(0)
    W, b = np.eye(8) + rng.normal(0.0, 0.1, (8, 8)), np.full(8, -0.05)
    np.savez(folder / "w.npz", W=W, b=b)
    out = {"npz": folder / "w.npz"}
    try:
        from safetensors.numpy import save_file

        from rugtheory.checkpoint import save_checkpoint
        from rugtheory.weights import rug_model
    except ImportError:
        return out
    save_file({"W": W, "b": b}, str(folder / "w.safetensors"))
    w_in = rng.normal(0.0, 0.3, (2, 4, 8))  # the layout of a train --out DIR: DIR/checkpoint, two instances
    save_checkpoint(folder / "train" / "checkpoint", {"W_in": w_in, "W_out": np.swapaxes(w_in, 1, 2),
                                                      "b": np.zeros((2, 8))}, {"n_features": 8})
    rug_model(8, 0.5, 0.1).save(folder / "rug")
    out.update(safetensors=folder / "w.safetensors", train=folder / "train",
               checkpoint=folder / "train" / "checkpoint", rug=folder / "rug")
    return out


def test_the_stubs_hide_the_extras(stubs, tmp_path):
    for name in EXTRAS:
        result = core_only(stubs, tmp_path, code=f"import {name}")
        assert result.returncode == 1 and f"No module named '{name}'" in result.stderr


WORKS = [
    ["--help"],
    ["solve", "--p", "0.01", "--r", "0.5"],
    ["loss", "--p", "0.01", "--a", "1", "--sigma", "0.1", "--bias", "-0.1"],
    ["derive"],
    ["report"],
    ["scaling", "--p", "1e-4"],
    ["compare", "--p", "0.01", "--r", "0.5"],
    ["bounds", "--p", "0.001", "--r", "0.5"],
    ["rug", "--n", "8", "--r", "0.5", "--samples", "1000"],
    ["exact", "--weights", "{npz}", "--p", "0.1"],
    ["finite", "--p", "0.1", "--r", "0.5", "--n", "16"],
    ["phases", "--p-grid", "0.1", "--r-grid", "0.5"],
]

# (arguments, the optional package the one-line error names, a path that must not be created)
NEEDS = [
    (["rug", "--n", "8", "--r", "0.5", "--png", "w.png"], "matplotlib", "w.png"),
    (["rug", "--n", "8", "--r", "0.5", "--out", "saved"], "safetensors", "saved"),
    (["rug", "--load", "{rug}"], "safetensors", None),
    (["phases", "--p-grid", "0.1", "--r-grid", "0.5", "--png", "d.png"], "matplotlib", "d.png"),
    (["train", "--n", "8", "--p", "0.1", "--r", "0.5", "--steps", "5", "--out", "run"], "torch", "run"),
    (["validate", "--n", "8", "--p-grid", "0.1", "--r-grid", "0.5", "--out", "grid"], "torch", "grid"),
    (["exact", "--weights", "{safetensors}", "--p", "0.1"], "safetensors", None),
    (["exact", "--weights", "{train}", "--p", "0.1"], "safetensors", None),
    (["exact", "--weights", "{checkpoint}", "--p", "0.1"], "safetensors", None),
    (["exact", "--weights", "{rug}", "--p", "0.1"], "safetensors", None),
    (["exact", "--weights", "{npz}", "--p", "0.1", "--device", "cpu"], "torch", None),
]


def _arguments(args: list[str], files: dict[str, Path]) -> list[str]:
    names = [arg[1:-1] for arg in args if arg.startswith("{")]
    if any(name not in files for name in names):
        pytest.skip(SAFETENSORS)
    return [str(files[arg[1:-1]]) if arg.startswith("{") else arg for arg in args]


@pytest.mark.parametrize("args", WORKS, ids=" ".join)
def test_works_without_the_extras(args, stubs, files, tmp_path):
    result = core_only(stubs, tmp_path, *_arguments(args, files))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and "Traceback" not in result.stderr


@pytest.mark.parametrize(("args", "package", "created"), NEEDS,
                         ids=lambda value: " ".join(value) if isinstance(value, list) else str(value))
def test_needs_an_extra_in_one_line(args, package, created, stubs, files, tmp_path):
    result = core_only(stubs, tmp_path, *_arguments(args, files))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and result.stdout == "", result.stderr
    assert lines[0].startswith(f"rugtheory {args[0]}: error: ") and INSTALL in lines[0] and package in lines[0]
    assert "Traceback" not in result.stderr
    if created is not None:
        assert not (tmp_path / created).exists()


def _no_compute(*args, **kwargs):
    raise AssertionError("computed before the missing extra was reported")


@pytest.mark.parametrize(("argv", "module", "target"), [
    (["phases", "--p-grid", "0.1", "--r-grid", "0.5", "--png", "d.png"], "matplotlib.figure",
     ("rugtheory.phases.diagram", "phase_diagram")),
    (["rug", "--n", "8", "--r", "0.5", "--png", "w.png"], "matplotlib.figure", ("rugtheory.weights.rug_model", "rug_model")),
    (["rug", "--n", "8", "--r", "0.5", "--out", "saved"], "safetensors.numpy", ("rugtheory.weights.rug_model", "rug_model")),
], ids=["phases --png", "rug --png", "rug --out"])
def test_a_missing_extra_is_reported_before_any_computation(argv, module, target, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, module, None)  # the import fails; monkeypatch restores sys.modules
    monkeypatch.setattr(importlib.import_module(target[0]), target[1], _no_compute)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and INSTALL in err and module.split(".")[0] in err
