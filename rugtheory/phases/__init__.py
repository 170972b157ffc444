"""Structured phases of the toy model: exact losses of small-group solutions (issue 5, in progress)."""

from __future__ import annotations

from .antipodal import AntipodalOptimum, antipodal_loss, antipodal_optimum
from .pairs import PairOptimum, pair_loss, pair_optimum, pair_row

__all__ = [
    "AntipodalOptimum", "PairOptimum", "antipodal_loss", "antipodal_optimum", "pair_loss", "pair_optimum", "pair_row",
]
