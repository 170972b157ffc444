"""The classifier of weight matrices (derivations/12_phases.md, "Classifier") on constructed phases with noise."""

from __future__ import annotations

import numpy as np
import pytest

from rugtheory.errors import ParameterError
from rugtheory.phases.classify import classify
from rugtheory.phases.frames import harmonic_gram
from rugtheory.phases.kgon import kgon_gram
from rugtheory.phases.simplex import simplex_gram
from rugtheory.weights import rug_matrix


def _blocks(gram: np.ndarray, n: int, a: float, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    W = np.kron(np.eye(n // gram.shape[0]), a * gram)
    W = W + noise * rng.standard_normal(W.shape)
    order = rng.permutation(W.shape[0])  # hide the block structure
    return W[np.ix_(order, order)]


@pytest.mark.parametrize("gram,label,k", [
    (np.array([[1.0, -1.0], [-1.0, 1.0]]), "pairs", 2),
    (np.array([[1.0, -3.0], [-1.0 / 3.0, 1.0]]), "pairs", 2),   # the asymmetric rank-1 pair
    (kgon_gram(5), "kgon", 5), (kgon_gram(6), "kgon", 6), (kgon_gram(8), "kgon", 8),
    (simplex_gram(3), "simplex", 3), (simplex_gram(5), "simplex", 5),
    (harmonic_gram(8, (1, 2, 4)), "frame", 8),
])
@pytest.mark.parametrize("seed", [0, 1])
def test_constructed_phases_with_noise(gram, label, k, seed):
    result = classify(_blocks(gram, 120, 1.3, 0.01, seed))
    assert result.label == label
    assert result.fractions[label] == 1.0
    assert result.group_sizes[label] == {k: 120 // k}


def test_antipodal_pairs_are_counted():
    pair = np.array([[1.0, -1.0], [-1.0, 1.0]])
    assert classify(_blocks(pair, 64, 1.0, 0.01, 3)).antipodal_pairs == 32
    assert classify(_blocks(np.array([[1.0, 0.5], [-0.2, 1.0]]), 64, 1.0, 0.01, 3)).antipodal_pairs == 0


@pytest.mark.parametrize("r", [0.25, 0.5, 0.75])
def test_hadamard_rug_is_a_rug(r):
    result = classify(rug_matrix(256, r, seed=1))
    assert result.label == "rug" and result.fractions["rug"] > 0.95


def test_mixture_fractions():
    rng = np.random.default_rng(4)
    W = np.zeros((100, 100))
    W[:40, :40] = np.eye(40)                                       # dedicated
    W[40:60, 40:60] = np.kron(np.eye(10), [[1.0, -1.0], [-1.0, 1.0]])  # pairs; rows 60-99 dropped
    result = classify(W + 0.005 * rng.standard_normal(W.shape), np.zeros(100))
    assert result.fractions["dedicated"] == 0.4 and result.fractions["pairs"] == 0.2
    assert result.fractions["dropped"] == 0.4 and result.label == "dedicated"
    assert set(result.to_dict()) >= {"label", "fractions", "group_sizes"}


def test_bad_input():
    with pytest.raises(ParameterError, match="square"):
        classify(np.zeros((3, 4)))
    with pytest.raises(ParameterError, match="b must"):
        classify(np.eye(4), np.zeros(3))
