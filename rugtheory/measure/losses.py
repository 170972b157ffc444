"""Losses of a weight matrix: measured on fresh data, and predicted by the mean field.

* ``monte_carlo_loss``: L = (1/n) E||ReLU(W x + b) - x||^2 (THEORY.md, "Model and loss") on fresh
  samples of x (THEORY.md, "Data"), float64, in chunks, seeded. The unit of the estimate is one
  sample x: its per-feature mean squared error. The standard error is std/sqrt(N) of those N
  per-sample values, so it includes the correlation between the features of one sample.
* ``meanfield_loss_own_stats``: the mean over rows of l(a_i, sigma_i, beta_i; p) from the
  model's own row statistics (THEORY.md, "Mean-field (large n) limit").
* ``measure_model``: both, with the mean-field optimum L*(p, r) and the linear baseline.

The default sample count (``default_samples``) aims at about 2^20 active features in all,
N ~ 2^20 / (n p), which puts the relative standard error near 0.1-0.3% for the models we
measured. N is held within [10^4, max(10^4, min(10^6, 2^28 / n))], so that the cost, N p n^2
multiply-adds when p <= 0.02 and N n^2 above, stays at seconds to tens of seconds at n = 4096.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..numeric.montecarlo import MonteCarloEstimate, _Moments
from ..parameters import check_seed
from ._sampling import batches
from ._validate import check_bias_vector, check_probability, check_ratio, check_samples, check_weights
from .decomposition import LossDecomposition, decompose
from .statistics import DEFAULT_KS_SAMPLES, WeightStatistics, row_measures, summarise

__all__ = [
    "ModelMeasurement",
    "default_samples",
    "loss_seed_sequence",
    "meanfield_loss_own_stats",
    "measure_model",
    "monte_carlo_loss",
]

_ACTIVE_TARGET = 1 << 20
_MIN_SAMPLES = 10_000
_MAX_SAMPLES = 1_000_000
_MAX_ELEMENTS = 1 << 28


def default_samples(n: int, p: float) -> int:
    """The default Monte Carlo sample count for an n-feature model at feature probability p.

    >>> default_samples(1024, 0.01), default_samples(4096, 0.01), default_samples(16, 0.5)
    (102400, 25600, 131072)
    """
    wanted = math.ceil(_ACTIVE_TARGET / (n * p))
    ceiling = max(_MIN_SAMPLES, min(_MAX_SAMPLES, _MAX_ELEMENTS // n))
    return int(min(max(wanted, _MIN_SAMPLES), ceiling))


def loss_seed_sequence(seed: int) -> np.random.SeedSequence:
    """The stream of the loss sample: child 0 of SeedSequence(seed) (child 1 is the KS sample)."""
    return np.random.SeedSequence(seed).spawn(2)[0]


def _monte_carlo(matrix: np.ndarray, b: np.ndarray, p: float, samples: int, seed: int) -> MonteCarloEstimate:
    n = matrix.shape[0]
    matrix_t = np.ascontiguousarray(matrix.T)
    moments = _Moments()
    for batch in batches(np.random.default_rng(loss_seed_sequence(seed)), samples, n, p):
        error = batch.times(matrix_t)
        error += b
        np.maximum(error, 0.0, out=error)
        batch.subtract_from(error)
        moments.add(np.einsum("ij,ij->i", error, error) / n)
    return MonteCarloEstimate(
        loss=float(moments.mean),
        standard_error=float(math.sqrt(moments.variance / moments.count)),
        samples=int(moments.count),
    )


def monte_carlo_loss(W: Any, b: Any, p: Any, samples: int | None = None, seed: int = 0) -> MonteCarloEstimate:
    """L = (1/n) E||ReLU(W x + b) - x||^2 on ``samples`` fresh draws of x, with its standard error.

    ``samples=None`` uses ``default_samples(n, p)``. Deterministic for a given seed.

    >>> import numpy as np
    >>> estimate = monte_carlo_loss(np.zeros((8, 8)), np.zeros(8), 0.5, samples=20_000)
    >>> abs(estimate.loss - 0.5 / 3) < 4 * estimate.standard_error  # W = 0, b = 0: L = p/3
    True
    """
    matrix = check_weights(W)
    b = check_bias_vector(b, matrix.shape[0])
    p = check_probability(p)
    samples = default_samples(matrix.shape[0], p) if samples is None else check_samples(samples)
    return _monte_carlo(matrix, b, p, samples, check_seed(seed))


def _own_stats_loss(p: float, diag: np.ndarray, sigma: np.ndarray, bias: np.ndarray) -> float:
    from ..numeric.loss import meanfield_loss

    return float(np.mean(meanfield_loss(p, diag, sigma, bias)))


def meanfield_loss_own_stats(W: Any, b: Any, p: Any) -> float:
    """Mean over rows of the mean-field loss l(a_i, sigma_i, beta_i; p), sigma_i^2 = (p/3 - p^2/4) S_i.

    >>> import numpy as np
    >>> round(meanfield_loss_own_stats(np.zeros((4, 4)), np.zeros(4), 0.3), 15)  # p/3
    0.1
    """
    from ..weights.statistics import row_statistics

    matrix = check_weights(W)
    b = check_bias_vector(b, matrix.shape[0])
    p = check_probability(p)
    stats = row_statistics(matrix)
    sigma = np.sqrt(p * (4.0 - 3.0 * p) / 12.0 * stats.offdiag_power)
    return _own_stats_loss(p, stats.diag, sigma, b + 0.5 * p * stats.row_sum)


@dataclass(frozen=True)
class ModelMeasurement:
    """What ``measure_model`` reports: four losses (per feature) and the weight statistics.

    ``samples`` and ``seed`` record the Monte Carlo run; ``to_dict`` has the keys loss_measured,
    loss_measured_se, loss_meanfield_own_stats, loss_meanfield_optimum, loss_linear and stats (a
    flat dict, ``WeightStatistics.to_dict``), and, when the exact loss was computed
    (``decomposition``), loss_exact, loss_exact_se, loss_exact_bound and decomposition.
    """

    loss_measured: float
    loss_measured_se: float
    loss_meanfield_own_stats: float
    loss_meanfield_optimum: float
    loss_linear: float
    stats: WeightStatistics
    samples: int
    seed: int
    decomposition: LossDecomposition | None = None

    @property
    def gap(self) -> float | None:
        """(loss_measured - L*) / L*, the relative gap to the mean-field optimum (None when L* = 0)."""
        optimum = self.loss_meanfield_optimum
        return (self.loss_measured - optimum) / optimum if optimum > 0.0 else None

    @property
    def gap_se(self) -> float | None:
        """The standard error of ``gap`` (L* is exact; only the measurement is sampled)."""
        optimum = self.loss_meanfield_optimum
        return self.loss_measured_se / optimum if optimum > 0.0 else None

    def to_dict(self) -> dict[str, Any]:
        """The contract of issues 4 and 5: the losses, a flat ``stats`` object, the decomposition; JSON-ready."""
        record: dict[str, Any] = {
            "loss_measured": self.loss_measured,
            "loss_measured_se": self.loss_measured_se,
            "loss_meanfield_own_stats": self.loss_meanfield_own_stats,
            "loss_meanfield_optimum": self.loss_meanfield_optimum,
            "loss_linear": self.loss_linear,
        }
        if self.decomposition is not None:
            record.update(loss_exact=self.decomposition.loss_exact, loss_exact_se=self.decomposition.loss_exact_se,
                          loss_exact_bound=self.decomposition.loss_exact_bound)
        record["stats"] = self.stats.to_dict()
        if self.decomposition is not None:
            record["decomposition"] = self.decomposition.to_dict()
        return record


def measure_model(
    W: Any, b: Any, p: Any, r: Any, samples: int | None = None, seed: int = 0,
    ks_samples: int = DEFAULT_KS_SAMPLES, exact_rows: int | None = 0,
) -> ModelMeasurement:
    """Measure a model y = ReLU(W x + b) of rank ratio r at feature probability p.

    ``loss_measured`` is the Monte Carlo loss (``samples=None``: ``default_samples(n, p)``) with its
    standard error; ``loss_meanfield_own_stats`` the mean-field loss from the model's own row
    statistics; ``loss_meanfield_optimum`` L*(p, r) (``rugtheory.solve``); ``loss_linear`` the
    linear baseline (1 - r)(p/3 - p^2/4). The loss sample and the KS sample of the statistics
    are independent streams spawned from ``seed``. ``exact_rows`` > 0 (or None: every row up to
    n = 1024, else 256 at random) adds the exact loss and the decomposition (``decompose``); 0
    skips it. Bad input raises ParameterError.

    >>> import numpy as np
    >>> result = measure_model(np.zeros((4, 4)), np.zeros(4), 0.5, 0.5, samples=10_000)
    >>> sorted(result.to_dict())  # doctest: +NORMALIZE_WHITESPACE
    ['loss_linear', 'loss_meanfield_optimum', 'loss_meanfield_own_stats', 'loss_measured',
     'loss_measured_se', 'stats']
    """
    from ..numeric.solver import linear_loss
    from ..optimum import solve

    matrix = check_weights(W)
    n = matrix.shape[0]
    b = check_bias_vector(b, n)
    p = check_probability(p)
    r = check_ratio(r)
    samples = default_samples(n, p) if samples is None else check_samples(samples)
    seed = check_seed(seed)
    rows = row_measures(matrix, b, p, ks_samples=ks_samples, seed=seed)
    estimate = _monte_carlo(matrix, b, p, samples, seed)
    measurement = ModelMeasurement(
        loss_measured=estimate.loss,
        loss_measured_se=estimate.standard_error,
        loss_meanfield_own_stats=_own_stats_loss(p, rows.diag, rows.sigma, rows.bias),
        loss_meanfield_optimum=float(solve(p, r).loss),
        loss_linear=float(linear_loss(p, r)),
        stats=summarise(rows, r),
        samples=samples,
        seed=seed,
    )
    if exact_rows == 0:
        return measurement
    return replace(measurement, decomposition=decompose(measurement, matrix, b, p, rows=exact_rows, seed=seed))
