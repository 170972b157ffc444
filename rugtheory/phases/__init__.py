"""Structured phases of the toy model: exact losses of small-group solutions (issue 5, in progress)."""

from __future__ import annotations

from .antipodal import AntipodalOptimum, antipodal_loss, antipodal_optimum

__all__ = ["AntipodalOptimum", "antipodal_loss", "antipodal_optimum"]
