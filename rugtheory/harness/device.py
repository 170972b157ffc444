"""Device selection: "auto", "cpu", "cuda" or "cuda:N", with one-line errors."""

from __future__ import annotations

import re
import sys
from typing import Any

import torch

from ..errors import ParameterError

__all__ = ["DEVICE_NAMES", "resolve_device"]

DEVICE_NAMES = "auto, cpu, cuda, cuda:N"


def _invalid(name: Any, why: str) -> ParameterError:
    return ParameterError(f"device = {name!r} {why}; valid: {DEVICE_NAMES}")


def resolve_device(name: Any = "auto", *, quiet: bool = False) -> torch.device:
    """The torch.device for ``name``: "auto" | "cpu" | "cuda" | "cuda:N" (or a torch.device).

    "auto" is the first CUDA device when one is available, else the CPU, and says so in one
    line on stderr (unless ``quiet``). An unknown name, or CUDA asked for where there is none,
    is a one-line ParameterError naming ``device`` and its valid values.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(name, torch.device):
        name = str(name)
    if not isinstance(name, str):
        raise _invalid(name, "is not a device name")
    text = name.strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if not quiet:
            sys.stderr.write("rugtheory: no CUDA device is available; device 'auto' falls back to the CPU\n")
        return torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", text)
    if match is None:
        raise _invalid(name, "is unknown")
    if not torch.cuda.is_available():
        raise _invalid(name, "is not available (torch sees no CUDA device)")
    index = int(match.group(1)) if match.group(1) is not None else torch.cuda.current_device()
    count = torch.cuda.device_count()
    if index >= count:
        raise _invalid(name, f"is not available (torch sees {count} CUDA device(s), cuda:0 .. cuda:{count - 1})")
    return torch.device("cuda", index)
