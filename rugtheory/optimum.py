"""Public solvers for the optimal mean-field model (THEORY.md, "Rank bound")."""

from __future__ import annotations

import numpy as np

from .numeric.solver import OptimalGrid, OptimalModel, solve_arrays
from .parameters import FEATURE_PROBABILITY, PRECISION, RATIO

__all__ = ["solve", "solve_grid"]


def solve(p: float, r: float, precision: int | None = None) -> OptimalModel:
    """The global optimum L*(p, r) over (a, beta), with sigma at the rank bound.

    With ``precision`` (decimal digits, >= 16) the float64 optimum is refined by Newton's
    method in mpmath and ``decimal`` holds the values to that many digits.

    >>> model = solve(0.01, 0.5)
    >>> round(model.loss / model.loss_linear, 4)
    0.0567
    """
    p = FEATURE_PROBABILITY.validate(p)
    r = RATIO.validate(r)
    out = solve_arrays(np.array([p]), np.array([r]))
    fields = {key: float(value[0]) for key, value in out.items() if key != "iterations"}
    iterations = int(out["iterations"][0])
    decimal = None
    if precision is not None:
        precision = PRECISION.validate(precision)
        import mpmath

        from .numeric.solver_mp import solve_mp

        exact = solve_mp(p, r, fields["a_minus_one"], fields["bias"], precision)
        with mpmath.workdps(precision):
            decimal = {
                key: mpmath.nstr(exact[key], precision)
                for key in ("a", "a_minus_one", "bias", "sigma", "loss", "loss_linear")
            }
        fields.update({key: float(exact[key]) for key in decimal})
        fields["gradient_norm"] = float(exact["gradient_norm"])
        iterations = int(exact["iterations"])
    loss, linear = fields["loss"], fields["loss_linear"]
    return OptimalModel(
        p=p,
        r=r,
        a=fields["a"],
        a_minus_one=fields["a_minus_one"],
        bias=fields["bias"],
        sigma=fields["sigma"],
        loss=loss,
        loss_linear=linear,
        gain=linear / loss if loss > 0 else float("inf"),
        gradient_norm=fields["gradient_norm"],
        iterations=iterations,
        precision=precision,
        decimal=decimal,
    )


def solve_grid(p_values, r_values) -> OptimalGrid:
    """L*(p, r) on the outer grid of p_values x r_values, vectorised; arrays of shape (len(p), len(r))."""
    p_values = np.atleast_1d(FEATURE_PROBABILITY.validate(np.asarray(p_values, dtype=float)))
    r_values = np.atleast_1d(RATIO.validate(np.asarray(r_values, dtype=float)))
    if p_values.ndim != 1 or r_values.ndim != 1:
        from .errors import ParameterError

        raise ParameterError("p_values and r_values must be one-dimensional sequences")
    p_grid, r_grid = np.meshgrid(p_values, r_values, indexing="ij")
    out = solve_arrays(p_grid.ravel(), r_grid.ravel())
    shape = p_grid.shape
    return OptimalGrid(
        p=p_grid,
        r=r_grid,
        a=out["a"].reshape(shape),
        a_minus_one=out["a_minus_one"].reshape(shape),
        bias=out["bias"].reshape(shape),
        sigma=out["sigma"].reshape(shape),
        loss=out["loss"].reshape(shape),
        loss_linear=out["loss_linear"].reshape(shape),
    )
