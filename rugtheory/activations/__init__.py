"""Activation families under the same linear-layer statistics (issue 3).

Every family keeps the rank-bound linear layer (interference Gaussian with sigma = kappa a)
and changes only the elementwise function f in y = f(a x + beta + sigma Z).
"""

from __future__ import annotations

from .result import FamilyOptimum

__all__ = ["FamilyOptimum"]
