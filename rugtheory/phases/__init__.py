"""Structured phases of the toy model: exact large-n losses of small-group solutions (derivations/12_phases.md).

Pairs (antipodal and rank-1), k-gons, simplices and harmonic tight frames (``groups`` evaluates any
group row exactly), mixtures with dedicated and dropped features and the rug, the phase diagram,
and a classifier of weight matrices.
"""

from __future__ import annotations

from .antipodal import AntipodalOptimum, antipodal_loss, antipodal_optimum
from .classify import Classification, classify
from .diagram import FAMILIES, PhaseDiagram, PhasePoint, phase_diagram
from .groups import GroupLoss, group_row_loss
from .optimize import GroupOptimum, group_optimum
from .pairs import PairOptimum, RankOnePair, pair_loss, pair_optimum, pair_row, rank_one_pair

__all__ = [
    "FAMILIES", "AntipodalOptimum", "Classification", "GroupLoss", "GroupOptimum", "PairOptimum", "PhaseDiagram", "PhasePoint",
    "RankOnePair", "antipodal_loss", "antipodal_optimum", "classify", "group_optimum", "group_row_loss", "pair_loss",
    "pair_optimum", "pair_row", "phase_diagram", "rank_one_pair",
]
