"""Checkpoints: named arrays in a safetensors file plus a JSON config, written atomically.

A checkpoint is a directory holding ``weights.safetensors`` and ``config.json``. Both are
written atomically (``rugtheory.outputs.write_atomic``: a temporary file in the same directory,
fsynced and moved into place with ``os.replace``), so a reader sees either the old checkpoint or
the new one, never half of one. The config is written last and names the weights file's
SHA-256, so a checkpoint whose two files do not belong together is detected. numpy only
(``safetensors.numpy``): no torch, and no pickle anywhere.

>>> import tempfile, numpy as np
>>> folder = tempfile.mkdtemp()
>>> save_checkpoint(folder, {"W": np.eye(2)}, {"n": 2})
>>> arrays, config = load_checkpoint(folder)
>>> arrays["W"].tolist(), config["n"]
([[1.0, 0.0], [0.0, 1.0]], 2)
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ParameterError
from .outputs import write_atomic

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "CheckpointError", "load_checkpoint", "save_checkpoint", "write_atomic"]

WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"


class CheckpointError(ParameterError):
    """A checkpoint (or weights file) is missing, corrupt or inconsistent."""


def save_checkpoint(directory: str | os.PathLike, arrays: dict[str, np.ndarray], config: dict[str, Any]) -> None:
    """Save ``arrays`` (name -> ndarray) and the JSON-serialisable ``config`` under ``directory``."""
    from safetensors.numpy import save

    payload = save({name: np.ascontiguousarray(value) for name, value in arrays.items()})
    directory = Path(directory)
    write_atomic(directory / WEIGHTS_FILE, payload)
    record = dict(config, weights_sha256=hashlib.sha256(payload).hexdigest())
    write_atomic(directory / CONFIG_FILE, json.dumps(record, indent=2, allow_nan=False).encode())


def load_checkpoint(directory: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and config saved by ``save_checkpoint``; CheckpointError if missing or corrupt."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    directory = Path(directory)
    weights, config_path = directory / WEIGHTS_FILE, directory / CONFIG_FILE
    for path in (weights, config_path):
        if not path.is_file():
            raise CheckpointError(
                f"checkpoint file {str(path)!r} is missing; valid: a folder written by rugtheory train or rug --out"
            )
    try:
        config = json.loads(config_path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise CheckpointError(f"checkpoint config {str(config_path)!r} is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"checkpoint config {str(config_path)!r} is not a JSON object")
    payload = weights.read_bytes()
    expected = config.pop("weights_sha256", None)
    if expected is not None and hashlib.sha256(payload).hexdigest() != expected:
        raise CheckpointError(f"checkpoint weights {str(weights)!r} do not match their config (SHA-256 differs)")
    try:
        arrays = load(payload)
    except (SafetensorError, ValueError, OverflowError) as error:
        raise CheckpointError(f"checkpoint weights {str(weights)!r} are corrupt ({type(error).__name__})") from None
    return arrays, config
