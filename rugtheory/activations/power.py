"""ReLU^alpha, f(z) = ReLU(z)^alpha with alpha > 0, under the rank-bound linear layer (issue 3).

    l = (1 - p) E[f(beta + sigma Z)^2] + p int_0^1 E[(f(a u + beta + sigma Z) - u)^2] du.

Methods of ``loss``:

* "closed_form": integer alpha in 1..4 (derived in sympy, ``_closed_form``); alpha = 1 is
  the ReLU and agrees with ``rugtheory.meanfield_loss``;
* "hybrid": any alpha; the ReLU closed form plus a one-dimensional adaptive quadrature of
  the difference (``_power_hybrid``), exact at alpha = 1 and relative-accurate at p = 1e-30;
* "quadrature": nested scipy quad of the definition (independent of both);
* "monte_carlo": sampled (``loss_monte_carlo`` gives the standard error).

Against 50-digit mpmath of the definition (p down to 1e-30): closed forms worst 4.1e-15
relative (40 points), the hybrid <= 4.5e-16 (4 points, 30 digits) and <= 2.5e-15 from the
closed forms at integer alpha (300 points); stated 1e-13 (tests/test_activations.py).

The optimum is over (a, beta, alpha) with alpha continuous (``optimum``), evaluated by the
hybrid. alpha = 1 is the ReLU, whose optimum is a start and a candidate, so the result is
never worse than ``rugtheory.solve``'s.

>>> round(loss(0.5, 1.0, 0.0, 0.0, 2.0), 12)  # a = 1, sigma = 0: p int_0^1 (u^2 - u)^2 du = p/30
0.016666666667
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..numeric.montecarlo import MonteCarloEstimate
from ..parameters import ALPHA
from . import _power_hybrid
from ._closed_form import evaluate
from ._family import (
    check_exact_offset,
    check_method,
    optimum_scale,
    require_scalars,
    validate_model,
    validate_point,
)
from ._optimize import minimise
from ._quadrature import family_loss_quad
from ._starts import SNAP, diagonal_grid, exact_fit, threshold_grid
from .montecarlo import family_loss_mc
from .result import FamilyOptimum

__all__ = ["CLOSED_FORM_POWERS", "METHODS", "NAME", "activation", "loss", "loss_monte_carlo", "optimum"]

NAME = "power"
METHODS = ("closed_form", "hybrid", "quadrature", "monte_carlo")
CLOSED_FORM_POWERS = (1, 2, 3, 4)


def activation(z: np.ndarray, alpha: float) -> np.ndarray:
    """f(z) = ReLU(z)^alpha (elementwise)."""
    return np.maximum(np.asarray(z, dtype=float), 0.0) ** alpha


def _excess(y: float, eps: float) -> float:
    """y^(1 + eps) - y for y > 0, through expm1 where eps ln y is small."""
    exponent = eps * math.log(y)
    return y * math.expm1(exponent) if abs(exponent) < 1.0 else y ** (1.0 + eps) - y


def _residual(a: float, am1: float, beta: float, sigma: float, eps: float):
    """(u, z) -> f(a u + beta + sigma z) - u: (w + sigma z) + (y^alpha - y) for y > 0, else -u."""

    def residual(u: float, z: float) -> float:
        y = a * u + beta + sigma * z
        if y > 0.0:
            return am1 * u + beta + sigma * z + _excess(y, eps)
        return -u

    return residual


def _closed_power(alpha: Any) -> int:
    values = np.unique(np.asarray(alpha, dtype=float))
    if values.size != 1 or values[0] not in CLOSED_FORM_POWERS:
        raise ParameterError(
            f"alpha = {alpha!r} has no closed form; valid for method 'closed_form': alpha in "
            f"{{{', '.join(map(str, CLOSED_FORM_POWERS))}}} (use 'hybrid' or 'quadrature' otherwise)"
        )
    return int(values[0])


def loss(
    p: Any, a: Any, sigma: Any, bias: Any, alpha: Any, method: str = "closed_form",
    samples: int = 1_000_000, seed: int = 0, a_minus_one: Any = None, alpha_minus_one: Any = None,
) -> Any:
    """The ReLU^alpha loss l(a, sigma, beta = bias, alpha; p) by ``method`` (module doc).

    closed_form and hybrid take arrays. ``a_minus_one`` and ``alpha_minus_one`` give a - 1 and
    alpha - 1 exactly (hybrid, quadrature; a_minus_one also closed_form): near p -> 0 the
    optimum has both ~sigma, below float64's resolution of a and alpha.
    Raises ParameterError naming a bad parameter and its range.
    """
    method = check_method(method, METHODS)
    p, a, sigma, bias = validate_model(p, a, sigma, bias, samples, seed)
    alpha = ALPHA.validate(alpha)
    am1 = check_exact_offset("a_minus_one", "a", a, a_minus_one)
    eps = check_exact_offset("alpha_minus_one", "alpha", alpha, alpha_minus_one)
    if method == "closed_form":
        if alpha_minus_one is not None:
            raise ParameterError("alpha_minus_one is supported by hybrid and quadrature; valid: method 'hybrid'")
        value = evaluate(f"power{_closed_power(alpha)}", p, a, am1, bias, sigma, 0.0)
        return float(value) if np.ndim(value) == 0 else value
    if method == "hybrid":
        value = _power_hybrid.loss(p, a, am1, bias, sigma, eps)
        return float(value) if np.ndim(value) == 0 else value
    require_scalars(method, (p, a, sigma, bias, alpha))
    if method == "quadrature":
        residual = _residual(a, float(am1), bias, sigma, float(eps))
        return family_loss_quad(residual, (0.0,), p, a, sigma, bias)[0]
    return loss_monte_carlo(p, a, sigma, bias, alpha, samples, seed).loss


def loss_monte_carlo(
    p: float, a: float, sigma: float, bias: float, alpha: float, samples: int = 1_000_000, seed: int = 0
) -> MonteCarloEstimate:
    """Stratified Monte Carlo estimate of the loss with its standard error (deterministic per seed)."""
    p, a, sigma, bias = validate_model(p, a, sigma, bias, samples, seed)
    alpha = ALPHA.validate(alpha)
    require_scalars("monte_carlo", (p, a, sigma, bias, alpha))
    return family_loss_mc(lambda z: activation(z, alpha), p, a, sigma, bias, int(samples), int(seed))


def optimum(p: float, r: float) -> FamilyOptimum:
    """min over (a, beta, alpha > 0) at the rank bound sigma = kappa a, by the hybrid (method "hybrid").

    Scaled variables x = (log(a)/c, beta/c, log(alpha)/c), c = min(kappa, 1), with a - 1 and
    alpha - 1 carried exactly through expm1. Starts: the ReLU optimum with alpha = exp(c t),
    t in {-2, -0.5, 0.5, 2}, and the grid a in {r, sqrt(r), 1, 1.4} x beta/sigma (6 values) x
    alpha in {0.5, 1.5, 2, 3}; the three best are refined by ``_optimize.minimise``. The exact
    ReLU optimum (alpha = 1) is a candidate, so loss <= rugtheory.solve(p, r).loss.
    At r = 1 the exact fit (a = 1, beta = 0, alpha = 1) has loss 0.
    """
    from ..optimum import solve

    p, r = validate_point(p, r)
    if r >= 1.0:
        return exact_fit(NAME, p, r, {"alpha": 1.0})
    k, c = optimum_scale(p, r)
    relu = solve(p, r)

    def unpack(x: np.ndarray):
        am1 = np.expm1(c * x[..., 0])
        eps = np.expm1(c * x[..., 2])
        return am1, 1.0 + am1, c * x[..., 1], eps

    def objective(x: np.ndarray) -> np.ndarray:
        am1, a, beta, eps = unpack(x)
        return _power_hybrid.loss(p, a, am1, beta, k * a, eps)

    relu_x = [math.log1p(relu.a_minus_one) / c, relu.bias / c]
    starts = [relu_x + [t] for t in (-2.0, -0.5, 0.5, 2.0)]
    for a in diagonal_grid(r):
        for t_beta in threshold_grid(p, 6):
            for alpha in (0.5, 1.5, 2.0, 3.0):
                starts.append([math.log(a) / c, t_beta * k * a / c, math.log(alpha) / c])
    x, value, _ = minimise(objective, np.array(starts))
    _, a, beta, eps = (float(v) for v in unpack(x))
    relu_value = float(_power_hybrid.loss(p, relu.a, relu.a_minus_one, relu.bias, relu.sigma, 0.0))
    if relu_value <= value * (1.0 + SNAP):  # alpha = 1 (the ReLU) unless beaten by more than SNAP
        a, beta, eps, value = relu.a, relu.bias, 0.0, relu_value
    if not math.isfinite(value):
        raise ArithmeticError(f"{NAME}: non-finite optimum at p={p}, r={r}")
    parameters = {"a": a, "bias": beta, "sigma": k * a, "alpha": 1.0 + eps}
    return FamilyOptimum(family=NAME, p=p, r=r, loss=value, parameters=parameters, method="hybrid")
