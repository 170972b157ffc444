"""The decomposition of a model's loss into non-Gaussian interference and suboptimal statistics (issue 5).

For weights (W, b) at feature probability p and ratio r, four losses telescope:

    exact(W, b) = L*(p, r) + [own - L*] + [exact - own]

* ``exact`` is the exact finite-n loss (``rugtheory.numeric.exact``), which the Monte Carlo
  ``measured`` value must agree with (``agreement_z`` is their difference in standard errors);
* ``own`` is the mean-field loss of the model's own row statistics (a_i, sigma_i, beta_i);
  ``exact - own`` is what the Gaussian approximation of the interference misses: the effect of
  non-Gaussian interference, driven by its skewness (``skewness_mean``: sum_j W_ij^3 makes a
  positive or negative tail that the ReLU sees);
* ``own - L*`` is what suboptimal statistics cost (or gain, when it is negative: statistics that
  break the rank bound's constant-diagonal assumption, dropped or dedicated features, unequal
  diagonals, the wrong bias) within the mean-field description.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["EXACT_ALL_ROWS", "EXACT_SAMPLE_ROWS", "LossDecomposition", "decompose", "default_exact_rows"]

EXACT_ALL_ROWS = 1024   # up to this n the exact loss takes every row
EXACT_SAMPLE_ROWS = 256  # above it, this many rows at random (a standard error over rows is reported)


def _ratio(value: float, reference: float) -> float | None:
    return value / reference if reference > 0.0 else None


@dataclass(frozen=True)
class LossDecomposition:
    """The four losses of a model and the two gaps between them (module docstring).

    ``agreement_z`` = (exact - measured) / sqrt(se_measured^2 + se_exact^2 + bound^2) (None when
    all three are 0 and the two differ). ``loss_exact_se`` is the standard error from sampling rows (0 with every row);
    ``loss_exact_bound`` the exact computation's own error bound. ``non_gaussian_gap`` =
    exact - own and ``suboptimal_gap`` = own - L*, each also relative: ``non_gaussian_relative`` =
    (exact - own) / exact, ``suboptimal_relative`` = (own - L*) / L*.
    """

    loss_measured: float
    loss_measured_se: float
    loss_exact: float
    loss_exact_se: float
    loss_exact_bound: float
    exact_rows: int
    loss_meanfield_own_stats: float
    loss_meanfield_optimum: float
    agreement_z: float | None
    non_gaussian_gap: float
    non_gaussian_relative: float | None
    suboptimal_gap: float
    suboptimal_relative: float | None
    skewness_mean: float
    skewness_max_abs: float

    @property
    def non_gaussian_sign(self) -> str:
        """'+' when the Gaussian approximation under-predicts the exact loss, '-' when it over-predicts."""
        return "+" if self.non_gaussian_gap >= 0.0 else "-"

    def to_dict(self) -> dict[str, Any]:
        """The fields as a flat JSON-ready dict."""
        return asdict(self)


def default_exact_rows(n: int) -> int:
    """Rows of the exact loss by default: every row up to n = EXACT_ALL_ROWS, else EXACT_SAMPLE_ROWS at random."""
    return n if n <= EXACT_ALL_ROWS else EXACT_SAMPLE_ROWS


def decompose(measurement, W: Any, b: Any, p: float, rows: int | None = None, seed: int = 0) -> LossDecomposition:
    """The decomposition of a ``measure_model`` result, the exact loss over ``rows`` rows drawn at random.

    ``measurement`` is a ``ModelMeasurement`` of the same (W, b, p); only the exact loss is computed
    here. ``rows=None`` takes ``default_exact_rows(n)``. With a row sample the own-statistics loss is
    still over every row, so ``non_gaussian_gap`` carries the exact loss's row-sampling error
    (``loss_exact_se``) as well.
    """
    from ..numeric.exact import exact_loss

    n = measurement.stats.n
    rows = default_exact_rows(n) if rows is None else rows
    exact = exact_loss(W, b, p, rows=None if rows == n else rows, seed=seed)
    own = measurement.loss_meanfield_own_stats
    optimum = measurement.loss_meanfield_optimum
    spread = math.hypot(measurement.loss_measured_se, exact.standard_error, exact.error_bound)
    difference = exact.loss - measurement.loss_measured
    return LossDecomposition(
        loss_measured=measurement.loss_measured,
        loss_measured_se=measurement.loss_measured_se,
        loss_exact=exact.loss,
        loss_exact_se=exact.standard_error,
        loss_exact_bound=exact.error_bound,
        exact_rows=exact.rows,
        loss_meanfield_own_stats=own,
        loss_meanfield_optimum=optimum,
        agreement_z=difference / spread if spread > 0.0 else (0.0 if difference == 0.0 else None),
        non_gaussian_gap=exact.loss - own,
        non_gaussian_relative=_ratio(exact.loss - own, exact.loss),
        suboptimal_gap=own - optimum,
        suboptimal_relative=_ratio(own - optimum, optimum),
        skewness_mean=measurement.stats.skewness_mean,
        skewness_max_abs=measurement.stats.skewness_max_abs,
    )
