"""The Hadamard rug at finite n: exact loss, re-optimised (a, beta), Edgeworth prediction, required n.

derivations/14_finite_n.md, sections 1 (exact loss), 3 (re-optimisation) and 4 (required n). The
reference is the mean-field optimum L*(p, m/n) at the rug's own ratio m/n = round(r n)/n (as in
``weights.rug_model``); for the powers of two and the r of the tables m/n = r exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize

from ..errors import ParameterError
from ..parameters import FEATURE_PROBABILITY, RATIO, check_seed
from .edgeworth import EdgeworthCorrection, edgeworth_correction, leading_coefficient
from .exact import RugExactLoss, RugLoss
from .interference import MAX_N, RugInterference, _order, rug_interference

__all__ = ["FiniteN", "RequiredN", "finite_n", "reoptimise", "required_n"]

ORDER = 2  # the default prediction keeps E_1 + E_2, every term of order 1/(p n)


def _nelder_mead(f, a0: float, beta0: float, sigma0: float) -> tuple[float, float]:
    """argmin of f(a, beta) from (a0, beta0), in the scaled coordinates (a/a0 - 1, (beta - beta0)/sigma0)."""
    f0 = f(a0, beta0)
    scale = abs(f0) if f0 != 0 else 1.0

    def scaled(x: np.ndarray) -> float:
        a = a0 * (1.0 + x[0])
        return math.inf if a <= 0 else f(a, beta0 + sigma0 * x[1]) / scale

    simplex = np.array([[0.0, 0.0], [0.05, 0.0], [0.0, 0.25]])
    out = minimize(scaled, np.zeros(2), method="Nelder-Mead",
                   options={"initial_simplex": simplex, "xatol": 1e-6, "fatol": 1e-11, "maxiter": 4000})
    x = out.x if out.fun <= scaled(np.zeros(2)) else np.zeros(2)
    return float(a0 * (1.0 + x[0])), float(beta0 + sigma0 * x[1])


def reoptimise(evaluator: RugLoss, a0: float, beta0: float, sigma0: float) -> RugExactLoss:
    """The exact loss minimised over (a, beta) from (a0, beta0) (Nelder-Mead; derivations/14, section 3).

    The start is one vertex of the simplex and the best vertex is returned, so the result is never
    above the loss at the start.
    """
    a, beta = _nelder_mead(evaluator.loss, a0, beta0, sigma0)
    return evaluator.evaluate(a, beta)


def _power_sums(interference: RugInterference, order: int) -> dict[int, float]:
    return {k: interference.power_sum(k) for k in range(2, order + 3)}


@dataclass(frozen=True)
class FiniteN:
    """The Hadamard rug at (p, r, n, seed): exact losses and the Edgeworth prediction.

    ``loss_meanfield_optimum`` is L*(p, m/n); ``exact_meanfield`` the exact loss at its (a, beta);
    ``exact_reoptimised`` the exact loss minimised over (a, beta) (None if not asked for);
    ``edgeworth`` the expansion at the mean-field (a, beta); ``edgeworth_reoptimised`` the
    minimum over (a, beta) of l + E_1 + E_2, as (a, beta, loss).
    """

    p: float
    r: float
    r_requested: float
    n: int
    m: int
    seed: int
    a_meanfield: float
    bias_meanfield: float
    loss_meanfield_optimum: float
    exact_meanfield: RugExactLoss
    exact_reoptimised: RugExactLoss | None
    edgeworth: EdgeworthCorrection
    edgeworth_reoptimised: tuple[float, float, float]

    @property
    def lam(self) -> float:
        """lambda = p n, the mean number of active features in a row."""
        return self.p * self.n

    def relative(self, loss: float) -> float | None:
        """loss / L* - 1 (None when L* = 0, at r = 1)."""
        star = self.loss_meanfield_optimum
        return None if star == 0 else loss / star - 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; relative gaps are loss/L* - 1."""
        reopt = self.exact_reoptimised
        a_e, beta_e, loss_e = self.edgeworth_reoptimised
        return {
            "p": self.p, "r": self.r, "r_requested": self.r_requested, "n": self.n, "m": self.m,
            "seed": self.seed, "lambda": self.lam,
            "loss_meanfield_optimum": self.loss_meanfield_optimum,
            "a": self.a_meanfield, "bias": self.bias_meanfield,
            "loss_exact": self.exact_meanfield.loss,
            "loss_exact_bound": self.exact_meanfield.error_bound,
            "relative_exact": self.relative(self.exact_meanfield.loss),
            "a_reoptimised": None if reopt is None else reopt.a,
            "bias_reoptimised": None if reopt is None else reopt.bias,
            "loss_reoptimised": None if reopt is None else reopt.loss,
            "loss_reoptimised_bound": None if reopt is None else reopt.error_bound,
            "relative_reoptimised": None if reopt is None else self.relative(reopt.loss),
            "loss_edgeworth": self.edgeworth.prediction(ORDER),
            "relative_edgeworth": self.relative(self.edgeworth.prediction(ORDER)),
            "edgeworth_corrections": list(self.edgeworth.corrections),
            "edgeworth_cumulants": list(self.edgeworth.cumulants),
            "a_edgeworth_reoptimised": a_e, "bias_edgeworth_reoptimised": beta_e,
            "loss_edgeworth_reoptimised": loss_e,
        }


