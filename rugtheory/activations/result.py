"""The result type shared by every activation family (issue 3, "Activation families")."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FamilyOptimum:
    """The optimal mean-field model of one activation family at one (p, r).

    ``loss`` is the per-feature loss; ``parameters`` holds the optimal values of the family's
    parameters: always ``a`` (diagonal), ``bias`` (effective bias beta) and ``sigma``
    (= kappa a at the rank bound), plus the family's own (``threshold``, ``alpha``, ...).
    ``method`` names how the loss was evaluated ("closed_form", "quadrature", ...).
    """

    family: str
    p: float
    r: float
    loss: float
    parameters: dict[str, float] = field(default_factory=dict)
    method: str = "closed_form"

    def to_dict(self) -> dict:
        """A JSON-ready dict: family, p, r, loss, parameters, method."""
        return {
            "family": self.family,
            "p": self.p,
            "r": self.r,
            "loss": self.loss,
            "parameters": dict(self.parameters),
            "method": self.method,
        }
