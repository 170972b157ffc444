"""Exact loss of one row of a small interfering group, any partner weights (derivations/12_phases.md, "Groups").

Row i of a group: y_i = ReLU(a x_i + sum_j a g_j x_j + b), partners j with relative weights g_j.
The loss is expanded over the set A of active partners, P(A) = p^|A| (1 - p)^(K - |A|), and for
each A the interference nu_A = sum_{j in A} a g_j u_j (u_j ~ U[0, 1]) enters the row kernel
(``symbolic.phases.row_kernel``: the silent cost y_+^2 and the active cost, truncated powers of
y = b + nu_A). A truncated power averages exactly over each uniform,

    E (y + c u)_+^n = [(y + c)_+^(n+1) - y_+^(n+1)] / ((n + 1) c),

so E (y0 + nu_A)_+^n = n!/(n+s)! sum_{S in A} (-1)^(s - |S|) (y0 + sum_S c)_+^(n+s) / prod_A c,
s = |A|: a finite sum, no quadrature. It is a finite difference, so it cancels when the partner
weights are small against the offsets; ``GroupLoss.rounding`` bounds the float64 error by
eps * sum |terms|. Partners with |g| < ZERO_WEIGHT max(1, max|g|) are exact zeros (cos(pi/2) in
float64) and are dropped: a zero partner's activity does not change the row. The 3^K pairs
(S within A) limit K to MAX_PARTNERS.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cache

import numpy as np

from ..errors import ParameterError
from ..parameters import FEATURE_PROBABILITY

__all__ = ["MAX_PARTNERS", "ZERO_WEIGHT", "GroupLoss", "group_row_loss", "partner_weights"]

MAX_PARTNERS = 12
ZERO_WEIGHT = 1e-12


def partner_weights(g) -> tuple[float, ...]:
    """The nonzero relative partner weights of a row, sorted (exact zeros dropped, see module doc)."""
    g = np.asarray(g, dtype=float).ravel()
    if not np.all(np.isfinite(g)):
        raise ParameterError("partner weights must be finite numbers")
    scale = max(1.0, float(np.max(np.abs(g)))) if g.size else 1.0
    kept = tuple(sorted(float(v) for v in g if abs(v) >= ZERO_WEIGHT * scale))
    if len(kept) > MAX_PARTNERS:
        raise ParameterError(f"a group row has {len(kept)} nonzero partners; valid: at most {MAX_PARTNERS}")
    return kept


@cache
def _pairs(partners: tuple[float, ...]):
    """The finite-difference terms of a pattern, merged: per distinct (s = |A|, sum_S g), the sum over
    S within A of (-1)^(|A|-|S|) / prod_A g, and the sum of its absolute values (cached per pattern)."""
    K = len(partners)
    g = np.array(partners)
    state = np.indices((3,) * K).reshape(K, -1).T if K else np.zeros((1, 0), dtype=int)  # 0: out, 1: in A \ S, 2: in S
    in_a, in_s = state >= 1, state == 2
    s = in_a.sum(axis=1)
    total = in_s @ g if K else np.zeros(1)
    inv = np.prod(np.where(in_a, 1.0 / g[None, :], 1.0), axis=1) if K else np.ones(1)
    coef = np.where((s - in_s.sum(axis=1)) % 2 == 1, -1.0, 1.0) * inv
    keys = np.stack([s, np.round(total, 10)], axis=1)
    unique, index = np.unique(keys, axis=0, return_inverse=True)
    index = index.ravel()
    merged = np.bincount(index, weights=coef, minlength=len(unique))
    absolute = np.bincount(index, weights=np.abs(coef), minlength=len(unique))
    sigma = np.bincount(index, weights=total, minlength=len(unique)) / np.bincount(index, minlength=len(unique))
    return unique[:, 0].astype(int), merged, sigma, absolute


@cache
def _kernel():
    import sympy as sp

    from ..symbolic.phases import a, row_kernel

    form = row_kernel()

    def terms(items):
        return tuple((sp.lambdify(a, coef, "numpy"), sp.lambdify(a, shift, "numpy"), power) for coef, shift, power in items)

    return terms(form.silent), terms(form.active), float(form.active_constant)


@dataclass(frozen=True)
class GroupLoss:
    """The exact loss of one group row and a bound on its float64 rounding error."""

    loss: float
    rounding: float
    partners: tuple[float, ...]

    def to_dict(self) -> dict:
        """A JSON-ready dict of the fields."""
        return asdict(self)


def _evaluate(p: float, a: np.ndarray, bias: np.ndarray, partners: tuple[float, ...]):
    s, coef_pairs, total, absolute = _pairs(partners)
    K = len(partners)
    silent, active, constant = _kernel()
    weight = p ** s * (1 - p) ** (K - s)
    value = np.zeros(np.broadcast(a, bias).shape)
    size = np.zeros_like(value)
    a_power = a[..., None] ** (-s).astype(float)
    for prefactor, items in ((1 - p, silent), (p, active)):
        for coef, shift, power in items:
            degree = power + s
            factor = weight * np.exp(math.lgamma(power + 1) - np.array([math.lgamma(d + 1) for d in degree]))
            offset = bias + np.broadcast_to(np.asarray(shift(a), dtype=float), a.shape)
            base = np.maximum(offset[..., None] + a[..., None] * total, 0.0) ** degree * a_power * factor
            c = prefactor * np.asarray(coef(a), dtype=float) * np.ones_like(value)
            value = value + c * (base * coef_pairs).sum(axis=-1)
            size = size + np.abs(c) * (base * absolute).sum(axis=-1)
    return value + p * constant, size + p * constant


def group_row_loss(p: float, a, bias, partners) -> GroupLoss | np.ndarray:
    """Loss of y = ReLU(a x_i + a sum_j g_j x_j + bias), a > 0 (scalars: a GroupLoss; arrays: the losses).

    >>> round(group_row_loss(0.1, 1.0, 0.0, [-1.0]).loss / (0.1**2 / 6), 12)  # antipodal pair: p^2/6
    1.0
    """
    p = FEATURE_PROBABILITY.validate(p)
    kept = partner_weights(partners)
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(bias, dtype=float)
    if not (np.all(np.isfinite(a_arr)) and np.all(a_arr > 0) and np.all(np.isfinite(b_arr))):
        raise ParameterError(f"a group row needs a > 0 and a finite bias: got a = {a!r}, bias = {bias!r}")
    value, size = _evaluate(p, a_arr, b_arr, kept)
    if a_arr.ndim == 0 and b_arr.ndim == 0:
        return GroupLoss(loss=float(value), rounding=float(8 * np.finfo(float).eps * size), partners=kept)
    return value
