"""Soft threshold, f(z) = sign(z) max(|z| - threshold, 0), under the rank-bound linear layer (issue 3).

    l = (1 - p) E[f(beta + sigma Z)^2] + p int_0^1 E[(f(a u + beta + sigma Z) - u)^2] du.

Its optimum is the ReLU's, approached but not attained (derivations/08, "Soft threshold"):
for y > -theta, f(y) = ReLU(y - theta), and for y < -theta it outputs y + theta < 0, which is
farther from every target u >= 0 than ReLU's 0. Hence, pointwise in (a, beta, theta),

    l_soft(a, sigma, beta, theta) >= l_ReLU(a, sigma, beta - theta),

with equality only when P(y < -theta) = 0. The infimum over theta is therefore L*_ReLU,
reached as theta -> inf with beta - theta held at the ReLU optimum's bias. ``optimum``
returns such a point with (2 theta + beta_ReLU)/sigma = 40, where the negative branch's
contribution (at most ~ sigma^2 J_1(40), below 1e-340 relative) vanishes in float64: its loss
is the ReLU optimum's to rounding. tests/test_activations.py checks that no numerical start gets
below it.

Closed form against 50-digit mpmath of the definition, 40 random points with p down to 1e-30:
worst 5.6e-15 relative; stated 1e-13 (tests/test_activations.py).

>>> round(loss(0.5, 1.0, 0.0, 0.0, 0.0), 15)  # threshold 0 is the identity; a = 1 fits x
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
from ._starts import exact_fit
from .montecarlo import family_loss_mc
from .result import FamilyOptimum

__all__ = ["CLEARANCE", "NAME", "activation", "loss", "loss_monte_carlo", "optimum"]

NAME = "soft_threshold"
CLEARANCE = 40.0  # (2 theta + beta_ReLU)/sigma at the reported optimum


def activation(z: np.ndarray, threshold: float) -> np.ndarray:
    """f(z) = sign(z) max(|z| - threshold, 0) (elementwise)."""
    z = np.asarray(z, dtype=float)
    return np.sign(z) * np.maximum(np.abs(z) - threshold, 0.0)


def _residual(a: float, am1: float, beta: float, sigma: float, threshold: float):
    """(u, z) -> f(a u + beta + sigma z) - u, in the residual w = (a - 1) u + beta."""

    def residual(u: float, z: float) -> float:
        y = a * u + beta + sigma * z
        if y > threshold:
            return am1 * u + beta + sigma * z - threshold
        if y < -threshold:
            return am1 * u + beta + sigma * z + threshold
        return -u

    return residual


def loss(
    p: Any, a: Any, sigma: Any, bias: Any, threshold: Any, method: str = "closed_form",
    samples: int = 1_000_000, seed: int = 0, a_minus_one: Any = None,
) -> Any:
    """The soft-threshold loss l(a, sigma, beta = bias, threshold; p) by ``method``.

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
        return family_loss_quad(residual, (-threshold, threshold), p, a, sigma, bias)[0]
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
    """The infimum over (a, beta, threshold >= 0) at the rank bound: the ReLU optimum (module doc).

    Returns a = a_ReLU, threshold = max(0, (CLEARANCE sigma - beta_ReLU)/2) and
    bias = beta_ReLU + threshold, with ``loss`` evaluated there by the closed form (equal to
    ``rugtheory.solve(p, r).loss`` to rounding). At r = 1 the exact fit has loss 0.

    >>> o = optimum(0.01, 0.5)
    >>> round(o.loss / 9.37966e-05, 4)  # the ReLU optimum
    1.0
    """
    from ..optimum import solve

    p, r = validate_point(p, r)
    if r >= 1.0:
        return exact_fit(NAME, p, r, {"threshold": 0.0})
    relu = solve(p, r)
    threshold = max(0.0, 0.5 * (CLEARANCE * relu.sigma - relu.bias))
    bias = relu.bias + threshold
    value = float(evaluate(NAME, p, relu.a, relu.a_minus_one, bias, relu.sigma, threshold))
    if not math.isfinite(value):
        raise ArithmeticError(f"{NAME}: non-finite optimum at p={p}, r={r}")
    parameters = {"a": relu.a, "bias": bias, "sigma": relu.sigma, "threshold": threshold}
    return FamilyOptimum(family=NAME, p=p, r=r, loss=value, parameters=parameters)
