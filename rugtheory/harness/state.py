"""Saving and restoring a training run (rugtheory.checkpoint: safetensors + JSON, never pickle).

A checkpoint holds everything the next step depends on: the parameters, Adam's moments and step
count, the data generator's state (``torch.Generator.get_state()`` as uint8), the running loss
window and the convergence bookkeeping, together with the TrainConfig. Restoring it and
continuing gives bitwise the same weights as a run that was never interrupted (same device).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ..outputs import write_atomic
from .config import SAVING_FIELDS, TrainConfig

__all__ = [
    "CURVE_FILE",
    "FORMAT",
    "RunState",
    "checkpoint_dir",
    "curve_array",
    "curve_csv",
    "has_checkpoint",
    "load_config",
    "load_state",
    "save_state",
    "stable_dir",
]

FORMAT = "rugtheory.harness.train/1"
CURVE_FILE = "loss_curve.csv"  # in the run folder, rewritten with each checkpoint


@dataclass
class RunState:
    """The mutable state of a run between two steps (not a result: see TrainResult)."""

    weights: dict[str, torch.Tensor]
    optimizer: torch.optim.Adam
    generator: torch.Generator
    step: int
    window_sum: torch.Tensor  # (K,) sum of the training losses since the last read, on the device
    window_count: int
    smooth_loss: np.ndarray  # (K,) float64, the smoothed window loss (NaN before the first read)
    best_loss: np.ndarray  # (K,) float64, best smoothed loss so far (inf before the first read)
    best_step: np.ndarray  # (K,) int64, step of that best
    last_loss: np.ndarray  # (K,) float64, the latest window loss (NaN before the first read)
    seconds: float
    decay_start: int  # the step where the final decay starts (moved earlier by the convergence rule)
    finished: bool = False
    converged: bool = False
    curve: list[np.ndarray] = field(default_factory=list)  # rows [step, seconds, loss_k..., smooth_k...]
    saved_steps: int | None = None  # the length of the run a restored state was saved from

    def end_step(self, config: TrainConfig) -> int:
        """The step at which the run ends: the decay's start plus its length."""
        return min(config.steps, self.decay_start + config.decay_steps)


def checkpoint_dir(out: str | os.PathLike) -> Path:
    """Where a run writes its checkpoint: ``out/checkpoint``."""
    return Path(out) / "checkpoint"


def stable_dir(out: str | os.PathLike) -> Path:
    """The stable-phase checkpoint, saved when the decay starts: ``out/checkpoint_stable``."""
    return Path(out) / "checkpoint_stable"


def has_checkpoint(out: str | os.PathLike) -> bool:
    folder = checkpoint_dir(out)
    return (folder / "config.json").exists() or (folder / "weights.safetensors").exists()


