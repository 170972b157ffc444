"""Hypothesis strategies read from the parameter declarations (rugtheory.parameters)."""

from __future__ import annotations

import math

from hypothesis import strategies as st

from rugtheory.parameters import Parameter


def draws(parameter: Parameter, lower: float | None = None, upper: float | None = None) -> st.SearchStrategy[float]:
    """Values inside the declared domain, over its typical range (log-uniform where declared)."""
    lo, hi = parameter.typical
    lo = lo if lower is None else lower
    hi = hi if upper is None else upper
    if parameter.log_scale:
        return st.floats(math.log10(lo), math.log10(hi)).map(lambda e: 10.0**e).filter(
            lambda v: bool(parameter.contains(v))
        )
    return st.floats(lo, hi).filter(lambda v: bool(parameter.contains(v)))
