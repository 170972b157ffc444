"""Rank-1 pairs at r = 1/2 with unequal partner weights: exact loss and optimum (derivations/12_phases.md).

A pair of features shares one hidden unit; untied, the 2 x 2 block of W is [[a1, -c1], [-c2, a2]]
with a1 a2 = c1 c2 (rank 1). Row k's loss is ``symbolic.phases.pair_row_loss`` at (a_k, c_k,
t_k = -bias_k / a_k), lambdified once; the per-feature loss is the mean of the two rows. The
antipodal pair is a1 = a2 = c1 = c2. float64, stated for p >= 1e-6 (as ``antipodal``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cache

import numpy as np
from scipy import optimize

from ..errors import ParameterError
from ..parameters import FEATURE_PROBABILITY
from .antipodal import check_optimum_probability

__all__ = ["PairOptimum", "RankOnePair", "pair_loss", "pair_optimum", "pair_row", "rank_one_pair"]


@cache
def _parts():
    import sympy as sp

    from ..symbolic.phases import a, c, pair_row_loss, t

    form = pair_row_loss()
    return tuple(sp.lambdify((a, c, t), expr, "numpy") for expr in (form.single, form.both_far, form.both_near))


def pair_row(p: float, a: float, c: float, bias: float) -> float:
    """Loss of one row y = ReLU(a x_i - c x_j + bias), a, c > 0, -a <= bias <= 0."""
    p = FEATURE_PROBABILITY.validate(p)
    if not all(map(math.isfinite, (a, c, bias))) or a <= 0 or c <= 0 or not -a <= bias <= 0:
        raise ParameterError(f"a pair row needs a > 0, c > 0 and -a <= bias <= 0: got a={a!r}, c={c!r}, bias={bias!r}")
    single, far, near = _parts()
    t = -bias / a
    both = far(a, c, t) if c >= a * (1 - t) else near(a, c, t)
    return float(p * (1 - p) * single(a, c, t) + p * p * both)


def pair_loss(p: float, a1: float, a2: float, c1: float, bias1: float, bias2: float) -> float:
    """Per-feature loss of the rank-1 pair with c2 = a1 a2 / c1 (the mean of its two rows)."""
    return 0.5 * (pair_row(p, a1, c1, bias1) + pair_row(p, a2, a1 * a2 / c1, bias2))


@dataclass(frozen=True)
class PairOptimum:
    """The best rank-1 pair at p: loss, its point, and the ratio of the partner weights c1/c2."""

    p: float
    loss: float
    a1: float
    a2: float
    c1: float
    c2: float
    bias1: float
    bias2: float

    def to_dict(self) -> dict:
        """A JSON-ready dict of the fields."""
        return asdict(self)


def pair_optimum(p: float) -> PairOptimum:
    """min over (a1, a2, c1, t1, t2) of ``pair_loss`` (multi-start L-BFGS-B in log a, log c, t)."""
    p = check_optimum_probability(p)

    def unpack(x):
        a1, a2, c1 = np.exp(x[0]), np.exp(x[1]), np.exp(x[2])
        return a1, a2, c1, -a1 * x[3], -a2 * x[4]

    def objective(x):
        return pair_loss(p, *unpack(x)) / (p * p)

    best = None
    for ratio in (1.0, 3.0, 10.0, 30.0):
        start = np.array([0.0, 0.0, 0.5 * math.log(ratio), 0.0, 0.0])
        result = optimize.minimize(objective, start, method="L-BFGS-B",
                                   bounds=[(-3, 2), (-3, 2), (-6, 6), (0, 1), (0, 1)], options={"ftol": 1e-15})
        if best is None or result.fun < best.fun:
            best = result
    a1, a2, c1, bias1, bias2 = (float(v) for v in unpack(best.x))
    return PairOptimum(p=p, loss=float(best.fun) * p * p, a1=a1, a2=a2, c1=c1, c2=a1 * a2 / c1, bias1=bias1, bias2=bias2)


@dataclass(frozen=True)
class RankOnePair:
    """The best rank-1 pair with free biases of either sign (derivations/12_phases.md, "Pairs, any bias sign").

    Row k has relative partner weight -g_k with g_1 g_2 = 1 (rank 1), each row at its own best
    (a_k, bias_k) by ``optimize.group_optimum``; ``loss`` is the mean of the two rows.
    """

    p: float
    loss: float
    ratio: float   # g_1 = c1/a1 >= 1; g_2 = 1/ratio
    rows: tuple    # the two GroupOptimum rows

    def to_dict(self) -> dict:
        """A JSON-ready dict of the fields."""
        return {"p": self.p, "loss": self.loss, "ratio": self.ratio, "rows": [row.to_dict() for row in self.rows]}


def rank_one_pair(p: float) -> RankOnePair:
    """min over (g >= 1, a_1, b_1, a_2, b_2) of [R(-g; a_1, b_1) + R(-1/g; a_2, b_2)]/2 (L-BFGS-B, two starts).

    R is ``groups.group_row_loss``, so the biases may take either sign. Each row is then polished
    by ``optimize.group_optimum`` at the found g.
    """
    from .groups import _evaluate
    from .optimize import group_optimum

    p = check_optimum_probability(p)

    def mean(x: np.ndarray) -> float:
        g = math.exp(x[0])
        one, _ = _evaluate(p, np.asarray(x[1]), np.asarray(x[2]), (-g,))
        two, _ = _evaluate(p, np.asarray(x[3]), np.asarray(x[4]), (-1.0 / g,))
        return float(0.5 * (one + two)) / (p * p)

    best = None
    for log_g in (0.0, math.log(3.0)):
        result = optimize.minimize(mean, np.array([log_g, 1.0, 0.0, 1.0, 0.0]), method="L-BFGS-B",
                                   bounds=[(0.0, 3.0), (0.05, 4.0), (-2.0, 1.0), (0.05, 4.0), (-2.0, 1.0)],
                                   options={"ftol": 1e-13, "gtol": 1e-10})
        if best is None or result.fun < best.fun:
            best = result
    g = math.exp(float(best.x[0]))
    rows = (group_optimum(p, [-g]), group_optimum(p, [-1.0 / g]))
    return RankOnePair(p=p, loss=0.5 * (rows[0].loss + rows[1].loss), ratio=g, rows=rows)
