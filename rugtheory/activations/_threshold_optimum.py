"""Optimum over (a, beta, threshold) of a thresholding family at the rank bound (derivations/08, "Optimum").

    L*_f(p, r) = min over (a, beta, theta >= 0) of l_f(a, kappa a, beta, theta; p).

Scaled, unconstrained variables x = (log(a)/c, beta/c, sqrt(theta/c)), c = min(kappa, 1):
a > 0 and theta >= 0 hold by construction, and a - 1 = expm1(c x_0) is carried exactly
(at p -> 0 it is ~sigma, below the resolution of a). Starts: the ReLU optimum (theta ~ 0),
the linear model (a = r, beta = (1 - r) p/2) and the grid a in {r, sqrt(r), 1, 1.4} x
beta/sigma in [-1.3 depth - 1, 1] (6 values) x theta/sigma in {~0, 0.5, ..., 1.3 depth + 1}
(6 values), with depth = sqrt(2 ln((1 - p)/p)). The three best are refined by ``minimise``.
"""

from __future__ import annotations

import math

import numpy as np

from ._closed_form import evaluate
from ._family import optimum_scale
from ._optimize import minimise
from ._starts import SNAP, depth, diagonal_grid, exact_fit, threshold_grid
from .result import FamilyOptimum

__all__ = ["threshold_optimum"]

_NEAR_ZERO = 0.05  # sqrt(theta/c) of the "no threshold" starts: off the symmetry point x_2 = 0


def threshold_optimum(name: str, p: float, r: float, relu_start: tuple[float, float] | None) -> FamilyOptimum:
    """The optimum of family ``name`` (a key of the generated FAMILIES with a threshold).

    ``relu_start`` = (a - 1, beta) of the ReLU optimum; when given, that exact point with
    theta = 0 is also a candidate, so the result is never worse than it, and it is reported
    (theta = 0 exactly) unless the search beats it by more than SNAP relative.
    """
    if r >= 1.0:
        return exact_fit(name, p, r, {"threshold": 0.0})
    k, c = optimum_scale(p, r)

    def unpack(x: np.ndarray):
        am1 = np.expm1(c * x[..., 0])
        return am1, 1.0 + am1, c * x[..., 1], c * x[..., 2] ** 2

    def objective(x: np.ndarray) -> np.ndarray:
        am1, a, beta, theta = unpack(x)
        return evaluate(name, p, a, am1, beta, k * a, theta)

    starts = [[math.log(r) / c, (1.0 - r) * p / 2.0 / c, _NEAR_ZERO]]
    if relu_start is not None:
        starts.append([math.log1p(relu_start[0]) / c, relu_start[1] / c, _NEAR_ZERO])
    t_theta = np.concatenate([[0.0], np.linspace(0.5, 1.3 * depth(p) + 1.0, 5)])
    for a in diagonal_grid(r):
        for t_beta in threshold_grid(p, 6):
            for t in t_theta:
                x2 = math.sqrt(t * k * a / c) if t > 0 else _NEAR_ZERO
                starts.append([math.log(a) / c, t_beta * k * a / c, x2])
    x, value, _ = minimise(objective, np.array(starts))
    _, a, beta, theta = (float(v) for v in unpack(x))
    if relu_start is not None:
        am1_relu, beta_relu = relu_start
        relu_value = float(evaluate(name, p, 1.0 + am1_relu, am1_relu, beta_relu, k * (1.0 + am1_relu), 0.0))
        if relu_value <= value * (1.0 + SNAP):  # the boundary theta = 0: report it exactly
            a, beta, theta, value = 1.0 + am1_relu, beta_relu, 0.0, relu_value
    parameters = {"a": a, "bias": beta, "sigma": k * a, "threshold": theta}
    return FamilyOptimum(family=name, p=p, r=r, loss=value, parameters=parameters)
