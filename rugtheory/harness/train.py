"""The batched trainer: K toy models, one tensor program, data drawn on the device.

Per step: draw x (K, B, n) with the run's generator, forward all instances, take each instance's
per-feature MSE, sum them for the backward (so instance k gets exactly its own gradient), and
make one Adam step at the scheduled learning rate. The loss is read back to the host only every
``log_every`` steps, for the progress bar and the convergence rule (TrainConfig).

What is seeded: instance k's initial weights by ``seed[k]`` (on the CPU, see ``init_weights``);
the data by ``data_seed`` through a ``torch.Generator`` on the training device. Nothing else is
random, so a run is bitwise reproducible on a given device with the same torch build and thread
count; CPU and CUDA runs agree only to rounding.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..checkpoint import WEIGHTS_FILE, CheckpointError
from ..errors import ParameterError
from ..outputs import OutputError, fallback_folder
from ..signals import Interrupted, stop_signals
from .config import TrainConfig
from .device import resolve_device
from .model import forward, init_weights, instance_loss, sample_features
from .state import (
    RunState,
    checkpoint_dir,
    curve_array,
    has_checkpoint,
    load_state,
    save_state,
    stable_dir,
)

__all__ = ["TrainResult", "train"]


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array, dtype=np.float64)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class TrainResult:
    """The trained instances, stacked on the first axis (instance k is ``W[k]``), in float64.

    ``W_in`` (K, m, n), ``W_out`` (K, n, m) (= W_in^T per instance when tied), ``b`` (K, n) and
    ``W = W_out @ W_in`` (K, n, n). ``steps`` is the number of steps run (fewer than
    ``config.steps`` when the convergence rule started the decay early: then ``converged``),
    ``seconds`` the wall time of the
    training loop (summed over resumed calls), ``final_loss`` the mean training loss of each
    instance over the last loss window (up to ``log_every`` steps). ``curve`` is the loss curve,
    one row per loss window (also ``loss_curve.csv`` in the run folder); ``time_to`` reads it.
    """

    config: TrainConfig
    W_in: np.ndarray
    W_out: np.ndarray
    b: np.ndarray
    W: np.ndarray
    steps: int
    seconds: float
    final_loss: np.ndarray
    device: str
    converged: bool
    curve: np.ndarray  # (rows, 2 + 2K): step, seconds, K window losses, K smoothed losses

    def time_to(self, loss: float) -> np.ndarray:
        """(K,) seconds of training at which each instance's smoothed loss first reached ``loss`` (NaN: never)."""
        k = self.config.instances
        smooth, seconds = self.curve[:, 2 + k:], self.curve[:, 1]
        reached = smooth <= loss
        first = np.argmax(reached, axis=0)
        return np.where(reached.any(axis=0), seconds[first], np.nan)

    def to_dict(self, include_weights: bool = False) -> dict[str, Any]:
        """Scalars and per-instance losses; the weights too (as nested lists) if asked."""
        record: dict[str, Any] = {
            "config": self.config.to_dict(), "steps": self.steps, "seconds": self.seconds,
            "final_loss": self.final_loss.tolist(), "device": self.device, "converged": self.converged,
        }
        if include_weights:
            record.update(W_in=self.W_in.tolist(), W_out=self.W_out.tolist(), b=self.b.tolist(), W=self.W.tolist())
        return record


@contextmanager
def _matmul_precision(device: torch.device, tf32: bool):
    """TF32 matmuls on CUDA iff ``tf32``, else full fp32; torch's global setting is restored after.

    Uses ``torch.backends.cuda.matmul.fp32_precision`` ("tf32" / "ieee"), the API of the pinned
    torch (mixing it with the legacy ``allow_tf32`` flag is an error there); the legacy flag only
    where the new one does not exist. No effect on the CPU.
    """
    if device.type != "cuda":
        yield
        return
    matmul = torch.backends.cuda.matmul
    name, value = ("fp32_precision", "tf32" if tf32 else "ieee") if hasattr(matmul, "fp32_precision") else (
        "allow_tf32", tf32)
    previous = getattr(matmul, name)
    setattr(matmul, name, value)
    try:
        yield
    finally:
        setattr(matmul, name, previous)


def _fresh_state(config: TrainConfig, weights, optimizer, generator, device, dtype) -> RunState:
    k = config.instances
    return RunState(
        weights=weights, optimizer=optimizer, generator=generator, step=0,
        window_sum=torch.zeros(k, device=device, dtype=dtype), window_count=0,
        smooth_loss=np.full(k, np.nan), best_loss=np.full(k, np.inf), best_step=np.zeros(k, dtype=np.int64), last_loss=np.full(k, np.nan),
        seconds=0.0, decay_start=config.steps - config.decay_steps,
    )