def load_config(out: str | os.PathLike) -> TrainConfig:
    """The TrainConfig of the run saved in ``out`` (CheckpointError if there is none or it is corrupt)."""
    folder = checkpoint_dir(out)
    _, meta = load_checkpoint(folder)
    if meta.get("format") != FORMAT or not isinstance(meta.get("train_config"), dict):
        raise CheckpointError(f"checkpoint {str(folder)!r} is not a training run ({FORMAT}); valid: a train() output")
    try:
        return TrainConfig.from_dict(meta["train_config"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"checkpoint {str(folder)!r} has an invalid config ({error})") from None


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to("cpu").contiguous().numpy().copy()


def save_state(
    out: str | os.PathLike, config: TrainConfig, state: RunState, device: torch.device, folder: Path | None = None,
) -> None:
    """Write the run's checkpoint atomically under ``folder`` (default ``checkpoint_dir(out)``)."""
    arrays: dict[str, np.ndarray] = {name: _numpy(value) for name, value in state.weights.items()}
    for name, value in state.weights.items():
        moments = state.optimizer.state.get(value, {})
        if moments:
            arrays[f"adam.exp_avg.{name}"] = _numpy(moments["exp_avg"])
            arrays[f"adam.exp_avg_sq.{name}"] = _numpy(moments["exp_avg_sq"])
            arrays[f"adam.step.{name}"] = _numpy(moments["step"]).reshape(1)
    arrays["generator_state"] = _numpy(state.generator.get_state())
    arrays["window_sum"] = _numpy(state.window_sum)
    arrays["smooth_loss"] = state.smooth_loss.astype(np.float64)
    arrays["best_loss"] = state.best_loss.astype(np.float64)
    arrays["best_step"] = state.best_step.astype(np.int64)
    arrays["last_loss"] = state.last_loss.astype(np.float64)
    arrays["curve"] = curve_array(state, config.instances)
    meta = {
        "format": FORMAT,
        "train_config": config.to_dict(),
        "step": state.step,
        "window_count": state.window_count,
        "seconds": state.seconds,
        "decay_start": state.decay_start,
        "finished": state.finished,
        "converged": state.converged,
        "device_type": device.type,
        "torch_version": torch.__version__,
        "written_at": time.time(),
    }
    save_checkpoint(checkpoint_dir(out) if folder is None else folder, arrays, meta)
    if folder is None or folder == checkpoint_dir(out):
        write_atomic(Path(out) / CURVE_FILE, curve_csv(arrays["curve"], config.instances).encode())


def curve_array(state: RunState, instances: int) -> np.ndarray:
    """The loss curve as a (rows, 2 + 2K) float64 array: step, seconds, K losses, K smoothed losses."""
    if not state.curve:
        return np.zeros((0, 2 + 2 * instances))
    return np.stack(state.curve).astype(np.float64)


def curve_csv(curve: np.ndarray, instances: int) -> str:
    """The loss curve as CSV text, one row per loss window (``CURVE_FILE``)."""
    head = ["step", "seconds"] + [f"loss_{k}" for k in range(instances)] + [f"smooth_{k}" for k in range(instances)]
    lines = [",".join(head)]
    lines += [",".join([str(int(row[0])), f"{row[1]:.6f}", *(f"{value:.9g}" for value in row[2:])]) for row in curve]
    return "\n".join(lines) + "\n"


def _mismatch(meta: dict[str, Any], config: TrainConfig, folder: Path) -> str | None:
    saved = meta.get("train_config")
    if not isinstance(saved, dict):
        return "it has no train_config"
    current = config.to_dict()
    for key in current:
        if key not in SAVING_FIELDS + ("steps",) and saved.get(key) != current[key]:
            return f"it was written for {key} = {saved.get(key)!r}, not {current[key]!r}"
    return None


def load_state(
    out: str | os.PathLike,
    config: TrainConfig,
    device: torch.device,
    weights: dict[str, torch.Tensor],
    optimizer: torch.optim.Adam,
    generator: torch.Generator,
    folder: Path | None = None,
) -> RunState:
    """Restore the checkpoint in ``folder`` (default ``checkpoint_dir(out)``) into fresh
    ``weights``, ``optimizer`` and ``generator``.

    CheckpointError (one line) if it is missing or corrupt, or was written for another config
    (other than the SAVING_FIELDS and a larger ``steps``) or another device type.
    """
    folder = checkpoint_dir(out) if folder is None else folder
    arrays, meta = load_checkpoint(folder)
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {str(folder)!r} is not a training run ({FORMAT}); valid: a train() output")
    why = _mismatch(meta, config, folder)
    if why is not None:
        raise CheckpointError(f"cannot resume from {str(folder)!r}: {why}; valid: the same TrainConfig")
    if meta.get("device_type") != device.type:
        raise CheckpointError(
            f"cannot resume from {str(folder)!r}: it was written on {meta.get('device_type')!r}, "
            f"not {device.type!r}; valid: the same device type"
        )
    try:
        with torch.no_grad():
            for name, value in weights.items():
                value.copy_(_tensor(arrays, name, value))
                if f"adam.step.{name}" in arrays:
                    optimizer.state[value] = {
                        "step": torch.tensor(float(arrays[f"adam.step.{name}"][0]), dtype=torch.float32),
                        "exp_avg": _tensor(arrays, f"adam.exp_avg.{name}", value).clone(),
                        "exp_avg_sq": _tensor(arrays, f"adam.exp_avg_sq.{name}", value).clone(),
                    }
        generator.set_state(torch.from_numpy(arrays["generator_state"]))
        window_sum = torch.from_numpy(arrays["window_sum"]).to(device)
        state = RunState(
            weights=weights, optimizer=optimizer, generator=generator, step=int(meta["step"]),
            window_sum=window_sum, window_count=int(meta["window_count"]),
            smooth_loss=arrays["smooth_loss"].copy(), best_loss=arrays["best_loss"].copy(), best_step=arrays["best_step"].copy(),
            last_loss=arrays["last_loss"].copy(), seconds=float(meta["seconds"]), decay_start=int(meta["decay_start"]),
            finished=bool(meta["finished"]), converged=bool(meta["converged"]),
            curve=[row.copy() for row in arrays.get("curve", np.zeros((0, 0)))],
            saved_steps=meta["train_config"].get("steps"),
        )
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        why = (str(error).splitlines() or [type(error).__name__])[0][:100]
        raise CheckpointError(f"checkpoint {str(folder)!r} is incomplete or inconsistent ({why})") from None
    saved = state.saved_steps
    if not isinstance(saved, int) or saved > config.steps or not 0 <= state.step <= saved:
        raise CheckpointError(
            f"cannot resume from {str(folder)!r}: it holds step {state.step} of {saved!r}; "
            f"valid: steps >= {saved!r} (the run's own length or more)"
        )
    return state


def _tensor(arrays: dict[str, np.ndarray], name: str, like: torch.Tensor) -> torch.Tensor:
    value = arrays[name]
    if tuple(value.shape) != tuple(like.shape) or str(value.dtype) != str(like.dtype).removeprefix("torch."):
        raise ValueError(f"{name} has shape {value.shape} and dtype {value.dtype}")
    return torch.from_numpy(value).to(like.device)
