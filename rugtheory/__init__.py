"""rugtheory: the analytic theory of toy models of superposition (the Persian rug).

The public API is thin; conventions are those of THEORY.md (p = feature probability,
r = ratio m/n, ``bias`` = effective bias beta, ``sigma`` = interference std, ``loss`` =
per-feature loss). The core (symbolic and numeric) imports without torch.

>>> import rugtheory
>>> model = rugtheory.solve(0.01, 0.25)
>>> model.loss < model.loss_linear
True
"""

from __future__ import annotations

from .errors import ParameterError
from .numeric.exact import ExactLoss, exact_loss
from .numeric.loss import METHODS, LossEstimate, estimate_loss, meanfield_loss
from .numeric.solver import OptimalGrid, OptimalModel, kappa, linear_loss
from .optimum import solve, solve_grid
from .parameters import BIAS, DIAG, FEATURE_PROBABILITY, N_FEATURES, PARAMETERS, RATIO, SIGMA

__all__ = [
    "BIAS",
    "DIAG",
    "FEATURE_PROBABILITY",
    "METHODS",
    "N_FEATURES",
    "PARAMETERS",
    "RATIO",
    "SIGMA",
    "ExactLoss",
    "LossEstimate",
    "OptimalGrid",
    "OptimalModel",
    "ParameterError",
    "estimate_loss",
    "exact_loss",
    "kappa",
    "linear_loss",
    "meanfield_loss",
    "solve",
    "solve_grid",
]

__version__ = "0.1.0"
