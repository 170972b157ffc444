"""Statistics of a weight matrix, per row and summarised (THEORY.md, "Statistics of a weight matrix").

For row i of W (with bias b and feature probability p):

* a_i = W_ii, S_i = sum_{j != i} W_ij^2 and R_i = sum_{j != i} W_ij (``weights.row_statistics``);
* the interference nu_i = sum_{j != i} W_ij x_j has mean mu_i = (p/2) R_i and variance
  sigma_i^2 = Var x S_i, Var x = p/3 - p^2/4; the effective bias is beta_i = b_i + mu_i;
* its skewness, exactly, from cumulants (they add over independent terms). The third cumulant
  of one coordinate is k3 = E x^3 - 3 E x E x^2 + 2 (E x)^3 = p/4 - p^2/2 + p^3/4 = (p/4)(1 - p)^2,
  so skew_i = k3 sum_{j != i} W_ij^3 / (Var x S_i)^{3/2};
* the Lyapunov ratio sum_{j != i} |W_ij|^3 / S_i^{3/2} (small means no W_ij dominates the row,
  the condition under which nu_i tends to a Gaussian; it is at least 1/sqrt(n - 1));
* the Kolmogorov-Smirnov distance sup_t |P(nu_i <= t) - Phi((t - mu_i)/sigma_i)| of nu_i to its
  Gaussian N(mu_i, sigma_i^2), estimated from ``ks_samples`` fresh draws of x (the same draws for
  every row, seeded). An exactly Gaussian nu_i would still show E[D_N] ~ sqrt(pi/2) ln 2 / sqrt(N)
  = 0.8687/sqrt(N) (the mean of the Kolmogorov distribution): ``ks_noise_floor``. Distances near
  the floor are indistinguishable from 0. The default N = 2000 gives a floor of 0.019.

A row with S_i = 0 has nu_i = 0 exactly, equal to its (degenerate) Gaussian: its skewness, KS
distance and Lyapunov ratio are reported as 0.

A feature is **dropped** when |a_i| < DROPPED_DIAG (0.1), and **dedicated** when |a_i - 1| <
DEDICATED_DIAG (0.1) and S_i < DEDICATED_POWER (0.01, an interference std below 0.1 sqrt(Var x)).

Everything is vectorised over rows, in blocks of rows that bound memory; n = 4096 takes a few
seconds (mostly the KS sample, N n^2 multiply-adds, or N p n^2 when p <= 0.02).

>>> import numpy as np
>>> stats = weight_statistics(np.eye(4), np.zeros(4), 0.1, r=1.0)
>>> stats.diag_mean, stats.offdiag_power_mean, stats.dedicated_fraction, stats.dropped_fraction
(1.0, 0.0, 1.0, 0.0)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..parameters import check_seed
from ..weights.statistics import row_statistics
from ._sampling import draw_batch
from ._validate import check_bias_vector, check_probability, check_ratio, check_samples, check_weights

__all__ = [
    "DEDICATED_DIAG",
    "DEDICATED_POWER",
    "DEFAULT_KS_SAMPLES",
    "DROPPED_DIAG",
    "KS_FLOOR_CONSTANT",
    "RowMeasures",
    "WeightStatistics",
    "row_measures",
    "summarise",
    "third_cumulant",
    "weight_statistics",
]

DROPPED_DIAG = 0.1
DEDICATED_DIAG = 0.1
DEDICATED_POWER = 0.01
DEFAULT_KS_SAMPLES = 2000
KS_FLOOR_CONSTANT = math.sqrt(math.pi / 2.0) * math.log(2.0)  # E sup|B(t)| of the Brownian bridge: 0.8687
_BLOCK_ELEMENTS = 1 << 22  # rows x columns per block of work (32 MiB of float64)


def third_cumulant(p: float) -> float:
    """k3 of one coordinate x: p/4 - p^2/2 + p^3/4 = (p/4)(1 - p)^2 (THEORY.md, "Data" moments).

    >>> third_cumulant(0.5)
    0.03125
    """
    return 0.25 * p * (1.0 - p) ** 2


def _variance(p: float) -> float:
    return p * (4.0 - 3.0 * p) / 12.0  # p/3 - p^2/4 without cancellation


def ks_seed_sequence(seed: int) -> np.random.SeedSequence:
    """The stream of the KS sample: child 1 of SeedSequence(seed) (child 0 is the loss sample)."""
    return np.random.SeedSequence(seed).spawn(2)[1]


@dataclass(frozen=True, eq=False)
class RowMeasures:
    """Per-row statistics of W (read-only arrays of length n); see the module docstring."""

    diag: np.ndarray
    offdiag_power: np.ndarray
    b: np.ndarray
    mu: np.ndarray
    bias: np.ndarray
    sigma: np.ndarray
    skewness: np.ndarray
    lyapunov: np.ndarray
    ks: np.ndarray
    p: float
    ks_samples: int
    seed: int

    @property
    def n(self) -> int:
        """The number of rows (features) n."""
        return int(self.diag.size)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers, for JSON."""
        return {
            key: value.tolist() if isinstance(value, np.ndarray) else value
            for key, value in self.__dict__.items()
        }


