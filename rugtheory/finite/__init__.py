"""Finite-n corrections for the Hadamard Persian rug (issue 5; derivations/14_finite_n.md).

* ``rug_interference``: one row's interference, exactly (all rows of the rug are alike);
* ``rug_exact_loss`` / ``RugLoss``: the exact finite-n loss at any (a, beta), with an error bound;
* ``edgeworth_correction``: the expansion l + E_1 + E_2 + ... in 1/sqrt(p n);
* ``finite_n``: exact, re-optimised and predicted losses at one (p, r, n);
* ``required_n``: the smallest power-of-two n within a tolerance of L*(p, r).

numpy and scipy; sympy only to derive the expansion's terms (once per process).
"""

from __future__ import annotations

from .edgeworth import (
    EdgeworthCorrection,
    data_cumulants,
    edgeworth_correction,
    leading_coefficient,
    loss_derivative,
)
from .exact import RugExactLoss, RugLoss, row_function, rug_exact_loss
from .interference import RugInterference, rug_interference, walsh_hadamard
from .study import FiniteN, RequiredN, finite_n, reoptimise, required_n

__all__ = [
    "EdgeworthCorrection",
    "FiniteN",
    "RequiredN",
    "RugExactLoss",
    "RugInterference",
    "RugLoss",
    "data_cumulants",
    "edgeworth_correction",
    "finite_n",
    "leading_coefficient",
    "loss_derivative",
    "reoptimise",
    "required_n",
    "row_function",
    "rug_exact_loss",
    "rug_interference",
    "walsh_hadamard",
]