def _check(p: float, r: float, seed: int) -> tuple[float, float, int]:
    p, r = FEATURE_PROBABILITY.validate(p), RATIO.validate(r)
    if np.ndim(p) or np.ndim(r):
        raise ParameterError("feature_probability (p) and ratio (r) must be single numbers")
    return float(p), float(r), check_seed(seed)


def _edgeworth_optimum(p: float, interference: RugInterference, a0: float, beta0: float,
                       sigma0: float) -> tuple[float, float, float]:
    sums = _power_sums(interference, ORDER)

    def predicted(a: float, beta: float) -> float:
        return edgeworth_correction(p, a, beta, sums, ORDER).prediction(ORDER)

    a, beta = _nelder_mead(predicted, a0, beta0, sigma0)
    return float(a), float(beta), float(predicted(a, beta))


def finite_n(p: float, r: float, n: int, seed: int = 0, reoptimise_exact: bool = True) -> FiniteN:
    """The Hadamard rug at (p, r, n, seed): sections 1-3 of derivations/14_finite_n.md.

    >>> out = finite_n(0.1, 0.5, 1024, reoptimise_exact=False)
    >>> out.m, abs(out.relative(out.exact_meanfield.loss)) < 0.01
    (512, True)
    """
    from ..optimum import solve

    p, r, seed = _check(p, r, seed)
    interference = rug_interference(n, r, p, seed)
    optimum = solve(p, interference.m / interference.n)
    evaluator = RugLoss(interference)
    a0, beta0 = float(optimum.a), float(optimum.bias)
    sigma0 = float(optimum.sigma) if optimum.sigma > 0 else 1e-3
    at_meanfield = evaluator.evaluate(a0, beta0)
    reopt = reoptimise(evaluator, a0, beta0, sigma0) if reoptimise_exact else None
    return FiniteN(
        p=p, r=interference.m / interference.n, r_requested=r, n=interference.n, m=interference.m, seed=seed,
        a_meanfield=a0, bias_meanfield=beta0, loss_meanfield_optimum=float(optimum.loss),
        exact_meanfield=at_meanfield, exact_reoptimised=reopt,
        edgeworth=edgeworth_correction(p, a0, beta0, _power_sums(interference, 4), 4),
        edgeworth_reoptimised=_edgeworth_optimum(p, interference, a0, beta0, sigma0),
    )


