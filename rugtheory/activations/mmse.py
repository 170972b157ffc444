"""The Bayes-optimal elementwise estimator on the rank-bound linear layer, and its loss (the MMSE bound).

derivations/09_mmse.md. A feature's pre-activation is a x + beta + sigma Z with sigma = kappa a,
kappa^2 = (p/3 - p^2/4)(1 - r)/r (THEORY.md, "Rank bound"). For a > 0 it is an invertible affine
image of v = x + kappa Z, so the best elementwise function of it is the posterior mean
E[x | v], and its per-feature loss

    MMSE(p, kappa) = E[(x - E[x | v])^2]

lower-bounds every elementwise activation on this linear layer (ReLU, JumpReLU, ...): each of
them is some function of v, and the posterior mean minimises the mean squared error among all
functions of v. It depends on (p, r) only, with no optimisation.

Methods of ``mmse_loss``: "quadrature" (float64 panel Gauss-Legendre of the non-negative
decomposition, ``rugtheory.numeric.mmse``; ~1e-15 relative), "mpmath" (the posterior-variance
integral at high precision, ``rugtheory.numeric.mmse_mp``) and "monte_carlo" (stratified
sampling; ``mmse_loss_mc`` also returns the standard error). ``mmse_asymptotic`` is the
small-kappa expansion (``rugtheory.asymptotics.mmse``).

>>> round(mmse_loss(0.3, 0.5), 10)
0.0552154621
>>> optimum(0.01, 1.0).loss  # r = 1: no interference, x is seen exactly
0.0
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..asymptotics.mmse import MMSEExpansion, mmse_asymptotic
from ..errors import ParameterError
from ..numeric.montecarlo import MonteCarloEstimate
from ..numeric.solver import kappa
from ..parameters import FEATURE_PROBABILITY, NOISE, OBSERVATION, PRECISION, RATIO, SAMPLES
from .result import FamilyOptimum

__all__ = [
    "METHODS",
    "NAME",
    "MMSEExpansion",
    "mmse_asymptotic",
    "mmse_loss",
    "mmse_loss_mc",
    "optimum",
    "posterior_mean",
]

NAME = "mmse"
METHODS = ("quadrature", "mpmath", "monte_carlo")


def _scalar(parameter, value: Any) -> float:
    checked = parameter.validate(value)
    if np.ndim(checked):
        raise ParameterError(
            f"{parameter.name} ({parameter.symbol}) must be a scalar here; valid: {parameter.domain_text()}"
        )
    return checked


def _seed(seed: Any) -> int:
    try:
        ok = int(seed) == seed and int(seed) >= 0 and not isinstance(seed, bool)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ParameterError(f"seed = {seed!r} is out of range; valid: seed an integer >= 0")
    return int(seed)


def posterior_mean(v: Any, p: Any, noise: Any) -> Any:
    """E[x | x + noise Z = v], vectorised over broadcast arrays (float for scalar inputs).

    Stable in float64 (log-odds and Mills ratios; derivations/09_mmse.md, "Stable evaluation"):
    relative error <= 2.8e-14 against 150-digit mpmath over p in [1e-30, 0.999], noise in
    [1e-16, 30] (limited by the conditioning of the log-odds in v); finite and in [0, 1] for
    any finite v, p down to 1e-300 and noise from 1e-300 to 1e150. noise = 0 gives the limit
    clip(v, 0, 1).

    >>> [round(float(x), 6) for x in posterior_mean([-0.1, 0.1, 0.25, 1.1], 0.01, 0.05)]
    [4e-06, 0.000931, 0.249266, 0.981339]
    """
    v = OBSERVATION.validate(v)
    p = FEATURE_PROBABILITY.validate(p)
    noise = NOISE.validate(noise)
    from ..numeric.posterior import posterior_mean as _posterior_mean

    v_, p_, noise_ = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (v, p, noise)))
    out = np.array(np.clip(v_, 0.0, 1.0), dtype=float)
    positive = noise_ > 0.0
    if positive.any():
        out[positive] = _posterior_mean(v_[positive], p_[positive], noise_[positive])
    return float(out) if out.ndim == 0 else out


def mmse_loss_mc(
    p: Any, noise: Any, samples: int = 1_000_000, seed: int = 0, stratify: bool = True
) -> MonteCarloEstimate:
    """Monte Carlo MMSE with its standard error (stratified over off/on by default).

    >>> e = mmse_loss_mc(0.3, 0.5, samples=20_000)
    >>> abs(e.loss - mmse_loss(0.3, 0.5)) < 5 * e.standard_error
    True
    """
    p = _scalar(FEATURE_PROBABILITY, p)
    noise = _scalar(NOISE, noise)
    samples = SAMPLES.validate(samples)
    from ..numeric.mmse import mmse_mc

    return mmse_mc(p, noise, samples=samples, seed=_seed(seed), stratify=bool(stratify))


def mmse_loss(
    p: Any, noise: Any, method: str = "quadrature", precision: int = 50, samples: int = 1_000_000,
    seed: int = 0,
) -> float:
    """MMSE(p, noise) = E[(x - E[x | x + noise Z])^2] by ``method`` (module docstring).

    ``precision`` (digits, mpmath) and ``samples``/``seed`` (monte_carlo) are validated always,
    used where they apply. Raises ParameterError naming the parameter and its range.

    >>> mmse_loss(0.1, 0.0)
    0.0
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ParameterError(f"method = {method!r} is unknown; valid: {', '.join(METHODS)}")
    p = _scalar(FEATURE_PROBABILITY, p)
    noise = _scalar(NOISE, noise)
    precision = PRECISION.validate(precision)
    samples = SAMPLES.validate(samples)
    seed = _seed(seed)
    if noise == 0.0:
        return 0.0
    if method == "quadrature":
        from ..numeric.mmse import mmse_quadrature

        return mmse_quadrature(p, noise)
    if method == "mpmath":
        from ..numeric.mmse_mp import mmse_mp

        return float(mmse_mp(p, noise, precision=precision))
    return mmse_loss_mc(p, noise, samples=samples, seed=seed).loss


def optimum(p: float, r: float) -> FamilyOptimum:
    """The MMSE bound at (p, r): loss = MMSE(p, kappa(p, r)), as a ``FamilyOptimum``.

    ``parameters``: noise = kappa, and the linear layer it sits on, a = 1, bias = 0, sigma = kappa
    (the posterior mean undoes any a > 0 and beta, so these are one representative).
    """
    p = _scalar(FEATURE_PROBABILITY, p)
    r = _scalar(RATIO, r)
    k = float(kappa(p, r))
    loss = mmse_loss(p, k) if k > 0.0 else 0.0
    if not math.isfinite(loss):
        raise ArithmeticError(f"mmse: non-finite loss at p={p}, r={r}")
    return FamilyOptimum(
        family=NAME, p=p, r=r, loss=loss,
        parameters={"noise": k, "a": 1.0, "bias": 0.0, "sigma": k}, method="quadrature",
    )
