"""The rank bound S >= a^2 (1 - r)/r and the Hadamard rug that attains it.

THEORY.md, "Rank bound"; derivations/05_rank_bound.md. Exact identities are checked to
rounding (1e-12); every random matrix comes from a listed seed, and every case runs.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import sympy as sp

from rugtheory.errors import ParameterError
from rugtheory.weights import (
    frobenius_trace_ratio,
    rank_bound_ratio,
    row_statistics,
    rug_matrix,
    rug_rows,
    sylvester_hadamard,
)

TIGHT = 1e-12
LOW_RANK_SIZES = [(4, 1), (8, 3), (16, 5), (33, 7), (64, 63), (100, 10)]
LOW_RANK_CASES = [(n, m, seed) for n, m in LOW_RANK_SIZES for seed in (0, 1, 2)]
RUG_CASES = [
    (2, 0.5), (4, 0.25), (4, 0.75), (16, 0.5), (32, 0.125), (64, 0.3), (128, 0.9), (256, 1 / 16), (8, 1.0),
]


def _orthonormal(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((n, m)))
    return q


# --- the trace inequality ||W||_F^2 >= (tr W)^2 / m for rank W <= m -------------------------


@pytest.mark.parametrize(("n", "m", "seed"), LOW_RANK_CASES)
def test_gaussian_low_rank_products_satisfy_trace_bound(n: int, m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n, m)) @ rng.standard_normal((m, n))  # W_out W_in
    assert np.linalg.matrix_rank(W) <= m
    frobenius = float(np.sum(W**2))
    assert frobenius >= np.trace(W) ** 2 / m * (1 - TIGHT)
    assert frobenius_trace_ratio(W, m) >= 1 - TIGHT


@pytest.mark.parametrize(("n", "m", "seed"), LOW_RANK_CASES)
def test_scaled_projections_attain_trace_bound(n: int, m: int, seed: int) -> None:
    """c U U^T is tight although its diagonal is not constant; c U D U^T is not unless D = I."""
    rng = np.random.default_rng(seed)
    U = _orthonormal(n, m, rng)
    projection = 2.5 * U @ U.T
    assert frobenius_trace_ratio(projection, m) == pytest.approx(1.0, abs=TIGHT)
    weights = rng.uniform(0.5, 2.0, m)
    weighted = U @ np.diag(weights) @ U.T
    expected = m * np.sum(weights**2) / np.sum(weights) ** 2  # Cauchy-Schwarz on the weights
    assert frobenius_trace_ratio(weighted, m) == pytest.approx(expected, rel=1e-12)
    if m > 1:
        assert expected > 1 + 1e-3


@pytest.mark.parametrize("n", [4, 10, 64])
def test_trace_bound_fails_when_rank_exceeds_m(n: int) -> None:
    """Negative control: the identity has rank n, so claiming rank n/2 breaks the bound."""
    assert frobenius_trace_ratio(np.eye(n), n // 2) == pytest.approx(0.5)
    assert frobenius_trace_ratio(np.eye(n), n) == pytest.approx(1.0)


# --- S >= a^2 (1 - r)/r for constant diagonal ---------------------------------------------


@pytest.mark.parametrize(("n", "m", "seed"), [(8, 2, 0), (16, 5, 1), (64, 16, 2), (64, 40, 3), (128, 1, 4)])
def test_constant_diagonal_hadamard_family(n: int, m: int, seed: int) -> None:
    """W = P D H_S^T L H_S D P^T has constant diagonal sum(L) and rank m; ratio = m sum L^2 / (sum L)^2."""
    rng = np.random.default_rng(seed)
    H = sylvester_hadamard(n)[rng.choice(n, m, replace=False)]
    lam = rng.uniform(0.2, 1.0, m)
    signs = rng.choice([-1.0, 1.0], n)
    perm = rng.permutation(n)
    W = (signs[:, None] * (H.T @ np.diag(lam) @ H) * signs[None, :])[np.ix_(perm, perm)]
    stats = row_statistics(W)
    np.testing.assert_allclose(stats.diag, lam.sum(), rtol=1e-13)
    assert np.linalg.matrix_rank(W) == m
    r = m / n
    a = lam.sum()
    assert stats.mean_offdiag_power >= a**2 * (1 - r) / r * (1 - TIGHT)
    expected = (n * m * np.sum(lam**2) / a**2 - m) / (n - m)  # from ||W||_F^2 = n^2 sum L^2
    assert rank_bound_ratio(W, m) == pytest.approx(expected, rel=1e-12)
    if m > 1:
        assert rank_bound_ratio(W, m) > 1 + 1e-3


@pytest.mark.parametrize(("n", "pairs", "seed"), [(9, 1, 0), (16, 3, 1), (50, 7, 2), (101, 20, 3)])
def test_constant_diagonal_circulant_family(n: int, pairs: int, seed: int) -> None:
    """A real circulant with eigenvalues on m = 1 + 2 pairs frequencies: diagonal mean(eigenvalues)."""
    rng = np.random.default_rng(seed)
    freqs = rng.choice(np.arange(1, (n + 1) // 2), pairs, replace=False)
    eig = np.zeros(n)
    eig[0] = rng.uniform(1.0, 2.0)
    values = rng.uniform(-1.0, 2.0, pairs)
    eig[freqs] = values
    eig[n - freqs] = values
    W = scipy.linalg.circulant(np.fft.ifft(eig).real)
    m = 1 + 2 * pairs
    assert np.linalg.matrix_rank(W) == m
    stats = row_statistics(W)
    np.testing.assert_allclose(stats.diag, eig.mean(), rtol=1e-12)
    r = m / n
    assert np.all(stats.offdiag_power >= stats.diag**2 * (1 - r) / r * (1 - TIGHT))
    assert rank_bound_ratio(W, m) >= 1 - TIGHT


def test_ratio_can_fall_below_one_without_constant_diagonal() -> None:
    """diag(1, 0, ..., 0) has rank 1 and S = 0: the mean-ratio form needs a constant diagonal."""
    W = np.zeros((8, 8))
    W[0, 0] = 1.0
    assert rank_bound_ratio(W, 1) == 0.0
    assert frobenius_trace_ratio(W, 1) == pytest.approx(1.0)


# --- the Hadamard construction ------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 4, 8, 32, 256])
def test_sylvester_hadamard(n: int) -> None:
    H = sylvester_hadamard(n)
    np.testing.assert_array_equal(H, scipy.linalg.hadamard(n))
    np.testing.assert_array_equal(H @ H.T, n * np.eye(n))
    if n > 2:
        half = sylvester_hadamard(n // 2)
        np.testing.assert_array_equal(H, np.block([[half, half], [half, -half]]))


@pytest.mark.parametrize("bad", [0, 1, 3, 6, 12, -4, 2.0, True, "8"])
def test_sylvester_rejects_bad_orders(bad: object) -> None:
    with pytest.raises(ParameterError, match=r"n_features \(n\).*power of two >= 2") as info:
        sylvester_hadamard(bad)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("n", "ratio"), RUG_CASES)
@pytest.mark.parametrize("seed", [0, 7])
def test_rug_is_a_tight_scaled_projection(n: int, ratio: float, seed: int) -> None:
    W = rug_matrix(n, ratio, seed)
    rows = rug_rows(n, ratio, seed)
    m = round(ratio * n)
    assert len(rows) == len(set(rows.tolist())) == m
    assert np.linalg.matrix_rank(W) == m
    np.testing.assert_array_equal(W, W.T)
    np.testing.assert_allclose(W @ W, (n / m) * W, atol=TIGHT * n)
    stats = row_statistics(W)
    assert np.all(stats.diag == 1.0)
    np.testing.assert_allclose(stats.offdiag_power, n / m - 1, atol=TIGHT)
    if m == ratio * n:
        np.testing.assert_allclose(stats.offdiag_power, 1 / ratio - 1, atol=TIGHT)
    # Row sums: sum_j W_ij = n/m if the all-ones row 0 is chosen, else 0.
    np.testing.assert_allclose(stats.row_sum, (n / m) * (0 in rows) - 1, atol=TIGHT)
    if m < n:
        assert rank_bound_ratio(W, m) == pytest.approx(1.0, abs=TIGHT)


def test_rug_depends_on_xor_and_structured_rows_give_blocks() -> None:
    """W_ij depends only on i XOR j; the first m rows (m a power of two) give [i = j mod m]."""
    n = 32
    W = rug_matrix(n, 0.25, 5)
    i, j = np.indices((n, n))
    np.testing.assert_array_equal(W, W[0][i ^ j])
    H = sylvester_hadamard(n)[:8]
    np.testing.assert_array_equal(H.T @ H / 8, (i % 8 == j % 8).astype(float))


def test_rug_seeds() -> None:
    np.testing.assert_array_equal(rug_matrix(64, 0.25, 3), rug_matrix(64, 0.25, 3))
    assert not np.array_equal(rug_rows(64, 0.25, 3), rug_rows(64, 0.25, 4))


@pytest.mark.parametrize(("n", "ratio"), [(8, 0.05), (8, 0.0), (8, 1.5), (6, 0.5), (8, float("nan"))])
def test_rug_rejects_bad_parameters(n: int, ratio: float) -> None:
    with pytest.raises(ParameterError):
        rug_matrix(n, ratio, 0)


def test_row_statistics_by_hand() -> None:
    W = np.array([[2.0, -1.0, 3.0], [0.5, -1.0, 0.0], [1.0, 1.0, 1.0]])
    stats = row_statistics(W)
    np.testing.assert_array_equal(stats.diag, [2.0, -1.0, 1.0])
    np.testing.assert_array_equal(stats.offdiag_power, [10.0, 0.25, 2.0])
    np.testing.assert_array_equal(stats.row_sum, [2.0, 0.5, 2.0])
    assert stats.to_dict()["offdiag_power"] == [10.0, 0.25, 2.0]
    with pytest.raises(ValueError):
        stats.diag[0] = 0.0
    with pytest.raises(ParameterError):
        row_statistics(np.ones((2, 3)))
    with pytest.raises(ParameterError):
        rank_bound_ratio(W, 4)


# --- symbolic: the algebra from the trace inequality to S >= a^2 (1 - r)/r -----------------


def test_bound_follows_from_trace_inequality_symbolically() -> None:
    a, S, t = sp.symbols("a S t", real=True)
    n, r, p = sp.symbols("n r p", positive=True)
    m = r * n
    # Premise: n (a^2 + S) >= (tr W)^2 / m with tr W = n a.  D >= 0 is the premise.
    D = n * (a**2 + S) - (n * a) ** 2 / m
    assert sp.Poly(D, S).degree() == 1 and sp.diff(D, S) == n  # increasing in S, since n > 0
    (root,) = sp.solve(sp.Eq(D, 0), S)
    bound = a**2 * (1 - r) / r
    assert sp.simplify(root - bound) == 0
    assert sp.expand(D.subs(S, bound + t) - n * t) == 0  # so D >= 0 exactly when S >= bound
    assert sp.simplify(root - a**2 * (1 - r)) != 0  # a near miss is told apart
    # With the interference variance of THEORY.md, S at the bound gives sigma^2 = kappa^2 a^2.
    from rugtheory.symbolic.data import interference_moments

    moments = interference_moments()
    sigma2 = moments["variance"].subs(moments["offdiag_power"], bound)
    kappa2 = (p / 3 - p**2 / 4) * (1 - r) / r
    assert sp.simplify(sigma2 - kappa2 * a**2) == 0
