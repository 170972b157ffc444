"""The mean-field landscape: one strict local minimum in beta at each a (README, "Local minima").

Slow (run with ``python -m pytest -m slow``): for each (p, r) it scans 60 values of a and, at
each, 20,000 values of beta covering the dead plateau, the thresholded and the linear regimes,
and counts the strict local minima below the plateau value p/3.
"""

from __future__ import annotations

import numpy as np
import pytest

from rugtheory.numeric.closed_form import loss
from rugtheory.numeric.solver import kappa
from rugtheory.optimum import solve


@pytest.mark.slow
@pytest.mark.parametrize("p", [0.99, 0.9, 0.7, 0.5, 0.3, 0.1, 0.03, 0.01])
@pytest.mark.parametrize("r", [1e-4, 1e-3, 0.01, 0.03, 0.1, 0.3])
def test_one_minimum_in_beta_at_each_a_and_the_profile_minimum_is_the_solve(p, r):
    k = float(kappa(p, r))
    best = np.inf
    for a in np.geomspace(1e-4, 3.0, 60):
        sigma = k * a
        beta = np.linspace(-15 * sigma - 0.05, p / 2 + 15 * sigma + 0.05, 20_000)
        values = loss(p, a, sigma, beta)
        inner = values[1:-1]
        strict = (inner < values[:-2]) & (inner <= values[2:]) & (inner < p / 3 * (1 - 1e-9))
        assert strict.sum() <= 1, f"several minima in beta at a = {a:.4g}"
        best = min(best, values.min())
    assert solve(p, r).loss <= best * (1 + 1e-12)
