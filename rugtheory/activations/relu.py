"""ReLU, the toy model's own activation: its optimum is ``rugtheory.solve`` (issue 2)."""

from __future__ import annotations

from .result import FamilyOptimum

__all__ = ["NAME", "optimum"]

NAME = "relu"


def optimum(p: float, r: float) -> FamilyOptimum:
    """L*(p, r) of the ReLU model (THEORY.md, "Rank bound"), as a ``FamilyOptimum``."""
    from ..optimum import solve

    model = solve(p, r)
    return FamilyOptimum(
        family=NAME, p=model.p, r=model.r, loss=model.loss,
        parameters={"a": model.a, "bias": model.bias, "sigma": model.sigma},
    )
