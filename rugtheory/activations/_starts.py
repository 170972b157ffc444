"""Start grids and the optimum at r = 1 shared by the family optimisers (derivations/08, "Optimum")."""

from __future__ import annotations

import math

import numpy as np

from .result import FamilyOptimum

__all__ = ["SNAP", "depth", "diagonal_grid", "exact_fit", "threshold_grid"]

SNAP = 1e-13  # the exact ReLU point is reported unless a search beats it by more than this (relative)


def depth(p: float) -> float:
    """sqrt(2 ln((1 - p)/p)): the standardised threshold where rejecting the inactive features pays."""
    return math.sqrt(2.0 * math.log1p((1.0 - p) / p))


def diagonal_grid(r: float) -> np.ndarray:
    """Values of a to start from: the linear model's r, sqrt(r), 1 and 1.4 (the ReLU solver's)."""
    return np.array([r, math.sqrt(r), 1.0, 1.4])


def threshold_grid(p: float, count: int) -> np.ndarray:
    """``count`` standardised offsets t in [-1.3 depth - 1, 1] (units of sigma), as the ReLU solver scans."""
    reach = 1.3 * depth(p) + 1.0
    return np.linspace(-reach, 1.0, count)


def exact_fit(name: str, p: float, r: float, extra: dict[str, float]) -> FamilyOptimum:
    """At r = 1 there is no interference (sigma = 0) and a = 1, beta = 0 fits x exactly: loss 0."""
    parameters = {"a": 1.0, "bias": 0.0, "sigma": 0.0, **extra}
    return FamilyOptimum(family=name, p=p, r=r, loss=0.0, parameters=parameters)
