"""Antipodal pairs at r = 1/2: the exact per-feature loss and its optimum over scale and bias.

The loss is ``rugtheory.symbolic.phases.antipodal_loss`` (integrated in sympy from THEORY.md's
data), lambdified once per process. It holds for a > 0 and an effective threshold t = -bias/a in
[0, 1], and ``antipodal_optimum`` searches only there. A small positive bias does slightly better
(0.08% at p = 0.1, 1.1% at p = 0.3; derivations/12_phases.md, "Pairs, any bias sign"):
``optimize.group_optimum(p, [-1.0])`` allows either sign. At
bias = 0, a = 1 it is p^2/6 (THEORY.md, "Checks"). The polynomial is evaluated in float64 from its
factored parts; it loses about log10(1/p) digits to cancellation near the optimum, so results
are stated for p >= 1e-6 (relative error below ~1e-9 there).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache

import numpy as np
from scipy import optimize

from ..errors import ParameterError
from ..parameters import FEATURE_PROBABILITY

__all__ = ["AntipodalOptimum", "antipodal_loss", "antipodal_optimum"]

MIN_P = 1e-6


def check_optimum_probability(p) -> float:
    """p validated for the optima here: p in [MIN_P, 1) (float64 cancellation below MIN_P)."""
    p = FEATURE_PROBABILITY.validate(p)
    if p < MIN_P:
        raise ParameterError(f"feature_probability (p) = {p!r} is out of range here; valid: p in [{MIN_P:g}, 1)")
    return p


@cache
def _parts():
    import sympy as sp

    from ..symbolic.phases import a, t
    from ..symbolic.phases import antipodal_loss as form

    derived = form()
    return sp.lambdify((a, t), derived.single, "numpy"), sp.lambdify((a, t), derived.both, "numpy")


def antipodal_loss(p: float, a: float, bias: float) -> float:
    """Per-feature loss of antipodal pairs y_i = ReLU(a (x_i - x_j) + bias), a > 0, -a <= bias <= 0."""
    p = FEATURE_PROBABILITY.validate(p)
    if not (np.isfinite(a) and a > 0 and np.isfinite(bias) and -a <= bias <= 0):
        raise ParameterError(f"antipodal pairs need a > 0 and -a <= bias <= 0: got a = {a!r}, bias = {bias!r}")
    single, both = _parts()
    t = -bias / a
    return float(p * (1 - p) * single(a, t) + p * p * both(a, t))


@dataclass(frozen=True)
class AntipodalOptimum:
    """min over (a, bias) of the antipodal-pair loss at p, with the point and p^2/6 for reference."""

    p: float
    loss: float
    a: float
    bias: float
    loss_unit_pair: float  # a = 1, bias = 0: p^2/6

    def to_dict(self) -> dict:
        """A JSON-ready dict of the fields."""
        return asdict(self)


def antipodal_optimum(p: float) -> AntipodalOptimum:
    """The optimal antipodal pairs at feature probability p >= 1e-6 (bounded L-BFGS-B over (a, t))."""
    p = check_optimum_probability(p)
    single, both = _parts()

    def objective(x: np.ndarray) -> float:
        return float((p * (1 - p) * single(x[0], x[1]) + p * p * both(x[0], x[1])) / (p * p))

    best = None
    for start in ((1.0, 0.0), (1.0, 0.2), (0.7, 0.5)):
        result = optimize.minimize(objective, np.array(start), method="L-BFGS-B",
                                   bounds=[(1e-6, 4.0), (0.0, 1.0)], options={"ftol": 1e-15, "gtol": 1e-12})
        if best is None or result.fun < best.fun:
            best = result
    a, t = (float(v) for v in best.x)
    return AntipodalOptimum(p=p, loss=float(best.fun) * p * p, a=a, bias=-a * t, loss_unit_pair=p * p / 6)
