"""Is a better activation only a constant factor better? (derivations/10_constant_factor.md)

At high sparsity every elementwise activation on the rank-bound linear layer pays, per active
feature, the interference variance sigma^2 ~ kappa^2 (the MMSE bound, p kappa^2 to leading
order), plus a price for rejecting the inactive features. A thresholding activation that shifts
its output (ReLU, power) also pays a bias penalty c theta^2 on every active feature, theta the
threshold in input units, with c the residual of projecting the constant theta onto the refit
directions (``symbolic.asymptotics.bias_projection``): c = 1/4 for ReLU (refit a), 1/16 for
ReLU^alpha (refit a and alpha). Minimising J_2(t)/p + c t^2 over t = theta/kappa gives

    L*_f ~ p kappa^2 [(1-p) J_2(t_c)/p + 1 + c t_c^2],   (1-p) J_1(t_c) = c p t_c,

and t_c^2 ~ 2 ln(1/p), so L*_f / MMSE ~ c t_c^2 + 3/2 ~ 2c ln(1/p): it grows without bound.
JumpReLU thresholds without shifting (f(z) = z 1[z > theta]) and approaches the MMSE bound.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache

import numpy as np

from ..numeric.solver import kappa
from ..numeric.tails import gaussian_tails
from ..parameters import FEATURE_PROBABILITY, RATIO
from .high_sparsity import threshold

__all__ = ["ThresholdScaling", "bias_coefficients", "threshold_scaling"]

@cache
def bias_coefficients() -> dict[str, tuple[float, ...]]:
    """(c, eps/theta[, gamma/theta]) per family, derived in sympy (cached)."""
    import sympy as sp

    from ..symbolic.asymptotics import bias_projection
    from ..symbolic.data import u

    relu = bias_projection((u,))
    power = bias_projection((u, u * sp.log(u)))
    return {
        "relu": (float(relu.residual), *(float(c) for c in relu.coefficients)),
        "power": (float(power.residual), *(float(c) for c in power.coefficients)),
    }


@dataclass(frozen=True)
class ThresholdScaling:
    """Leading high-sparsity optimum of a shifting-threshold family (ReLU or ReLU^alpha).

    ``loss`` = p kappa^2 [(1-p) J_2(t)/p + 1 + c t^2]; ``mmse_leading`` = p kappa^2;
    ``ratio_to_mmse`` their ratio and ``ratio_leading`` = 2 c ln(1/p), its growth.
    ``parameters`` holds the explicit near-optimal parameters (a, bias, sigma[, alpha]).
    """

    family: str
    p: float
    r: float
    coefficient: float
    threshold: float
    loss: float
    mmse_leading: float
    ratio_to_mmse: float
    ratio_leading: float
    parameters: dict[str, float]

    def to_dict(self) -> dict:
        """A JSON-ready dict of the fields."""
        return asdict(self)


def threshold_scaling(family: str, p: float, r: float) -> ThresholdScaling:
    """The leading high-sparsity optimum of ``family`` ("relu" or "power") at (p, r)."""
    p = FEATURE_PROBABILITY.validate(p)
    r = RATIO.validate(r)
    coefficients = bias_coefficients()[family]
    c = coefficients[0]
    k = float(kappa(p, r))
    t = float(threshold(p, c))
    j2 = float(gaussian_tails(np.array([t]), 2)[3][0])
    f = (1.0 - p) * j2 / p + 1.0 + c * t * t
    theta = t * k
    a = 1.0 + coefficients[1] * theta
    parameters = {"a": a, "bias": -a * theta, "sigma": k * a}
    if family == "power":
        parameters["alpha"] = 1.0 + coefficients[2] * theta
    return ThresholdScaling(
        family=family, p=p, r=r, coefficient=c, threshold=t, loss=p * k * k * f,
        mmse_leading=p * k * k, ratio_to_mmse=f, ratio_leading=2.0 * c * np.log(1.0 / p),
        parameters=parameters,
    )
