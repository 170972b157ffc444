"""The identity, f(z) = z: the linear model under the rank-bound layer (issue 3; derivations/08).

    l = (1 - p)(beta^2 + sigma^2) + p int_0^1 [((a - 1) u + beta)^2 + sigma^2] du
      = sigma^2 + (1 - p) beta^2 + p [(a - 1)^2/3 + (a - 1) beta + beta^2].

With sigma = kappa a the loss is a convex quadratic in (a, beta) (Hessian
[[2 kappa^2 + 2p/3, p], [p, 2]], positive definite); its stationary point, solved by sympy
(``rugtheory.symbolic.families.identity_optimum``), is

    a* = V/(V + kappa^2) = r,   beta* = p (1 - a*)/2 = (1 - r) p/2,   V = p/3 - p^2/4,

and substituting kappa^2 = V (1 - r)/r gives l* = (1 - r) V: THEORY.md's linear baseline
L_lin, as it must be (the identity is the affine linear model with W of rank m).
Closed form against 50-digit mpmath of the definition: worst 2.9e-16 relative (40 points).

>>> o = optimum(0.1, 0.25)
>>> abs(o.loss / ((1 - 0.25) * (0.1 / 3 - 0.01 / 4)) - 1) < 1e-14
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..numeric import _generated_families as gen
from ..numeric.montecarlo import MonteCarloEstimate
from ._closed_form import evaluate
from ._family import (
    check_exact_offset,
    check_method,
    optimum_scale,
    require_scalars,
    validate_model,
    validate_point,
)
from ._quadrature import family_loss_quad
from ._starts import exact_fit
from .montecarlo import family_loss_mc
from .result import FamilyOptimum

__all__ = ["NAME", "activation", "loss", "loss_monte_carlo", "optimum"]

NAME = "identity"


def activation(z: np.ndarray) -> np.ndarray:
    """f(z) = z."""
    return np.asarray(z, dtype=float)


def loss(
    p: Any, a: Any, sigma: Any, bias: Any, method: str = "closed_form",
    samples: int = 1_000_000, seed: int = 0, a_minus_one: Any = None,
) -> Any:
    """The identity's loss l(a, sigma, beta = bias; p) by ``method``.

    Methods: "closed_form" (float64, takes arrays; the integrand is a sum of squares, so
    it does not cancel), "quadrature" (nested scipy quad of the definition) and
    "monte_carlo" (the point estimate; ``loss_monte_carlo`` gives its standard error).
    ``a_minus_one`` gives a - 1 exactly (closed_form, quadrature).
    """
    method = check_method(method)
    p, a, sigma, bias = validate_model(p, a, sigma, bias, samples, seed)
    am1 = check_exact_offset("a_minus_one", "a", a, a_minus_one)
    if method == "closed_form":
        value = evaluate(NAME, p, a, am1, bias, sigma, 0.0)
        return float(value) if np.ndim(value) == 0 else value
    require_scalars(method, (p, a, sigma, bias))
    if method == "quadrature":
        c = float(am1)
        return family_loss_quad(lambda u, z: c * u + bias + sigma * z, (), p, a, sigma, bias)[0]
    return loss_monte_carlo(p, a, sigma, bias, samples, seed).loss


def loss_monte_carlo(
    p: float, a: float, sigma: float, bias: float, samples: int = 1_000_000, seed: int = 0
) -> MonteCarloEstimate:
    """Stratified Monte Carlo estimate of the loss with its standard error (deterministic per seed)."""
    p, a, sigma, bias = validate_model(p, a, sigma, bias, samples, seed)
    require_scalars("monte_carlo", (p, a, sigma, bias))
    return family_loss_mc(activation, p, a, sigma, bias, int(samples), int(seed))


def optimum(p: float, r: float) -> FamilyOptimum:
    """The global minimum over (a, beta) at the rank bound, in closed form (module doc).

    ``loss`` is the closed form evaluated at (a*, beta*), equal to L_lin = (1 - r)(p/3 - p^2/4)
    to rounding (tests/test_activations.py: 1e-12 relative on hypothesis-drawn (p, r)).
    """
    p, r = validate_point(p, r)
    if r >= 1.0:
        return exact_fit(NAME, p, r, {})
    k, _ = optimum_scale(p, r)
    a, bias = (float(v) for v in gen.identity_optimum(p, k))
    sigma = k * a
    value = float(evaluate(NAME, p, a, a - 1.0, bias, sigma, 0.0))
    return FamilyOptimum(family=NAME, p=p, r=r, loss=value, parameters={"a": a, "bias": bias, "sigma": sigma})
