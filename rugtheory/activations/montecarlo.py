"""Generic stratified Monte Carlo for any elementwise activation f (issue 3).

THEORY.md, "Mean-field (large n) limit", with the ReLU replaced by f:

    l_f = (1 - p) E[f(beta + sigma Z)^2] + p E[(f(a u + beta + sigma Z) - u)^2],

Z ~ N(0, 1), u ~ U(0, 1). As in ``rugtheory.numeric.montecarlo`` the two strata are sampled
separately and combined with exact weights; the standard error is
sqrt((1 - p)^2 var_off / n_off + p^2 var_on / n_on).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..numeric.montecarlo import MonteCarloEstimate, _chunks, _Moments

__all__ = ["family_loss_mc"]


def family_loss_mc(
    activation: Callable[[np.ndarray], np.ndarray],
    p: float,
    a: float,
    sigma: float,
    beta: float,
    samples: int = 1_000_000,
    seed: int = 0,
) -> MonteCarloEstimate:
    """Stratified Monte Carlo estimate of l_f(a, sigma, beta; p); deterministic for a seed.

    >>> relu = lambda z: np.maximum(z, 0.0)
    >>> estimate = family_loss_mc(relu, 0.5, 0.0, 0.0, 0.0, samples=10_000)  # p/3
    >>> abs(estimate.loss - 0.5 / 3) < 4 * estimate.standard_error
    True
    """
    p, a, sigma, beta = (float(v) for v in (p, a, sigma, beta))
    rng = np.random.default_rng(seed)
    n_off = samples // 2
    n_on = samples - n_off
    off, on = _Moments(), _Moments()
    for n in _chunks(n_off):
        off.add(activation(beta + sigma * rng.standard_normal(n)) ** 2)
    for n in _chunks(n_on):
        u = rng.random(n)
        off_by = activation(a * u + beta + sigma * rng.standard_normal(n)) - u
        on.add(off_by * off_by)
    loss = (1.0 - p) * off.mean + p * on.mean
    error = math.sqrt(
        (1.0 - p) ** 2 * off.variance / max(off.count, 1) + p**2 * on.variance / max(on.count, 1)
    )
    return MonteCarloEstimate(loss=float(loss), standard_error=float(error), samples=int(samples))
