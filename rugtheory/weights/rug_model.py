"""The Persian rug, forward-engineered: a Hadamard model with the mean-field optimal (a, beta).

THEORY.md, "Rank bound". Take m = round(r n) rows H_S of the Sylvester Hadamard matrix of order
n, chosen with ``seed`` (``rug_rows``), and the mean-field optimum (a, beta) = ``solve(p, m/n)``
at the effective ratio m/n. Then

    W = a H_S^T H_S / m,   W_in = H_S (m x n),   W_out = a H_S^T / m (n x m),
    b_i = beta - mu_i,     mu_i = (p/2) sum_{j != i} W_ij,

so every row has diagonal exactly a, off-diagonal power S_i = a^2 (n/m - 1) (the rank bound
with equality) and effective bias exactly beta, and W = W_out W_in has rank m. No training.
W is computed from the integer Gram matrix H_S^T H_S (exact in float64), W = a (G / m), so its
diagonal is a bit for bit and each entry is rounded once. W_out @ W_in sums m terms +-a/m in
floating point, so it equals W to rounding: within m ulp(a) (measured: at most 10 ulp(a) for
n <= 4096), not bit for bit.

>>> model = rug_model(16, 0.25, 0.05, seed=1)
>>> model.m, bool((model.W.diagonal() == model.a).all())
(4, True)
>>> bool(np.allclose(model.W.sum(axis=1) - model.a, (model.beta - model.b) / 0.025))
True
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ..errors import ParameterError
from ..parameters import FEATURE_PROBABILITY, check_seed
from .hadamard import _order, _sylvester_rows, rug_rows

__all__ = ["RUG_KIND", "RugModel", "load_rug", "rug_model"]

RUG_KIND = "hadamard_rug"


@dataclass(frozen=True, eq=False)
class RugModel:
    """A forward-engineered Hadamard rug (see the module docstring); arrays are read-only.

    ``r`` is the effective ratio m/n (what the model is, and what L* is solved at);
    ``r_requested`` the ratio asked for. ``beta`` is the effective bias of every row,
    ``loss_meanfield_optimum`` is L*(p, m/n) and ``sigma`` = a kappa its interference std.
    """

    n: int
    m: int
    r: float
    r_requested: float
    p: float
    seed: int
    a: float
    beta: float
    sigma: float
    loss_meanfield_optimum: float
    rows: np.ndarray
    W: np.ndarray
    W_in: np.ndarray
    W_out: np.ndarray
    b: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """The scalars and the chosen rows (no matrices), JSON-ready; ``bias`` is beta."""
        return {
            "n": self.n,
            "m": self.m,
            "r": self.r,
            "r_requested": self.r_requested,
            "p": self.p,
            "seed": self.seed,
            "a": self.a,
            "bias": self.beta,
            "sigma": self.sigma,
            "loss_meanfield_optimum": self.loss_meanfield_optimum,
            "rows": self.rows.tolist(),
        }

    def save(self, directory: str | os.PathLike) -> None:
        """Write the model to ``directory`` (safetensors + JSON, atomic; ``checkpoint.save_checkpoint``)."""
        arrays = {"W": self.W, "W_in": self.W_in, "W_out": self.W_out, "b": self.b, "rows": self.rows}
        save_checkpoint(directory, arrays, dict(self.to_dict(), kind=RUG_KIND))


def _readonly(*arrays: np.ndarray) -> None:
    for array in arrays:
        array.setflags(write=False)


def _bias(W: np.ndarray, beta: float, p: float) -> np.ndarray:
    """b_i = beta - mu_i with mu_i = (p/2) sum_{j != i} W_ij."""
    return beta - 0.5 * p * (W.sum(axis=1) - W.diagonal())


def rug_model(n: int, r: float, p: float, seed: int = 0) -> RugModel:
    """The Hadamard Persian rug at (n, r, p), with (a, beta) from ``rugtheory.solve(p, m/n)``.

    n must be a power of two >= 2, r in (0, 1] with m = round(r n) >= 1, p in (0, 1);
    ParameterError otherwise. Deterministic for a given seed.
    """
    from ..numeric.solver import kappa
    from ..optimum import solve

    n = _order(n)
    p = FEATURE_PROBABILITY.validate(p)
    if np.ndim(p) != 0:
        raise ParameterError(f"feature_probability (p) must be a single number; valid: {FEATURE_PROBABILITY.domain_text()}")
    seed = check_seed(seed)
    rows = rug_rows(n, r, seed).astype(np.int64)
    m = int(rows.size)
    effective = m / n
    optimum = solve(p, effective)
    a, beta = float(optimum.a), float(optimum.bias)
    h_s = _sylvester_rows(n, rows)
    W = a * ((h_s.T @ h_s) / m)
    W_out = h_s.T * (a / m)
    b = _bias(W, beta, p)
    W_in = np.ascontiguousarray(h_s)
    W_out = np.ascontiguousarray(W_out)
    _readonly(rows, W, W_in, W_out, b)
    return RugModel(
        n=n, m=m, r=effective, r_requested=float(r), p=float(p), seed=seed, a=a, beta=beta,
        sigma=float(a * kappa(p, effective)), loss_meanfield_optimum=float(optimum.loss),
        rows=rows, W=W, W_in=W_in, W_out=W_out, b=b,
    )


_CONFIG_KEYS = ("n", "m", "r", "r_requested", "p", "seed", "a", "bias", "sigma", "loss_meanfield_optimum")


def load_rug(directory: str | os.PathLike) -> RugModel:
    """The RugModel saved by ``RugModel.save`` in ``directory``, exactly as it was saved.

    CheckpointError (a ParameterError) if the directory is missing, corrupt, not a rug, or its
    arrays do not match its config.
    """
    arrays, config = load_checkpoint(directory)
    where = f"checkpoint {str(directory)!r}"
    if config.get("kind") != RUG_KIND:
        raise CheckpointError(f"{where} is not a Hadamard rug (kind {config.get('kind')!r}, expected {RUG_KIND!r})")
    missing = [key for key in (*_CONFIG_KEYS, "rows") if key not in config]
    missing += [key for key in ("W", "W_in", "W_out", "b", "rows") if key not in arrays]
    if missing:
        raise CheckpointError(f"{where} lacks {', '.join(missing)}; valid: a directory written by RugModel.save")
    try:
        n, m = int(config["n"]), int(config["m"])
        shapes = {"W": (n, n), "W_in": (m, n), "W_out": (n, m), "b": (n,), "rows": (m,)}
        bad = [key for key, shape in shapes.items() if arrays[key].shape != shape]
        if bad or arrays["rows"].tolist() != list(config["rows"]):
            raise ValueError(f"arrays {', '.join(bad) or 'rows'} disagree with the config")
        scalars = {key: float(config[key]) for key in ("r", "r_requested", "p", "a", "bias", "sigma")}
        loss = float(config["loss_meanfield_optimum"])
        seed = int(config["seed"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{where} is inconsistent ({error})") from None
    _readonly(*(arrays[key] for key in shapes))
    return RugModel(
        n=n, m=m, r=scalars["r"], r_requested=scalars["r_requested"], p=scalars["p"], seed=seed,
        a=scalars["a"], beta=scalars["bias"], sigma=scalars["sigma"], loss_meanfield_optimum=loss,
        rows=arrays["rows"], W=arrays["W"], W_in=arrays["W_in"], W_out=arrays["W_out"], b=arrays["b"],
    )
