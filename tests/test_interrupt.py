"""Training killed at a random moment resumes bitwise equal and loses at most one checkpoint interval.

Each trial starts ``rugtheory train`` (or ``validate``) in a subprocess, sends SIGKILL or SIGTERM
after a random delay drawn over the whole life of the process (import, training and
measurement), then continues with ``--resume`` and compares the final weights with an
uninterrupted run of the same command, bit for bit. The runs are single-threaded
(OMP_NUM_THREADS=1), the condition under which a CPU run is bitwise reproducible here.

"Loses at most one interval": the newest checkpoint found after a SIGKILL was written no more than
``INTERVAL`` seconds of training before the kill, plus one step and one write (``SLACK``, far
above the ~1 ms they take). After SIGTERM the checkpoint is written on the signal, at the
step the one-line message names.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="training needs the torch extra: pip install 'rugtheory[torch]'")
pytest.importorskip("safetensors", reason="checkpoints need the torch extra: pip install 'rugtheory[torch]'")

from rugtheory.checkpoint import load_checkpoint

INTERVAL = 0.2  # seconds of training between checkpoints in these runs
SLACK = 0.5  # seconds: one step plus one checkpoint write, with a wide margin for a loaded machine
TRIALS = 20
ENV = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
TRAIN = ["--n", "32", "--p", "0.05", "--r", "0.25", "--instances", "2", "--steps", "4000", "--batch-size", "128",
         "--samples", "2000", "--exact-rows", "0", "--device", "cpu", "--no-progress", "--json",
         "--checkpoint-seconds", str(INTERVAL)]
MEASURE = ["--samples", "2000", "--exact-rows", "0", "--no-progress", "--json"]
VALIDATE = ["--n", "32", "--p-grid", "0.05", "--r-grid", "0.25", "0.5", "--steps", "1500", "--batch-size", "128",
            "--samples", "2000", "--exact-rows", "0", "--device", "cpu", "--no-progress"]


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "rugtheory", *args]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(_command(*args), env=ENV, capture_output=True, text=True, timeout=300, check=False)


def _weights(run: Path) -> dict[str, np.ndarray]:
    arrays, _ = load_checkpoint(run / "checkpoint")
    return {name: arrays[name] for name in ("W_in", "W_out", "b")}


def _kill(args: list[str], delay: float, signum: int, after: Path | None = None) -> tuple[subprocess.CompletedProcess, float]:
    """Run the command, send ``signum`` ``delay`` seconds after its start (or after the file ``after``
    appears, if given); the result and the wall time of the signal."""
    process = subprocess.Popen(_command(*args), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while after is not None and not after.exists() and process.poll() is None:
        time.sleep(0.005)
    try:
        out, err = process.communicate(timeout=delay)
        sent = float("nan")  # it finished first
    except subprocess.TimeoutExpired:
        sent = time.time()
        process.send_signal(signum)
        out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err), sent


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted run: its weights, the wall time from its first checkpoint to its end, its report,
    and its training seconds."""
    folder = tmp_path_factory.mktemp("reference") / "run"
    done, _ = _kill(["train", *TRAIN, "--out", str(folder)], 300.0, signal.SIGKILL, after=folder / "checkpoint")
    assert done.returncode == 0, done.stderr
    _, meta = load_checkpoint(folder / "checkpoint")
    after_first = time.time() - meta["written_at"] + meta["seconds"]  # from the first checkpoint to the end
    return _weights(folder), after_first, json.loads(done.stdout), meta["seconds"]


def _trial(tmp: Path, index: int, delay: float, signum: int, reference, from_start: bool = False) -> dict:
    """Kill a run ``delay`` s after its first checkpoint (or after its start), resume it, compare."""
    folder = tmp / f"trial{index}"
    after = None if from_start else folder / "checkpoint" / "weights.safetensors"
    killed, sent = _kill(["train", *TRAIN, "--out", str(folder)], delay, signum, after=after)
    record = {"delay": delay, "signal": signum, "rc": killed.returncode, "stderr": killed.stderr}
    if not (folder / "checkpoint" / "weights.safetensors").is_file():  # stopped before training began

        again = _run("train", "--resume", str(folder), *MEASURE)
        record.update(phase="before training", resume_rc=again.returncode, resume_err=again.stderr)
        return record
    _, meta = load_checkpoint(folder / "checkpoint")  # the newest whole checkpoint, whenever the kill came
    record.update(phase="after training" if meta["finished"] else "training", step=meta["step"],
                  lost=sent - meta["written_at"] if not meta["finished"] and not math.isnan(sent) else 0.0)
    again = _run("train", "--resume", str(folder), *MEASURE)
    record.update(resume_rc=again.returncode, resume_err=again.stderr)
    if again.returncode == 0:
        weights = _weights(folder)
        record["equal"] = all(np.array_equal(weights[name], reference[0][name]) for name in weights)
        record["same_report"] = json.loads(again.stdout)[0]["loss_measured"] == reference[2][0]["loss_measured"]
    return record


