"""JumpReLU, f(z) = z 1[z > threshold], under the rank-bound linear layer (issue 3; derivations/08).

    l = (1 - p) E[f(beta + sigma Z)^2] + p int_0^1 E[(f(a u + beta + sigma Z) - u)^2] du.

threshold = 0 is exactly ReLU, so the optimum is never worse than ``rugtheory.solve``'s (the
ReLU optimum is one of its starts and candidates). At high sparsity JumpReLU thresholds
without shifting its output, and its optimum approaches p kappa^2 (a ~ 1, beta ~ 0,
threshold ~ sigma sqrt(2 ln(1/p))), far below the ReLU's p^2 log(1/p) scale.

Accuracy of the closed form (float64, ``_closed_form``) against 50-digit mpmath evaluations
of the definition (``_reference.piecewise_loss_mp``), 40 random points with p down to 1e-30:
worst 1.5e-14 relative; stated 1e-13 (tests/test_activations.py).

>>> round(loss(0.5, 1.0, 0.0, 0.0, 0.0), 15)  # a = 1, no interference: y = x exactly
0.0
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..numeric.montecarlo import MonteCarloEstimate
from ..parameters import THRESHOLD
from ._closed_form import evaluate
from ._family import check_exact_offset, check_method, require_scalars, validate_model, validate_point
from ._quadrature import family_loss_quad
from ._threshold_optimum import threshold_optimum
from .montecarlo import family_loss_mc
from .result import FamilyOptimum

__all__ = ["NAME", "activation", "loss", "loss_monte_carlo", "optimum"]

NAME = "jumprelu"


def activation(z: np.ndarray, threshold: float) -> np.ndarray:
    """f(z) = z 1[z > threshold] (elementwise)."""
    z = np.asarray(z, dtype=float)
    return np.where(z > threshold, z, 0.0)


def _residual(a: float, am1: float, beta: float, sigma: float, threshold: float):
    """(u, z) -> f(a u + beta + sigma z) - u, in the residual w = (a - 1) u + beta."""

    def residual(u: float, z: float) -> float:
        if a * u + beta + sigma * z > threshold:
            return am1 * u + beta + sigma * z
        return -u

    return residual


def loss(
    p: Any, a: Any, sigma: Any, bias: Any, threshold: Any, method: str = "closed_form",
    samples: int = 1_000_000, seed: int = 0, a_minus_one: Any = None,
) -> Any:
    """The JumpReLU loss l(a, sigma, beta = bias, threshold; p) by ``method``.

    Methods: "closed_form" (stable float64, takes arrays), "quadrature" (nested scipy quad
    of the definition) and "monte_carlo" (the point estimate; ``loss_monte_carlo`` gives
    its standard error). ``a_minus_one`` gives a - 1 exactly (closed_form, quadrature).
    Raises ParameterError naming a bad parameter and its range.
    """
    method = check_method(method)
    p, a, sigma, bias = validate_model(p, a, sigma, bias, samples, seed)
    threshold = THRESHOLD.validate(threshold)
    am1 = check_exact_offset("a_minus_one", "a", a, a_minus_one)
    if method == "closed_form":
        value = evaluate(NAME, p, a, am1, bias, sigma, threshold)
        return float(value) if np.ndim(value) == 0 else value
    require_scalars(method, (p, a, sigma, bias, threshold))
    if method == "quadrature":
        residual = _residual(a, float(am1), bias, sigma, threshold)
        return family_loss_quad(residual, (threshold,), p, a, sigma, bias)[0]
    return loss_monte_carlo(p, a, sigma, bias, threshold, samples, seed).loss


def loss_monte_carlo(
    p: float, a: float, sigma: float, bias: float, threshold: float, samples: int = 1_000_000, seed: int = 0
) -> MonteCarloEstimate:
    """Stratified Monte Carlo estimate of the loss with its standard error (deterministic per seed)."""
    p, a, sigma, bias = validate_model(p, a, sigma, bias, samples, seed)
    threshold = THRESHOLD.validate(threshold)
    require_scalars("monte_carlo", (p, a, sigma, bias, threshold))
    return family_loss_mc(lambda z: activation(z, threshold), p, a, sigma, bias, int(samples), int(seed))


def optimum(p: float, r: float) -> FamilyOptimum:
    """min over (a, beta, threshold >= 0) at the rank bound sigma = kappa a (THEORY.md, "Rank bound").

    Multi-start Newton (``_threshold_optimum``) with the ReLU optimum as a start and as a
    candidate, so ``loss <= rugtheory.solve(p, r).loss`` up to the closed forms' rounding.
    At r = 1, sigma = 0 and the exact fit (a = 1, beta = 0, threshold = 0) has loss 0.

    >>> o = optimum(0.01, 0.5)
    >>> o.loss < 0.75 * 9.3797e-05  # ReLU's optimum there is 9.3797e-05
    True
    """
    from ..optimum import solve

    p, r = validate_point(p, r)
    relu = solve(p, r) if r < 1.0 else None
    start = None if relu is None else (relu.a_minus_one, relu.bias)
    result = threshold_optimum(NAME, p, r, start)
    if not math.isfinite(result.loss):
        raise ArithmeticError(f"{NAME}: non-finite optimum at p={p}, r={r}")
    return result