def _read_window(config: TrainConfig, state: RunState) -> None:
    """Close the loss window: record its mean on the curve, update the bests, apply the convergence rule (host sync)."""
    if state.window_count == 0:
        return
    loss = state.window_sum.double().cpu().numpy() / state.window_count
    state.window_sum.zero_()
    state.window_count = 0
    state.last_loss = loss
    first = np.isnan(state.smooth_loss)
    smooth = np.where(first, loss, (1.0 - config.smoothing) * state.smooth_loss + config.smoothing * loss)
    state.smooth_loss = smooth
    state.curve.append(np.concatenate([[state.step, state.seconds], loss, smooth]))
    improved = smooth < state.best_loss * (1.0 - config.rel_tol)
    state.best_loss = np.where(improved, smooth, state.best_loss)
    state.best_step = np.where(improved, state.step, state.best_step)
    stable = config.warmup_steps + config.patience <= state.step < state.decay_start
    if config.patience > 0 and stable and np.all(state.step - state.best_step >= config.patience):
        state.converged = True
        state.decay_start = state.step  # anneal now; the run ends decay_steps later


def _result(config: TrainConfig, state: RunState, device: torch.device) -> TrainResult:
    weights = {name: value.detach().to("cpu", torch.float64).numpy() for name, value in state.weights.items()}
    w_in = weights["W_in"]
    w_out = weights["W_out"] if "W_out" in weights else np.swapaxes(w_in, 1, 2)
    return TrainResult(
        config=config, W_in=_readonly(w_in), W_out=_readonly(w_out), b=_readonly(weights["b"]),
        W=_readonly(w_out @ w_in), steps=state.step, seconds=state.seconds, final_loss=_readonly(state.last_loss),
        device=str(device), converged=state.converged,
        curve=_readonly(curve_array(state, config.instances)),
    )


def _open_bar(config: TrainConfig, state: RunState, progress: bool):
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=config.steps, initial=state.step, file=sys.stderr, desc="train", unit="step",
                dynamic_ncols=True, leave=True)


def train(
    config: TrainConfig,
    device: str | torch.device = "auto",
    out: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    overwrite: bool = False,
) -> TrainResult:
    """Train the instances of ``config`` (THEORY.md, "Model and loss"); see the module docstring.

    ``out``: a folder for the checkpoint ``out/checkpoint``, written when the run starts, every
    ``config.checkpoint_seconds`` of training, every ``config.checkpoint_every`` steps (when set)
    and at the end, plus ``out/checkpoint_stable`` when the decay starts. Without ``out`` nothing
    is saved. ``resume=True`` continues the run saved in ``out`` (CheckpointError if it is
    missing, corrupt or for another config). Without ``resume`` an existing checkpoint in ``out``
    is an error, unless ``overwrite=True``, which starts afresh. ``progress`` shows a tqdm bar on
    stderr with the current mean loss.

    SIGINT and SIGTERM stop the run after the current step: the checkpoint is saved and
    ``rugtheory.signals.Interrupted`` (a KeyboardInterrupt) is raised. A checkpoint that cannot
    be written (a full disk) is written to a new folder in the system temp folder instead, and
    OutputError names it.

    Extending a run: resumed with a larger ``config.steps`` than it was saved with, the run goes
    on from its last state before the decay (``checkpoint_stable`` once the decay has begun) and
    decays over the last steps of the longer schedule. The result is bitwise that of a run of
    the longer length from the start when ``warmup_fraction`` is 0 (the default; a warm-up
    scales with the length). A run that converged early decays again from the step where it
    converged, as the longer run would have.
    """
    if not isinstance(config, TrainConfig):
        raise ParameterError(f"config = {type(config).__name__} is not a TrainConfig; valid: a TrainConfig")
    for name, flag in (("resume", resume), ("overwrite", overwrite)):
        if not isinstance(flag, bool):
            raise ParameterError(f"{name} = {flag!r} is not a flag; valid: True or False")
    torch_device = resolve_device(device)
    if config.tf32 and torch_device.type != "cuda":
        raise ParameterError(f"tf32 = True needs a CUDA device, not {str(torch_device)!r}; valid: tf32 off on the CPU")
    if resume and out is None:
        raise ParameterError("resume = True needs out, the folder of the run to continue; valid: a folder")
    if out is not None and not resume and not overwrite and has_checkpoint(out):
        raise ParameterError(
            f"out = {str(out)!r} already holds a checkpoint ({checkpoint_dir(out)}); "
            "valid: resume=True to continue it, overwrite=True to start again, or another out"
        )
    dtype = getattr(torch, config.dtype)
    weights = init_weights(config, torch_device, dtype)
    groups = [
        {"params": [value for name, value in weights.items() if name != "b"], "scale": 1.0},
        {"params": [weights["b"]], "scale": config.bias_lr / config.lr},
    ]
    optimizer = torch.optim.Adam(groups, lr=config.lr, betas=(config.adam_beta1, config.adam_beta2), eps=config.adam_eps)
    generator = torch.Generator(device=torch_device).manual_seed(config.data_seed)
    if resume:
        state = _resumed_state(config, out, torch_device, weights, optimizer, generator)
    else:
        state = _fresh_state(config, weights, optimizer, generator, torch_device, dtype)
        if out is not None:
            shutil.rmtree(stable_dir(out), ignore_errors=True)  # an overwritten run's, if any
            _save(out, config, state, torch_device)
    with _matmul_precision(torch_device, config.tf32):
        _loop(config, state, torch_device, Path(out) if out is not None else None, progress)
    return _result(config, state, torch_device)


