"""Closed-form limits of the optimal mean-field model (derivations/06, 07, 10)."""

from __future__ import annotations

from .high_sparsity import HighSparsityScaling, high_sparsity, loss_leading

__all__ = ["HighSparsityScaling", "high_sparsity", "loss_leading"]
