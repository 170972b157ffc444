"""High-sparsity (p -> 0) scaling of each family's optimal loss (derivations/12_phases.md, "High sparsity").

Expand a group row's exact loss in p. The case "nobody active" costs (1 - p) b_+^2 at order 1, so
b <= 0 at leading order. Order p: the row's own feature alone, h1(b; a), plus each partner alone
with the row's feature silent, E (b + a g u)_+^2 = (b + a g)_+^3 / (3 a g), nonzero only for
positive partners g > 0. So

* all partners g_j <= 0: a = 1, b = 0 cost nothing at order p and L = C2 p^2 + O(p^3) with
  C2 = sum_j D(-g_j), D from ``symbolic.phases.leading_forms`` (pair: 25/162 at g = 3, simplex:
  (2k - 3)/(6 (k - 1)^2));
* some g_j > 0: L = C1 p + O(p^2) with C1 = min over a > 0, b <= 0 of
  h1(b; a) + sum_{g_j > 0} (b + a g_j)_+^3 / (3 a g_j), a two-variable minimum of an exact
  piecewise polynomial (bounded L-BFGS-B from a grid).

The rug has L* ~ p^2 (1 - r) ln(1/p) / (6 r) (``asymptotics.high_sparsity.loss_leading``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache

import numpy as np
from scipy import optimize

from .groups import partner_weights

__all__ = ["LeadingOrder", "UntiedSearch", "leading_order", "pair_leading", "untied_leading"]


@dataclass(frozen=True)
class LeadingOrder:
    """L ~ constant * p^order as p -> 0 for one pattern, with the leading-order optimum (a, bias)."""

    order: int
    constant: float
    a: float
    bias: float

    def to_dict(self) -> dict:
        """A JSON-ready dict of the fields."""
        return asdict(self)


@cache
def _forms():
    import sympy as sp

    from ..symbolic.phases import a, c, leading_forms, row_kernel, y

    form = leading_forms()
    near, far = (sp.lambdify(c, piece, "numpy") for piece in form.partner)
    kernel = row_kernel()
    active = sum(coef * sp.Max(y + shift, 0) ** power for coef, shift, power in kernel.active) + kernel.active_constant
    return near, far, sp.lambdify((a, y), active, "numpy"), float(form.pair)


def pair_leading() -> float:
    """The best rank-1 pair's constant, L ~ (25/162) p^2 (derived in sympy)."""
    return _forms()[3]


def leading_order(partners) -> LeadingOrder:
    """The leading high-sparsity term of a group pattern's optimal loss (see the module doc)."""
    g = np.array(partner_weights(partners))
    near, far, active, _ = _forms()
    if g.size == 0 or np.max(g) <= 0:
        c = -g
        constant = float(np.sum(np.where(c < 1, near(c), far(np.maximum(c, 1.0))))) if g.size else 0.0
        return LeadingOrder(order=2, constant=constant, a=1.0, bias=0.0)
    positive = g[g > 0]

    def f(x: np.ndarray) -> float:
        a, b = x
        return float(active(a, b) + np.sum(np.maximum(b + a * positive, 0.0) ** 3 / (3 * a * positive)))

    grid = [(a0, b0) for a0 in np.linspace(0.4, 3.0, 27) for b0 in np.linspace(-2.0, 0.0, 41)]
    start = min(grid, key=lambda x: f(np.array(x)))
    result = optimize.minimize(f, np.array(start), method="L-BFGS-B", bounds=[(0.05, 6.0), (-4.0, 0.0)],
                               options={"ftol": 1e-15, "gtol": 1e-12})
    return LeadingOrder(order=1, constant=float(result.fun), a=float(result.x[0]), bias=float(result.x[1]))


@dataclass(frozen=True)
class UntiedSearch:
    """Best leading-order p^2 constant found for an untied group of k features in d dimensions."""

    k: int
    d: int
    constant: float
    W: tuple[tuple[float, ...], ...]   # the found block, rows scaled to unit diagonal
    starts: int

    def to_dict(self) -> dict:
        """A JSON-ready dict of the fields."""
        return asdict(self)


def untied_leading(k: int, d: int, starts: int = 40, seed: int = 0) -> UntiedSearch:
    """Search rank-d k x k blocks W = U V^T for the least mean_i sum_j D(-W_ij / W_ii) (derivations/12, "High sparsity").

    At p -> 0 a row with a = W_ii > 0 (rescaled to 1), b = 0 and non-positive partners costs
    p^2 sum_j D(-W_ij/W_ii); a positive partner costs order p and is penalised (1e3 times its
    square). A random-start L-BFGS-B search: a found value is attained, not a proven minimum.
    """
    near, far, _, _ = _forms()
    eye = np.eye(k, dtype=bool)

    def objective(x: np.ndarray) -> float:
        W = x[: k * d].reshape(k, d) @ x[k * d:].reshape(k, d).T
        diag = np.diag(W)
        if np.any(diag <= 1e-6):
            return 1e3
        off = (W / diag[:, None])[~eye]
        c = np.maximum(-off, 0.0)
        cost = np.where(c < 1, near(c), far(np.maximum(c, 1.0)))
        return float(np.sum(cost) / k + 1e3 * np.sum(np.maximum(off, 0.0) ** 2))

    rng = np.random.default_rng(seed)
    best = None
    for _ in range(starts):
        result = optimize.minimize(objective, rng.standard_normal(2 * k * d), method="L-BFGS-B",
                                   options={"maxiter": 3000})
        if best is None or result.fun < best.fun:
            best = result
    W = best.x[: k * d].reshape(k, d) @ best.x[k * d:].reshape(k, d).T
    W = W / np.diag(W)[:, None]
    return UntiedSearch(k=k, d=d, constant=float(best.fun), W=tuple(tuple(float(v) for v in row) for row in W),
                        starts=starts)
