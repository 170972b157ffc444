"""Checkpoints: named arrays in a safetensors file plus a JSON config, written atomically.

A checkpoint is a directory holding ``weights.safetensors`` and ``config.json``. Both are
written atomically (``rugtheory.outputs.write_atomic``: a temporary file in the same directory,
fsynced and moved into place with ``os.replace``), so a reader sees either the old checkpoint or
the new one, never half of one. The weights file also holds the config and
the SHA-256 of its tensor data in its header, so it alone is the checkpoint and is replaced in
one atomic step; ``config.json`` is a readable copy written after it. numpy only
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


_META_CONFIG = "rugtheory.config"  # keys of the safetensors header's metadata
_META_SHA = "rugtheory.data_sha256"


def save_checkpoint(directory: str | os.PathLike, arrays: dict[str, np.ndarray], config: dict[str, Any]) -> None:
    """Save ``arrays`` (name -> ndarray) and the JSON-serialisable ``config`` under ``directory``.

    The weights file carries the config and the SHA-256 of its tensor data in its own header,
    so it alone is the checkpoint, replaced in one atomic step: a kill between the two writes
    leaves a stale ``config.json`` (a readable copy) beside a whole, newer weights file.
    """
    from safetensors.numpy import save

    tensors = {name: np.ascontiguousarray(value) for name, value in arrays.items()}
    text = json.dumps(config, allow_nan=False)
    data_sha = hashlib.sha256(_data(save(tensors))).hexdigest()  # the data section does not depend on metadata
    payload = save(tensors, metadata={_META_CONFIG: text, _META_SHA: data_sha})
    directory = Path(directory)
    write_atomic(directory / WEIGHTS_FILE, payload)
    record = dict(config, weights_sha256=hashlib.sha256(payload).hexdigest())
    write_atomic(directory / CONFIG_FILE, json.dumps(record, indent=2, allow_nan=False).encode())


def _header(payload: bytes) -> dict[str, Any]:
    """The JSON header of a safetensors payload (8-byte little-endian length, then the header)."""
    if len(payload) < 8:
        raise ValueError("shorter than a safetensors header")
    size = int.from_bytes(payload[:8], "little")
    if size > len(payload) - 8:
        raise ValueError("header length beyond the file")
    header = json.loads(payload[8:8 + size])
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")  # noqa: TRY004 (caught as corruption)
    return header


def _data(payload: bytes) -> bytes:
    return payload[8 + int.from_bytes(payload[:8], "little"):]


def load_checkpoint(directory: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and config saved by ``save_checkpoint``; CheckpointError if missing or corrupt.

    The config comes from the weights file's header and its tensor data must match the SHA-256
    recorded there. A weights file without them (written before the header held the config) is
    checked against ``config.json`` instead.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load

    directory = Path(directory)
    weights, config_path = directory / WEIGHTS_FILE, directory / CONFIG_FILE
    valid = "valid: a folder written by rugtheory train or rug --out"
    if not weights.is_file():
        raise CheckpointError(f"checkpoint file {str(weights)!r} is missing; {valid}")
    payload = weights.read_bytes()
    try:
        metadata = _header(payload).get("__metadata__") or {}
    except (ValueError, UnicodeDecodeError) as error:
        _legacy_config(config_path, payload, weights, valid)  # names a SHA-256 mismatch where there is one
        raise CheckpointError(f"checkpoint weights {str(weights)!r} are corrupt ({error})") from None
    if _META_CONFIG in metadata:
        if hashlib.sha256(_data(payload)).hexdigest() != metadata.get(_META_SHA):
            raise CheckpointError(f"checkpoint weights {str(weights)!r} are corrupt (SHA-256 of the data differs)")
        try:
            config = json.loads(metadata[_META_CONFIG])
        except ValueError as error:
            raise CheckpointError(f"checkpoint weights {str(weights)!r} hold an invalid config ({error})") from None
    else:
        config = _legacy_config(config_path, payload, weights, valid)
    if not isinstance(config, dict):
        raise CheckpointError(f"checkpoint config in {str(directory)!r} is not a JSON object")
    try:
        arrays = load(payload)
    except (SafetensorError, ValueError, OverflowError) as error:
        raise CheckpointError(f"checkpoint weights {str(weights)!r} are corrupt ({type(error).__name__})") from None
    return arrays, config


def _legacy_config(config_path: Path, payload: bytes, weights: Path, valid: str) -> Any:
    """The config of a checkpoint whose weights file has no config in its header: config.json."""
    if not config_path.is_file():
        raise CheckpointError(f"checkpoint file {str(config_path)!r} is missing; {valid}")
    try:
        config = json.loads(config_path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise CheckpointError(f"checkpoint config {str(config_path)!r} is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"checkpoint config {str(config_path)!r} is not a JSON object")
    expected = config.pop("weights_sha256", None)
    if expected is not None and hashlib.sha256(payload).hexdigest() != expected:
        raise CheckpointError(f"checkpoint weights {str(weights)!r} do not match their config (SHA-256 differs)")
    return config
