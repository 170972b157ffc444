"""Multi-start Newton minimisation for the activation families (derivations/08, "Optimum").

The families' losses are vectorised closed forms (or the ReLU^alpha hybrid), so derivatives
are taken by central finite differences on one batched stencil per iteration (1 + 2d + 2d(d-1)
points in d variables). The variables are unconstrained and scaled to the interference
(``x`` in units of c = min(kappa, 1)); each family maps them to its parameters.

1. Evaluate every start in one call and keep the ``keep`` best distinct ones.
2. Run safeguarded Newton on them together: negative curvature flipped and tiny curvature
   floored (so every step descends and saddles are left), and a batched backtracking search
   over step lengths 1, 1/2, ..., 1/1024.
3. Return the best point found (never worse than the best start).

The dead plateau (beta -> -inf or threshold -> inf, where l -> p/3 and the gradient
vanishes) is avoided by the starts, which sit at physically motivated thresholds.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

import numpy as np

__all__ = ["STEP", "minimise"]

STEP = 1e-5  # relative finite-difference step in the scaled variables
_LENGTHS = 0.5 ** np.arange(11)

Objective = Callable[[np.ndarray], np.ndarray]  # (N, d) -> (N,)


def _stencil(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Points of the central-difference stencil around each row of x: shape (K, S, d)."""
    d = x.shape[1]
    offsets = [np.zeros(d)]
    for i in range(d):
        for sign in (1.0, -1.0):
            e = np.zeros(d)
            e[i] = sign
            offsets.append(e)
    for i, j in combinations(range(d), 2):
        for si in (1.0, -1.0):
            for sj in (1.0, -1.0):
                e = np.zeros(d)
                e[i], e[j] = si, sj
                offsets.append(e)
    offsets = np.array(offsets)
    return x[:, None, :] + offsets[None, :, :] * h[:, None, :]


def _derivatives(values: np.ndarray, h: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian from stencil values (K, S) in the order of ``_stencil``."""
    f0 = values[:, 0]
    plus = values[:, 1 : 1 + 2 * d : 2]
    minus = values[:, 2 : 2 + 2 * d : 2]
    gradient = (plus - minus) / (2.0 * h)
    hessian = np.zeros((values.shape[0], d, d))
    for i in range(d):
        hessian[:, i, i] = (plus[:, i] - 2.0 * f0 + minus[:, i]) / h[:, i] ** 2
    column = 1 + 2 * d
    for i, j in combinations(range(d), 2):
        pp, pm, mp, mm = (values[:, column + k] for k in range(4))
        hessian[:, i, j] = hessian[:, j, i] = (pp - pm - mp + mm) / (4.0 * h[:, i] * h[:, j])
        column += 4
    return gradient, hessian


def _newton_direction(gradient: np.ndarray, hessian: np.ndarray) -> np.ndarray:
    """-|H|^-1 g: Newton's step, with negative curvature flipped (saddle-free) and tiny
    eigenvalues floored at 1e-8 of the largest, so the step always descends."""
    eigenvalues, vectors = np.linalg.eigh(hessian)
    floor = 1e-8 * np.max(np.abs(eigenvalues), axis=1, keepdims=True) + 1e-300
    shifted = np.maximum(np.abs(eigenvalues), floor)
    coefficients = np.einsum("kij,ki->kj", vectors, gradient) / shifted
    return -np.einsum("kij,kj->ki", vectors, coefficients)


def _distinct(x: np.ndarray, values: np.ndarray, keep: int) -> np.ndarray:
    """Indices of the ``keep`` best rows, skipping rows within 1e-3 (relative) of a kept one."""
    chosen: list[int] = []
    for index in np.argsort(values):
        if not np.isfinite(values[index]):
            break
        if all(np.max(np.abs(x[index] - x[k]) / (1.0 + np.abs(x[k]))) > 1e-3 for k in chosen):
            chosen.append(int(index))
        if len(chosen) == keep:
            break
    return np.array(chosen, dtype=int)


def minimise(
    objective: Objective, starts: np.ndarray, keep: int = 3, iterations: int = 80, tol: float = 1e-15
) -> tuple[np.ndarray, float, int]:
    """(x, f(x), iterations) of the best local minimum reached from the best ``keep`` starts."""
    starts = np.atleast_2d(np.asarray(starts, dtype=float))
    values = objective(starts)
    pick = _distinct(starts, values, keep)
    x, f = starts[pick].copy(), values[pick].copy()
    d = x.shape[1]
    active = np.ones(len(pick), dtype=bool)
    count = 0
    for count in range(1, iterations + 1):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        h = STEP * np.maximum(1.0, np.abs(x[idx]))
        points = _stencil(x[idx], h)
        stencil_values = objective(points.reshape(-1, d)).reshape(idx.size, -1)
        gradient, hessian = _derivatives(stencil_values, h, d)
        direction = _newton_direction(gradient, hessian)
        decrement = -np.einsum("ki,ki->k", gradient, direction)
        trials = x[idx][:, None, :] + _LENGTHS[None, :, None] * direction[:, None, :]
        trial_values = objective(trials.reshape(-1, d)).reshape(idx.size, -1)
        trial_values = np.where(np.isfinite(trial_values), trial_values, np.inf)
        best = np.argmin(trial_values, axis=1)
        best_value = trial_values[np.arange(idx.size), best]
        improved = best_value < f[idx]
        gain = np.where(improved, f[idx] - best_value, 0.0)
        moved = idx[improved]
        x[moved] = trials[np.flatnonzero(improved), best[improved]]
        f[moved] = best_value[improved]
        small = (decrement <= tol * np.abs(f[idx])) | (gain <= tol * np.abs(f[idx]))
        active[idx[small | ~improved]] = False
    winner = int(np.argmin(f))
    return x[winner], float(f[winner]), count
