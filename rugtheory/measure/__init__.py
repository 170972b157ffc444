"""Measurement of a weight matrix: statistics and losses, weights in, numbers out (numpy only).

THEORY.md, "Statistics of a weight matrix", "Model and loss" and "Mean-field (large n) limit".
``weight_statistics`` summarises the rows of W (diagonal, off-diagonal power, biases, the
interference's skewness, Lyapunov ratio and KS distance to its Gaussian, dropped and dedicated
features); ``measure_model`` adds the Monte Carlo loss with its standard error, the mean-field
loss from the model's own statistics, L*(p, r) and the linear baseline, and on request the exact
loss with the decomposition of the gap into non-Gaussian interference and suboptimal statistics
(``decompose``). No torch.
"""

from __future__ import annotations

from .decomposition import LossDecomposition, decompose, default_exact_rows
from .losses import (
    ModelMeasurement,
    default_samples,
    meanfield_loss_own_stats,
    measure_model,
    monte_carlo_loss,
)
from .statistics import (
    DEDICATED_DIAG,
    DEDICATED_POWER,
    DEFAULT_KS_SAMPLES,
    DROPPED_DIAG,
    RowMeasures,
    WeightStatistics,
    row_measures,
    summarise,
    third_cumulant,
    weight_statistics,
)

__all__ = [
    "DEDICATED_DIAG",
    "DEDICATED_POWER",
    "DEFAULT_KS_SAMPLES",
    "DROPPED_DIAG",
    "LossDecomposition",
    "ModelMeasurement",
    "RowMeasures",
    "WeightStatistics",
    "decompose",
    "default_exact_rows",
    "default_samples",
    "meanfield_loss_own_stats",
    "measure_model",
    "monte_carlo_loss",
    "row_measures",
    "summarise",
    "third_cumulant",
    "weight_statistics",
]