@dataclass(frozen=True)
class WeightStatistics:
    """Summary of a weight matrix (means and stds over rows; ``*_max`` over rows). JSON-ready, flat.

    ``offdiag_power_over_diag_square`` is mean S / mean a^2 (a ratio of means, so a dropped row
    with a_i = 0 does not make it infinite); ``rank_bound`` is (1 - r)/r and ``rank_bound_ratio``
    their quotient, at least 1 for rank W <= r n with a constant diagonal (None when r is not
    given, r = 1 or a = 0). ``bias_*`` is the effective bias beta = b + mu, ``b_*`` the raw bias.
    ``skewness_max_abs`` is max_i |skew_i|.
    """

    n: int
    p: float
    r: float | None
    diag_mean: float
    diag_std: float
    offdiag_power_mean: float
    offdiag_power_std: float
    offdiag_power_over_diag_square: float | None
    rank_bound: float | None
    rank_bound_ratio: float | None
    b_mean: float
    b_std: float
    mu_mean: float
    mu_std: float
    bias_mean: float
    bias_std: float
    sigma_mean: float
    sigma_std: float
    skewness_mean: float
    skewness_max_abs: float
    lyapunov_mean: float
    lyapunov_max: float
    ks_mean: float
    ks_max: float
    ks_samples: int
    ks_noise_floor: float
    dropped_fraction: float
    dedicated_fraction: float

    def to_dict(self) -> dict[str, Any]:
        """The fields as a flat dict of numbers (None where undefined), JSON-ready."""
        return asdict(self)


