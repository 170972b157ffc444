"""The loss decomposition (rugtheory.measure.decompose): exact vs measured, the two gaps, the CLI columns.

Independent values: the exact losses of W = 0 (p/3) and of antipodal pairs (p^2/6) are THEORY.md's
checks typed in by hand; the Gaussian side is ``meanfield_loss`` of the hand-computed row statistics;
the agreement with Monte Carlo is judged in standard errors.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rugtheory import meanfield_loss, solve
from rugtheory.measure import decompose, default_exact_rows, measure_model
from rugtheory.weights import rug_model


def _antipodal(n: int) -> np.ndarray:
    W = np.eye(n)
    for i in range(0, n, 2):
        W[i, i + 1] = W[i + 1, i] = -1.0
    return W


@pytest.mark.parametrize("p", [0.02, 0.3])
def test_zero_model_has_no_non_gaussian_gap(p):
    result = measure_model(np.zeros((6, 6)), np.zeros(6), p, 0.5, samples=20_000, exact_rows=None)
    parts = result.decomposition
    assert parts.exact_rows == 6
    assert parts.loss_exact == pytest.approx(p / 3, rel=1e-12)
    assert abs(parts.non_gaussian_gap) < 1e-14
    assert parts.suboptimal_gap == pytest.approx(p / 3 - solve(p, 0.5).loss, rel=1e-9)


@pytest.mark.parametrize("p", [0.01, 0.1])
def test_antipodal_pairs_gap_is_exact_minus_their_gaussian_loss(p):
    """Row stats a = 1, S = 1, b = 0, mu = -p/2: the Gaussian predicts l(1, sigma, -p/2), not p^2/6."""
    n = 8
    result = measure_model(_antipodal(n), np.zeros(n), p, 0.5, samples=200_000, exact_rows=n)
    parts = result.decomposition
    sigma = math.sqrt(p / 3 - p * p / 4)
    gaussian = float(meanfield_loss(p, 1.0, sigma, -p / 2))
    assert abs(parts.loss_exact - p * p / 6) <= parts.loss_exact_bound + 1e-12 * p * p  # within its stated bound
    assert parts.loss_meanfield_own_stats == pytest.approx(gaussian, rel=1e-9)
    assert abs(parts.non_gaussian_gap - (p * p / 6 - gaussian)) <= parts.loss_exact_bound + 1e-12 * p
    assert parts.non_gaussian_gap < 0  # the Gaussian over-predicts: pairs interfere only when both fire
    assert parts.non_gaussian_sign == "-"
    assert abs(parts.agreement_z) < 3


def test_exact_agrees_with_monte_carlo_on_a_rug_and_a_random_matrix():
    p = 0.05
    rug = rug_model(64, 0.25, p, seed=3)
    rng = np.random.default_rng(7)
    W = np.eye(48) + rng.normal(0, 0.15, (48, 48))
    for matrix, bias in ((rug.W, rug.b), (W, np.full(48, -0.1))):
        parts = measure_model(matrix, bias, p, 0.25, samples=400_000, seed=1, exact_rows=None).decomposition
        assert abs(parts.agreement_z) < 3, parts


def test_row_subsample_reports_a_standard_error_and_covers_the_full_value():
    p = 0.05
    rug = rug_model(64, 0.5, p, seed=1)
    measured = measure_model(rug.W, rug.b, p, 0.5, samples=50_000)
    full = decompose(measured, rug.W, rug.b, p, rows=None)
    part = decompose(measured, rug.W, rug.b, p, rows=16, seed=2)
    assert full.exact_rows == 64 and full.loss_exact_se == 0.0
    assert part.exact_rows == 16 and part.loss_exact_se > 0.0
    assert abs(part.loss_exact - full.loss_exact) < 4 * part.loss_exact_se + full.loss_exact_bound


def test_default_rows():
    assert default_exact_rows(512) == 512
    assert default_exact_rows(4096) == 256


def test_measure_model_skips_the_exact_loss_by_default():
    record = measure_model(np.zeros((4, 4)), np.zeros(4), 0.2, 0.5, samples=1000).to_dict()
    assert "loss_exact" not in record and "decomposition" not in record


def test_train_cli_reports_the_decomposition(capsys):
    pytest.importorskip("torch")
    from rugtheory.cli.main import main

    code = main(["train", "--n", "16", "--p", "0.1", "--r", "0.5", "--steps", "50", "--no-progress",
                 "--device", "cpu", "--samples", "100000", "--json"])
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    parts = record["decomposition"]
    assert record["loss_exact"] == parts["loss_exact"]
    assert abs(parts["agreement_z"]) < 3
    assert parts["non_gaussian_gap"] == pytest.approx(record["loss_exact"] - record["loss_meanfield_own_stats"])


def test_train_cli_rejects_exact_rows_beyond_n(capsys):
    pytest.importorskip("torch")
    from rugtheory.cli.main import main

    code = main(["train", "--n", "16", "--p", "0.1", "--r", "0.5", "--steps", "2", "--no-progress",
                 "--device", "cpu", "--exact-rows", "17"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--exact-rows" in err[0] and "[1, n = 16]" in err[0]
