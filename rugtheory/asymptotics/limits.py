"""The other limits of L*(p, r): r -> 1, r -> 0 and the dense end p -> 1 (derivations/07).

- r -> 1 at fixed p (kappa -> 0, t0 fixed): L* = kappa^2 Lambda(p) (1 + O(kappa)), kappa ~ sqrt(1 - r), with
  Lambda(p) = (1-p) J_2(t0) + p (1 + t0^2/4) and t0 from (1-p) J_1(t0) = p t0/4
  (the same expansion as p -> 0, ``high_sparsity``); the gain L_lin/L* tends to 1/Lambda(p).
- Linear branch (r -> 0 at fixed p, and the dense end): the optimum is the optimal linear model
  a = r, beta = (1-r) p/2, whose ReLU clips the rare negative outputs. By the envelope theorem
  L* = L_lin - Delta (1 + o(1)) with Delta = L_lin - l(r, kappa r, (1-r) p/2) in closed form;
  as r -> 0, Delta ~ (8 sigma^3 / ((1-r)^2 p)) phi(beta/sigma) I(p/(2 Var x)),
  sigma^2 = Var x (1-r) r, I(c) = (1 - e^{-c}(1 + c))/c^2: exponentially small in p/r.
- Superposition, meaning a negative effective bias that filters interference, exists only on one
  side of the boundary beta*(p, r) = 0; ``superposition_boundary`` locates it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.special import expm1

from ..numeric.closed_form import loss as closed_form_loss
from ..numeric.solver import kappa, linear_loss, solve_arrays, variance
from ..parameters import FEATURE_PROBABILITY, RATIO

__all__ = [
    "clipped_linear_gap",
    "full_rank_coefficient",
    "small_ratio_gap",
    "superposition_boundary",
]


def full_rank_coefficient(p: float) -> float:
    """Lambda(p) = p f_2(t0): L* ~ kappa^2 Lambda(p) as r -> 1 (derivations/07, eq. 7.1)."""
    from ..numeric.tails import gaussian_tails
    from .high_sparsity import _lambdified, threshold

    p = FEATURE_PROBABILITY.validate(p)
    t0 = float(threshold(p))
    tails = [float(x[0]) for x in gaussian_tails(np.array([t0]), 3)[1:]]
    return float(p * _lambdified("numpy")["f2"](p, 0.0, t0, *tails))


def clipped_linear_gap(p: float, r: float) -> float:
    """Delta = L_lin - l(r, kappa r, (1-r) p/2): what the ReLU's clipping saves on the linear model."""
    p = FEATURE_PROBABILITY.validate(p)
    r = RATIO.validate(r)
    k = float(kappa(p, r))
    clipped = float(closed_form_loss(p, r, k * r, (1.0 - r) * p / 2.0))
    return float(linear_loss(p, r)) - clipped


def small_ratio_gap(p: float, r: float) -> float:
    """The explicit r -> 0 form of Delta: (8 sigma^3/((1-r)^2 p)) phi(beta/sigma) I(p/(2 Var x))."""
    p = FEATURE_PROBABILITY.validate(p)
    r = RATIO.validate(r)
    var = float(variance(p))
    sigma = math.sqrt(var * (1.0 - r) * r)
    beta = (1.0 - r) * p / 2.0
    c = p / (2.0 * var)
    weight = (-expm1(-c) - c * math.exp(-c)) / (c * c)  # (1 - e^-c (1 + c))/c^2
    density = math.exp(-0.5 * (beta / sigma) ** 2) / math.sqrt(2.0 * math.pi)
    return 8.0 * sigma**3 / ((1.0 - r) ** 2 * p) * density * weight


def _bias(p: float, r: float) -> float:
    return float(solve_arrays(np.array([p]), np.array([r]))["bias"][0])


def superposition_boundary(r: float, tol: float = 1e-10) -> float:
    """p_c(r): the feature probability where the optimal effective bias changes sign.

    For p < p_c the optimum filters (beta* < 0, superposition); above it beta* > 0 and the ReLU
    only clips the linear model. Found by Brent's method in log10 p on ``solve``'s bias.
    """
    r = RATIO.validate(r)
    if r == 1.0:
        return 1.0
    lo, hi = -12.0, math.log10(1.0 - 1e-9)
    if _bias(10**hi, r) < 0:  # filtering all the way to the dense end
        return 1.0
    return 10 ** brentq(lambda x: _bias(10**x, r), lo, hi, xtol=tol)