def test_sigkill_at_random_moments_resumes_bitwise_and_loses_at_most_one_interval(tmp_path, reference):
    rng = np.random.default_rng(20261204)
    # 14 kills in training, 3 in the measurement after it (both timed from the first checkpoint), 3 in the start-up.
    training, after_first = reference[3], reference[1]
    delays = [(delay, False) for delay in rng.uniform(0.0, training, size=TRIALS - 6)]
    delays += [(delay, False) for delay in rng.uniform(training, after_first, size=3)]
    delays += [(delay, True) for delay in rng.uniform(0.05, 1.0, size=3)]
    with ThreadPoolExecutor(2) as pool:
        trials = list(pool.map(
            lambda item: _trial(tmp_path, item[0], item[1][0], signal.SIGKILL, reference, from_start=item[1][1]),
            enumerate(delays)))
    in_training = [trial for trial in trials if trial["phase"] == "training"]
    assert len(in_training) >= TRIALS // 2, [trial["phase"] for trial in trials]
    for trial in trials:
        assert trial["rc"] in (-signal.SIGKILL, 0), trial
        if trial["phase"] == "before training":
            assert trial["resume_rc"] == 2 and "missing" in trial["resume_err"], trial
            assert len(trial["resume_err"].strip().splitlines()) == 1, trial
            continue
        assert trial["resume_rc"] == 0, trial
        assert trial["equal"] and trial["same_report"], trial
        assert trial["lost"] <= INTERVAL + SLACK, trial


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT (Ctrl-C)"])
def test_a_stop_signal_saves_on_the_signal_and_says_how_to_resume(tmp_path, reference, signum):
    rng = np.random.default_rng(signum)
    delays = rng.uniform(0.0, 0.8 * reference[3], size=3)  # after the first checkpoint: in training
    with ThreadPoolExecutor(2) as pool:
        trials = list(pool.map(lambda item: _trial(tmp_path, item[0], item[1], signum, reference), enumerate(delays)))
    caught = [trial for trial in trials if trial["rc"] == 128 + signum]
    assert len(caught) >= 2, [(trial["phase"], trial["rc"]) for trial in trials]
    name = signal.Signals(signum).name
    for trial in caught:
        assert "Traceback" not in trial["stderr"], trial
        lines = [line for line in trial["stderr"].strip().splitlines() if "falls back" not in line]
        assert len(lines) == 1, trial
        assert f"stopped by {name} at step {trial['step']} " in lines[0], trial
        assert "resume with: rugtheory train --resume" in lines[0], trial
        assert trial["lost"] <= SLACK, trial  # written on the signal
    for trial in trials:
        if trial["phase"] != "before training":
            assert trial["resume_rc"] == 0 and trial["equal"] and trial["same_report"], trial


def test_a_default_run_is_resumable_after_a_kill(tmp_path, reference):
    """No checkpoint option: the first checkpoint is written when training starts (then every 60 s)."""
    folder = tmp_path / "default"
    default = [token for token in TRAIN if token not in ("--checkpoint-seconds", str(INTERVAL))]
    killed, _ = _kill(["train", *default, "--out", str(folder)], 0.4, signal.SIGKILL,
                      after=folder / "checkpoint" / "weights.safetensors")
    assert killed.returncode == -signal.SIGKILL
    again = _run("train", "--resume", str(folder), *MEASURE)
    assert again.returncode == 0, again.stderr
    weights = _weights(folder)  # how often a run saves does not change what it computes
    assert all(np.array_equal(weights[name], reference[0][name]) for name in weights)


def _grid_weights(folder: Path) -> dict[str, np.ndarray]:
    return {f"{run.name}/{name}": value for run in sorted((folder / "runs").iterdir())
            for name, value in _weights(run).items()}


def _rows(folder: Path) -> list[dict]:
    rows = json.loads((folder / "results.json").read_text())["rows"]
    timing = ("seconds_train_group", "seconds_measure")
    return [{key: value for key, value in row.items() if key not in timing} for row in rows]


def test_validate_killed_between_and_inside_cells_resumes_to_the_same_grid(tmp_path):
    whole = tmp_path / "whole"
    started = time.perf_counter()
    done = _run("validate", *VALIDATE, "--out", str(whole))
    assert done.returncode == 0, done.stderr
    duration = time.perf_counter() - started
    expected_weights, expected_rows = _grid_weights(whole), _rows(whole)
    rng = np.random.default_rng(3)
    cases = [(signal.SIGKILL, delay) for delay in rng.uniform(1.5, duration, size=3)]
    cases += [(signal.SIGTERM, delay) for delay in rng.uniform(1.5, 0.8 * duration, size=2)]

    def trial(item):
        index, (signum, delay) = item
        folder = tmp_path / f"cut{index}"
        killed, _ = _kill(["validate", *VALIDATE, "--out", str(folder)], delay, signum)
        again = _run("validate", *VALIDATE, "--out", str(folder), "--resume")
        return signum, killed, again, folder

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(trial, enumerate(cases)))
    for signum, killed, again, folder in results:
        if killed.returncode == 128 + signal.SIGTERM:
            message = killed.stderr.strip().splitlines()[-1]
            assert "Traceback" not in killed.stderr and "--resume" in message, killed.stderr
        assert again.returncode == 0, again.stderr
        assert _rows(folder) == expected_rows
        weights = _grid_weights(folder)
        assert weights.keys() == expected_weights.keys()
        assert all(np.array_equal(weights[key], expected_weights[key]) for key in weights)
