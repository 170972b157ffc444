"""The torch harness: train many toy models at once on CPU or CUDA.

torch is the optional extra ``rugtheory[torch]``; importing this package without it raises one
ImportError line that says how to install it. Nothing in the core imports this package.

>>> from rugtheory.harness import TrainConfig, train
>>> config = TrainConfig(n_features=16, n_hidden=8, feature_probability=0.1, seed=0, steps=50)
>>> result = train(config, device="cpu", progress=False)
>>> result.W.shape, result.device
((1, 16, 16), 'cpu')
"""

from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError:  # pragma: no cover - exercised only on installs without the extra
    raise ImportError("torch is needed: pip install 'rugtheory[torch]'") from None

from .config import InstanceGroup, TrainConfig, group_by_hidden, hidden_size
from .device import DEVICE_NAMES, resolve_device
from .state import load_config
from .train import TrainResult, train

__all__ = [
    "DEVICE_NAMES",
    "InstanceGroup",
    "TrainConfig",
    "TrainResult",
    "group_by_hidden",
    "hidden_size",
    "load_config",
    "resolve_device",
    "train",
]
