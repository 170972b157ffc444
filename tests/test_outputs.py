"""Output paths: refused before any compute when unusable, never overwritten by surprise, never lost.

The read-only and full-disk cases use real tmpfs mounts (the tests run as root here); where
mounting is not permitted they skip and say so. File modes are checked in a subprocess that sets
its own umask.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rugtheory.cli.main import main
from rugtheory.outputs import OutputError, preflight, write_atomic, write_files

ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
SAFETENSORS = importlib.util.find_spec("safetensors") is not None
TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not TORCH, reason="training needs the torch extra: pip install 'rugtheory[torch]'")
TRAIN = ["train", "--n", "16", "--p", "0.1", "--r", "0.25", "--steps", "300", "--batch-size", "64", "--samples", "1000",
         "--exact-rows", "0", "--device", "cpu", "--no-progress", "--json"]
VALIDATE = ["validate", "--n", "16", "--p-grid", "0.1", "--r-grid", "0.25", "--steps", "200", "--batch-size", "64",
            "--samples", "1000", "--exact-rows", "0", "--device", "cpu", "--no-progress"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rugtheory", *args], env=ENV, capture_output=True, text=True,
                          timeout=300, check=False)


def _one_line_error(done: subprocess.CompletedProcess, needle: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = [line for line in done.stderr.strip().splitlines() if "falls back to the CPU" not in line]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in done.stderr, done.stderr


def _tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
            digest.update(str(path.stat().st_mtime_ns).encode())
    return digest.hexdigest()


@pytest.fixture
def mount(tmp_path):
    """mount(options) -> a fresh tmpfs folder mounted with those options, unmounted after the test."""
    mounted: list[Path] = []

    def make(options: str) -> Path:
        folder = tmp_path / f"mnt{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True,
                              check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip() or 'not permitted'})")
        mounted.append(folder)
        return folder

    yield make
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


# ---------------------------------------------------------------- preflight (API)


def test_preflight_refuses_each_unusable_path_in_one_line(tmp_path):
    regular = tmp_path / "file.txt"
    regular.write_text("x")
    cases = [
        (regular / "run", "lies under the regular file"),
        (regular, "is a file"),
    ]
    for path, needle in cases:
        with pytest.raises(OutputError, match=needle) as info:
            preflight(path)
        assert "\n" not in str(info.value)
    with pytest.raises(OutputError, match="is a folder"):
        preflight(tmp_path, kind="file", option="--png")
    done = tmp_path / "done"
    write_files(done, {"results.json": b"{}"})
    with pytest.raises(OutputError, match="already holds results"):
        preflight(done, existing=("results.json",))
    preflight(done, existing=("results.json",), resume=True)
    preflight(done, existing=("results.json",), force=True)
    with pytest.raises(OutputError, match="already holds results"):
        preflight(done / "results.json", kind="file", option="--png")
    fresh = tmp_path / "a" / "b" / "c"
    preflight(fresh)
    assert fresh.is_dir() and not list(fresh.iterdir())  # created, probe removed


def test_preflight_removes_the_folders_it_made_for_a_refused_path(mount):
    readonly = mount("ro,size=64k")
    with pytest.raises(OutputError, match="cannot be written") as info:
        preflight(readonly / "x" / "y")
    assert "Read-only file system" in str(info.value)
    assert not (readonly / "x").exists()


# ---------------------------------------------------------------- the CLI, before any training


@pytest.mark.parametrize("command", [TRAIN, VALIDATE], ids=["train", "validate"])
@needs_torch
def test_unwritable_out_is_exit_2_before_training(command, mount, tmp_path):
    readonly = mount("ro,size=64k")
    regular = tmp_path / "plain.txt"
    regular.write_text("x")
    for out, needle in ((readonly / "run", "Read-only file system"), (regular / "run", "lies under the regular file"),
                        (regular, "is a file")):
        done = _cli(*command, "--out", str(out))
        _one_line_error(done, needle)
        assert done.stdout == "" and "falls back to the CPU" not in done.stderr  # refused before the device is chosen


@needs_torch
def test_validate_does_not_touch_an_existing_result_without_resume_or_force(tmp_path):
    out = tmp_path / "grid"
    assert _cli(*VALIDATE, "--out", str(out)).returncode == 0
    before = _tree_hash(out)
    done = _cli(*VALIDATE, "--out", str(out))
    _one_line_error(done, "already holds results")
    assert "--resume" in done.stderr and "--force" in done.stderr
    assert _tree_hash(out) == before
    forced = _cli(*VALIDATE, "--out", str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    assert json.loads((out / "results.json").read_text())["rows"][0]["steps"] == 200


@needs_torch
def test_train_refuses_an_earlier_run_and_force_starts_again(tmp_path):
    out = tmp_path / "run"
    first = _cli(*TRAIN, "--out", str(out))
    assert first.returncode == 0, first.stderr
    _one_line_error(_cli(*TRAIN, "--out", str(out)), "already holds results")
    _one_line_error(_cli(*TRAIN, "--out", str(out), "--resume", "--force"), "exclude each other")
    again = _cli(*TRAIN, "--out", str(out), "--force")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["loss_measured"] == json.loads(first.stdout)["loss_measured"]


# ---------------------------------------------------------------- a full disk: nothing lost


def test_a_full_disk_mid_run_saves_the_run_in_the_temp_folder_and_it_resumes(mount, tmp_path):
    pytest.importorskip("torch", reason="training needs the torch extra")
    full = mount("size=16k")  # the probe fits, a checkpoint (about 20 kB) does not
    done = _cli(*TRAIN, "--out", str(full / "run"))
    _one_line_error(done, "No space left on device")
    rescue = Path(done.stderr.split("is saved in ")[1].split(",")[0].strip())
    assert (rescue / "checkpoint" / "weights.safetensors").is_file()
    resumed = _cli("train", "--resume", str(rescue), "--samples", "1000", "--exact-rows", "0", "--no-progress", "--json")
    assert resumed.returncode == 0, resumed.stderr
    reference = _cli(*TRAIN, "--out", str(tmp_path / "reference"))
    assert json.loads(resumed.stdout)["loss_measured"] == json.loads(reference.stdout)["loss_measured"]


def test_results_that_cannot_be_written_go_to_a_named_temp_folder(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch", reason="training needs the torch extra")
    from rugtheory import outputs

    real = outputs.write_atomic
    out = tmp_path / "run"

    def full_disk(path, data):
        if Path(path).parent == out and Path(path).name == "results.json":
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(outputs, "write_atomic", full_disk)
    assert main(TRAIN + ["--out", str(out)]) == 2
    captured = capsys.readouterr()
    message = [line for line in captured.err.splitlines() if "error:" in line]
    assert len(message) == 1 and "the results are in" in message[0], captured.err
    rescue = Path(message[0].split("the results are in ")[1].strip())
    assert json.loads((rescue / "results.json").read_text()) == json.loads(captured.out)  # the printed report, kept


# ---------------------------------------------------------------- file modes


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path, mask, mode):
    code = (
        "import os, sys; os.umask(int(sys.argv[2], 8))\n"
        "from rugtheory.checkpoint import save_checkpoint, write_atomic\n"
        "from rugtheory.outputs import write_files\n"
        "import numpy as np\n"
        "write_atomic(os.path.join(sys.argv[1], 'a.txt'), b'a')\n"
        "write_files(os.path.join(sys.argv[1], 'files'), {'b.txt': b'b'})\n"
        "if HAVE_SAFETENSORS: save_checkpoint(os.path.join(sys.argv[1], 'run'), {'W': np.eye(2)}, {'n': 2})\n"
    )
    code = f"HAVE_SAFETENSORS = {SAFETENSORS}\n" + code
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path), oct(mask)[2:]], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    paths = [tmp_path / "a.txt", tmp_path / "files" / "b.txt"]
    if SAFETENSORS:  # checkpoints need the torch extra; the atomic writer does not
        paths += [tmp_path / "run" / "weights.safetensors", tmp_path / "run" / "config.json"]
    for path in paths:
        assert path.stat().st_mode & 0o777 == mode, (path, oct(path.stat().st_mode))


def test_write_atomic_in_this_process_matches_open(tmp_path):
    write_atomic(tmp_path / "atomic.bin", b"x")
    with open(tmp_path / "plain.bin", "wb") as stream:
        stream.write(b"x")
    assert (tmp_path / "atomic.bin").stat().st_mode == (tmp_path / "plain.bin").stat().st_mode
    assert np.frombuffer((tmp_path / "atomic.bin").read_bytes(), dtype=np.uint8).tolist() == [120]


@pytest.mark.parametrize("command, option", [
    (["rug", "--n", "16", "--r", "0.5", "--samples", "1000"], "--png"),
    (["rug", "--n", "16", "--r", "0.5", "--samples", "1000"], "--out"),
    (["phases", "--p-grid", "0.1", "--r-grid", "0.5"], "--png"),
], ids=["rug --png", "rug --out", "phases --png"])
def test_other_writers_refuse_to_overwrite_without_force(tmp_path, command, option):
    pytest.importorskip("matplotlib", reason="pictures need the torch extra")
    pytest.importorskip("safetensors", reason="saved models need the torch extra")
    target = str(tmp_path / ("picture.png" if option == "--png" else "model"))
    assert _cli(*command, option, target).returncode == 0
    before = _tree_hash(tmp_path)
    done = _cli(*command, option, target)
    _one_line_error(done, "already holds results")
    assert done.stdout == "" and _tree_hash(tmp_path) == before
    assert _cli(*command, option, target, "--force").returncode == 0


@needs_torch
def test_an_immutable_folder_is_exit_2_before_training(tmp_path):
    folder = tmp_path / "immutable"
    folder.mkdir()
    made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot make a folder immutable here ({made.stderr.strip() or 'chattr failed'})")
    try:
        for command in (TRAIN, VALIDATE):
            done = _cli(*command, "--out", str(folder / "run"))
            _one_line_error(done, "Operation not permitted")
            assert done.stdout == ""
    finally:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True, check=False)