def _resumed_state(config: TrainConfig, out, device: torch.device, weights, optimizer, generator) -> RunState:
    """The state to continue from: the last checkpoint, or the stable-phase one for a longer run."""
    state = load_state(out, config, device, weights, optimizer, generator)
    saved_steps = state.saved_steps
    if config.steps == saved_steps:
        return state
    if state.finished or state.step > state.decay_start:  # the decay had begun: branch off before it
        if not (stable_dir(out) / WEIGHTS_FILE).is_file():
            raise CheckpointError(
                f"cannot extend the run in {str(out)!r} to {config.steps} steps: its decay has begun and it has no "
                f"stable-phase checkpoint ({stable_dir(out)}); valid: steps = {saved_steps}"
            )
        state = load_state(out, config, device, weights, optimizer, generator, folder=stable_dir(out))
    if not state.converged:
        state.decay_start = config.steps - config.decay_steps
    state.finished = False
    return state


def _save(out: Path | str, config: TrainConfig, state: RunState, device: torch.device, folder: Path | None = None):
    """save_state, or, if ``out`` cannot be written, the whole run into a temp folder and OutputError."""
    try:
        save_state(out, config, state, device, folder)
    except OSError as error:
        why = error.strerror or type(error).__name__
        try:
            rescue = fallback_folder(str(out))
            save_state(rescue, config, state, device)
        except OSError:
            raise OutputError(f"checkpoint in {str(out)!r} could not be written ({why}), nor in the temp folder") from None
        raise OutputError(
            f"checkpoint in {str(out)!r} could not be written ({why}); training stopped at step {state.step} "
            f"and is saved in {rescue}, to resume from there"
        ) from None


def _loop(config: TrainConfig, state: RunState, device: torch.device, out: Path | None, progress: bool) -> None:
    probability = torch.tensor(config.feature_probability, device=device, dtype=state.window_sum.dtype)
    bar = _open_bar(config, state, progress)
    started = last_save = time.perf_counter()
    elapsed_before = state.seconds
    try:
        with stop_signals() as stop:
            while not state.finished:
                if out is not None and state.step == state.decay_start:
                    _save(out, config, state, device, stable_dir(out))
                if state.step >= state.end_step(config):
                    _read_window(config, state)
                    state.finished = True
                else:
                    _step(config, state, probability)
                    state.seconds = elapsed_before + time.perf_counter() - started
                    if state.step % config.log_every == 0:
                        _read_window(config, state)
                        if bar is not None:
                            bar.update(state.step - bar.n)
                            bar.set_postfix(loss=f"{float(np.mean(state.last_loss)):.4g}", refresh=False)
                now = time.perf_counter()
                state.seconds = elapsed_before + now - started
                due = state.finished or stop.signum is not None or (
                    config.checkpoint_every and state.step % config.checkpoint_every == 0) or (
                    config.checkpoint_seconds and now - last_save >= config.checkpoint_seconds)
                if out is not None and due:
                    _save(out, config, state, device)
                    last_save = now
                if stop.signum is not None and not state.finished:
                    raise _interrupted(stop.signum, state, config, out)
    finally:
        if bar is not None:
            bar.update(state.step - bar.n)
            bar.close()


def _interrupted(signum: int, state: RunState, config: TrainConfig, out: Path | None) -> Interrupted:
    import signal

    where = f"saved in {checkpoint_dir(out)}" if out is not None else "not saved (no out folder)"
    return Interrupted(
        f"training stopped by {signal.Signals(signum).name} at step {state.step} of {state.end_step(config)}; "
        f"the run is {where}",
        signum, step=state.step, checkpoint=None if out is None else str(checkpoint_dir(out)),
    )


def _step(config: TrainConfig, state: RunState, probability: torch.Tensor) -> None:
    """One Adam step on a fresh batch; the per-instance losses are added to the window on the device."""
    rate = config.learning_rate(state.step, state.decay_start)
    for group in state.optimizer.param_groups:
        group["lr"] = rate * group["scale"]
    if config.kernel == "sparse":
        from .sparse import sample_sparse, sparse_losses

        batch = sample_sparse(probability, config.batch_size, config.n_features, state.generator)
        loss = sparse_losses(state.weights, batch)
    else:
        x = sample_features(probability, config.batch_size, config.n_features, state.generator)
        loss = instance_loss(forward(state.weights, x), x)
    state.optimizer.zero_grad(set_to_none=True)
    loss.sum().backward()
    state.optimizer.step()
    state.window_sum += loss.detach()
    state.window_count += 1
    state.step += 1
