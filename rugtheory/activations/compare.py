"""Every activation family's optimum at one (p, r), with its ratios to ReLU and to the MMSE bound."""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass

from ..parameters import FEATURE_PROBABILITY, RATIO
from .result import FamilyOptimum

__all__ = ["FAMILIES", "Comparison", "compare"]

FAMILIES = ("relu", "jumprelu", "soft_threshold", "power", "identity", "mmse")


def family_optimum(name: str, p: float, r: float) -> FamilyOptimum:
    """The optimum of one family, by name (one of ``FAMILIES``)."""
    if name not in FAMILIES:
        raise ValueError(f"family = {name!r} is unknown; valid: {', '.join(FAMILIES)}")
    return importlib.import_module(f"{__package__}.{name}").optimum(p, r)


def _ratio(loss: float, reference: float) -> float | None:
    if reference > 0:
        return loss / reference
    return 1.0 if loss == 0 else None


@dataclass(frozen=True)
class Comparison:
    """The families' optima at (p, r); ``to_dict`` is keyed by family name."""

    p: float
    r: float
    optima: tuple[FamilyOptimum, ...]

    def get(self, name: str) -> FamilyOptimum:
        """The optimum of family ``name``."""
        return next(item for item in self.optima if item.family == name)

    def to_dict(self) -> dict[str, dict]:
        """{family: {loss, parameters, ratio_to_relu, ratio_to_mmse, method, p, r}}."""
        relu, mmse = self.get("relu").loss, self.get("mmse").loss
        out = {}
        for item in self.optima:
            entry = item.to_dict()
            entry.pop("family")
            entry["ratio_to_relu"] = _ratio(item.loss, relu)
            entry["ratio_to_mmse"] = _ratio(item.loss, mmse)
            out[item.family] = entry
        return out


def compare(p: float, r: float, families: tuple[str, ...] = FAMILIES) -> Comparison:
    """Optimise every family in ``families`` at (p, r) (ReLU and MMSE are always included)."""
    p = FEATURE_PROBABILITY.validate(p)
    r = RATIO.validate(r)
    names = tuple(dict.fromkeys(("relu", *families, "mmse")))
    optima = tuple(family_optimum(name, p, r) for name in names)
    for item in optima:
        if not math.isfinite(item.loss):
            raise ArithmeticError(f"{item.family}: non-finite optimum at p={p}, r={r}")
    return Comparison(p=p, r=r, optima=optima)
