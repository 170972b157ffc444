"""Weight matrices of the theory: the Hadamard Persian rug, its forward-engineered model, row statistics.

THEORY.md, "Statistics of a weight matrix" and "Rank bound"; derivations/05_rank_bound.md.
numpy only.
"""

from __future__ import annotations

from .hadamard import rug_matrix, rug_rows, sylvester_hadamard
from .rug_model import RugModel, load_rug, rug_model
from .statistics import RowStatistics, frobenius_trace_ratio, rank_bound_ratio, row_statistics

__all__ = [
    "RowStatistics",
    "RugModel",
    "frobenius_trace_ratio",
    "load_rug",
    "rank_bound_ratio",
    "row_statistics",
    "rug_matrix",
    "rug_model",
    "rug_rows",
    "sylvester_hadamard",
]