def _row_blocks(n: int, width: int):
    step = max(1, _BLOCK_ELEMENTS // max(width, 1))
    for start in range(0, n, step):
        yield np.arange(start, min(n, start + step))


def _cube_sums(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sum_{j != i} W_ij^3 and sum_{j != i} |W_ij|^3 per row."""
    n = W.shape[0]
    signed, absolute = np.empty(n), np.empty(n)
    for rows in _row_blocks(n, n):
        block = W[rows].copy()
        block[np.arange(len(rows)), rows] = 0.0
        cube = block * block * block
        signed[rows] = cube.sum(axis=1)
        absolute[rows] = np.abs(cube).sum(axis=1)
    return signed, absolute


def _ks_distances(W: np.ndarray, mu: np.ndarray, sigma: np.ndarray, p: float, samples: int, seed: int):
    """Per-row KS distance of a sample of nu_i (``samples`` draws of x, shared by all rows) to N(mu_i, sigma_i^2)."""
    from scipy.special import ndtr

    n = W.shape[0]
    batch = draw_batch(np.random.default_rng(ks_seed_sequence(seed)), samples, n, p)
    upper = np.arange(1, samples + 1)[:, None] / samples
    lower = np.arange(0, samples)[:, None] / samples
    distance = np.zeros(n)
    for rows in _row_blocks(n, max(n, samples)):
        live = rows[sigma[rows] > 0.0]
        if live.size == 0:
            continue
        nu = batch.times(W[live].T) - batch.columns(live) * W[live, live]
        nu.sort(axis=0)
        cdf = ndtr((nu - mu[live]) / sigma[live])
        distance[live] = np.maximum((upper - cdf).max(axis=0), (cdf - lower).max(axis=0))
    return distance


def _readonly(*arrays: np.ndarray) -> None:
    for array in arrays:
        array.setflags(write=False)


def row_measures(W: Any, b: Any, p: Any, ks_samples: int = DEFAULT_KS_SAMPLES, seed: int = 0) -> RowMeasures:
    """Per-row a_i, S_i, b_i, mu_i, beta_i, sigma_i, skewness, Lyapunov ratio and KS distance of W.

    THEORY.md, "Statistics of a weight matrix"; the module docstring defines each. Bad input
    raises ParameterError.

    >>> rows = row_measures([[1.0, 0.5], [0.5, 1.0]], [0.0, 0.0], 0.5, ks_samples=500)
    >>> rows.mu.tolist(), rows.lyapunov.tolist()  # mu = (p/2) * 0.5; one term: Lyapunov ratio 1
    ([0.125, 0.125], [1.0, 1.0])
    """
    matrix = check_weights(W)
    n = matrix.shape[0]
    b = check_bias_vector(b, n)
    p = check_probability(p)
    ks_samples = check_samples(ks_samples)
    seed = check_seed(seed)
    stats = row_statistics(matrix)
    power = np.asarray(stats.offdiag_power)
    mu = 0.5 * p * stats.row_sum
    sigma = np.sqrt(_variance(p) * power)
    signed, absolute = _cube_sums(matrix)
    live = power > 0.0
    safe = np.where(live, power, 1.0)
    skewness = np.where(live, third_cumulant(p) * signed / (_variance(p) * safe) ** 1.5, 0.0)
    lyapunov = np.where(live, absolute / safe**1.5, 0.0)
    ks = _ks_distances(matrix, mu, sigma, p, ks_samples, seed)
    arrays = (stats.diag.copy(), power.copy(), b.copy(), mu, b + mu, sigma, skewness, lyapunov, ks)
    _readonly(*arrays)
    return RowMeasures(*arrays, p=p, ks_samples=ks_samples, seed=seed)


def _mean_std(values: np.ndarray) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


def summarise(rows: RowMeasures, r: Any = None) -> WeightStatistics:
    """The WeightStatistics of per-row measures (``r``, if given, for the rank bound)."""
    r = None if r is None else check_ratio(r)
    mean_a2 = float(np.mean(rows.diag**2))
    mean_s = float(np.mean(rows.offdiag_power))
    ratio = mean_s / mean_a2 if mean_a2 > 0.0 else None
    bound = None if r is None else (1.0 - r) / r
    bound_ratio = ratio / bound if ratio is not None and bound else None
    dropped = np.abs(rows.diag) < DROPPED_DIAG
    dedicated = (np.abs(rows.diag - 1.0) < DEDICATED_DIAG) & (rows.offdiag_power < DEDICATED_POWER)
    return WeightStatistics(
        n=rows.n,
        p=rows.p,
        r=r,
        diag_mean=_mean_std(rows.diag)[0],
        diag_std=_mean_std(rows.diag)[1],
        offdiag_power_mean=mean_s,
        offdiag_power_std=float(np.std(rows.offdiag_power)),
        offdiag_power_over_diag_square=ratio,
        rank_bound=bound,
        rank_bound_ratio=bound_ratio,
        b_mean=_mean_std(rows.b)[0],
        b_std=_mean_std(rows.b)[1],
        mu_mean=_mean_std(rows.mu)[0],
        mu_std=_mean_std(rows.mu)[1],
        bias_mean=_mean_std(rows.bias)[0],
        bias_std=_mean_std(rows.bias)[1],
        sigma_mean=_mean_std(rows.sigma)[0],
        sigma_std=_mean_std(rows.sigma)[1],
        skewness_mean=float(np.mean(rows.skewness)),
        skewness_max_abs=float(np.max(np.abs(rows.skewness))),
        lyapunov_mean=float(np.mean(rows.lyapunov)),
        lyapunov_max=float(np.max(rows.lyapunov)),
        ks_mean=float(np.mean(rows.ks)),
        ks_max=float(np.max(rows.ks)),
        ks_samples=rows.ks_samples,
        ks_noise_floor=KS_FLOOR_CONSTANT / math.sqrt(rows.ks_samples),
        dropped_fraction=float(np.mean(dropped)),
        dedicated_fraction=float(np.mean(dedicated)),
    )


def weight_statistics(
    W: Any, b: Any, p: Any, r: Any = None, ks_samples: int = DEFAULT_KS_SAMPLES, seed: int = 0
) -> WeightStatistics:
    """Summary statistics of a weight matrix W with bias b at feature probability p.

    THEORY.md, "Statistics of a weight matrix" (and "Rank bound" when ``r`` is given); the module
    docstring defines each statistic, the KS sample and the dropped/dedicated thresholds. Bad
    input (W not square or not finite, b not of shape (n,), p not in (0, 1), r not in (0, 1])
    raises ParameterError.

    >>> from rugtheory.weights import rug_matrix
    >>> stats = weight_statistics(rug_matrix(16, 0.25, seed=0), [0.0] * 16, 0.05, r=0.25)
    >>> stats.offdiag_power_mean, round(stats.rank_bound_ratio, 12)
    (3.0, 1.0)
    """
    rows = row_measures(W, b, p, ks_samples=ks_samples, seed=seed)
    if r is not None:
        check_ratio(r)
    return summarise(rows, r)