@dataclass(frozen=True)
class RequiredN:
    """The smallest power-of-two n at which the rug is within ``tolerance`` of L* (section 4).

    ``n_exact`` (mean-field (a, beta)) and ``n_reoptimised`` (re-optimised) come from the exact
    loss, ``n_edgeworth`` from the prediction l + E_1 + E_2 at the mean-field (a, beta). Each is the
    smallest scanned n from which every scanned gap |loss/L* - 1| is <= tolerance; the scan stops
    once the gap is below tolerance/4 (past there the corrections fall like 1/n). ``rows`` holds
    (n, exact gap, re-optimised gap, Edgeworth gap) for every scanned n. None: not reached by n_max.
    ``n_leading`` = |C(p, r)| / tolerance, the continuous n at which the leading 1/n term alone,
    E_2/L* -> C/n (``edgeworth.leading_coefficient``), equals the tolerance.
    """

    p: float
    r: float
    seed: int
    tolerance: float
    n_exact: int | None
    n_reoptimised: int | None
    n_edgeworth: int | None
    n_leading: float
    rows: tuple[tuple[int, float, float | None, float], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"p": self.p, "r": self.r, "seed": self.seed, "tolerance": self.tolerance,
                "n_exact": self.n_exact, "n_reoptimised": self.n_reoptimised, "n_edgeworth": self.n_edgeworth,
                "n_leading": self.n_leading,
                "scan": [{"n": n, "relative_exact": e, "relative_reoptimised": o, "relative_edgeworth": w}
                         for n, e, o, w in self.rows]}


def _first_from(ns: list[int], gaps: list[float | None], tolerance: float) -> int | None:
    """The smallest n from which every gap is within tolerance (None if the last is not)."""
    answer = None
    for n, gap in zip(reversed(ns), reversed(gaps)):
        if gap is None or abs(gap) > tolerance:
            break
        answer = n
    return answer


def required_n(p: float, r: float, tolerance: float = 0.01, seed: int = 0, reoptimised: bool = True,
               n_max: int = 1 << 24) -> RequiredN:
    """The n needed for the rug to be within ``tolerance`` of L*(p, m/n) (derivations/14, section 4).

    Scans n = 4, 8, ... (from the first n with m < n), computing the exact loss at the mean-field
    (a, beta), optionally re-optimised, and the Edgeworth prediction, until every gap is below
    tolerance/4 or n_max is passed.
    """
    from ..optimum import solve

    p, r, seed = _check(p, r, seed)
    if r == 1.0:
        raise ParameterError("ratio (r) = 1.0: the rug is W = I at every n and L* = 0; valid: r in (0, 1) here")
    if not (isinstance(tolerance, (int, float)) and 0 < tolerance < 1):
        raise ParameterError(f"tolerance = {tolerance!r} is out of range; valid: tolerance in (0, 1)")
    n_max = _order(n_max)
    rows: list[tuple[int, float, float | None, float]] = []
    n = 2
    while n <= min(n_max, MAX_N):
        if 0 < round(r * n) < n:
            interference = rug_interference(n, r, p, seed)
            optimum = solve(p, interference.m / n)
            star = float(optimum.loss)
            evaluator = RugLoss(interference)
            a0, beta0 = float(optimum.a), float(optimum.bias)
            exact = evaluator.loss(a0, beta0) / star - 1.0
            reopt = None
            if reoptimised:
                reopt = reoptimise(evaluator, a0, beta0, float(optimum.sigma)).loss / star - 1.0
            sums = _power_sums(interference, ORDER)
            predicted = edgeworth_correction(p, a0, beta0, sums, ORDER).prediction(ORDER) / star - 1.0
            rows.append((n, exact, reopt, predicted))
            done = max(abs(exact), abs(predicted), abs(reopt) if reopt is not None else 0.0) <= tolerance / 4
            if done:
                break
        n *= 2
    ns = [row[0] for row in rows]
    return RequiredN(
        p=p, r=r, seed=seed, tolerance=float(tolerance),
        n_exact=_first_from(ns, [row[1] for row in rows], tolerance),
        n_reoptimised=_first_from(ns, [row[2] for row in rows], tolerance) if reoptimised else None,
        n_edgeworth=_first_from(ns, [row[3] for row in rows], tolerance),
        n_leading=abs(leading_coefficient(p, r)) / tolerance,
        rows=tuple(rows),
    )
