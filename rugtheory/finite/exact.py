"""The exact finite-n loss of the Hadamard rug at any (a, beta) (derivations/14_finite_n.md, section 1).

Every row of the rug has the same loss (``interference`` module), E[F_a(beta + a (xi - E xi))] with

    F_a(m) = (1 - p) ReLU(m)^2 + p int_0^1 (ReLU(a u + m) - u)^2 du.

Take a window [A, B] that holds xi - E xi except with probability P_out <= e^-92 (Chernoff, from
the exact moment generating function), a C-infinity taper of width M = (B - A)/2 on each side, and
period P = 2 (B - A). The windowed F is a smooth periodic g, and E g = sum_k c_k phi(2 pi k / P)
(Parseval), with c_k from a real FFT and phi the characteristic function of xi - E xi. Because the
window is fitted to xi and not to a, the phi values are computed once per (n, r, p, seed) and every
(a, beta) costs one FFT; that is what makes the re-optimisation cheap.

Error bound (reported): the discarded Fourier terms, 2 sum_{k > K} |c_k| times a bound on |phi|
beyond 2 pi K / P (``RugInterference.envelope``); the mass outside the window, sup|g| P_out +
sqrt(E F^2) sqrt(P_out); and an estimate of the FFT's own error in the K coefficients used (its
rounding floor, the median |c_k| of the top octave, plus the aliasing extrapolated from |c_K|, each
weighted by sum_k |phi_k|; an estimate, not a bound).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np

from ..errors import ParameterError
from ..numeric.exact import row_function as exact_row_function
from ..parameters import BIAS, DIAG
from .interference import RugInterference, rug_interference

__all__ = ["GRID", "RugExactLoss", "RugLoss", "row_function", "rug_exact_loss"]

GRID = 1 << 17
MAX_TERMS = GRID // 8


def row_function(m: np.ndarray, a: float, p: float) -> np.ndarray:
    """F_a(m) = (1 - p) ReLU(m)^2 + p int_0^1 (ReLU(a u + m) - u)^2 du: ``numeric.exact.row_function`` at bias 0."""
    return exact_row_function(m, a, 0.0, p)


def _step(x: np.ndarray) -> np.ndarray:
    """A C-infinity step from 0 (x <= 0) to 1 (x >= 1)."""
    x = np.clip(x, 0.0, 1.0)
    with np.errstate(divide="ignore", over="ignore"):
        f = np.where(x > 0, np.exp(-1.0 / np.where(x > 0, x, 1.0)), 0.0)
        g = np.where(x < 1, np.exp(-1.0 / np.where(x < 1, 1.0 - x, 1.0)), 0.0)
    return f / (f + g)


@dataclass(frozen=True)
class RugExactLoss:
    """The exact per-feature loss of the Hadamard rug at (a, beta), with its error bound.

    ``bias`` is the effective bias beta; ``standard_error`` is 0 (every row has the same loss);
    ``terms`` is the number K of Fourier terms used; ``log10_outside`` the log10 Chernoff bound
    on the interference's mass outside the window.
    """

    n: int
    m: int
    seed: int
    p: float
    a: float
    bias: float
    loss: float
    error_bound: float
    standard_error: float
    terms: int
    log10_outside: float

    def to_dict(self) -> dict:
        """A JSON-ready dict (a -inf log10_outside, mass exactly 0, becomes None)."""
        out = asdict(self)
        if not math.isfinite(out["log10_outside"]):
            out["log10_outside"] = None
        return out


class RugLoss:
    """The exact loss of one rug (fixed n, r, p, seed) as a function of (a, beta); see the module.

    The window and the characteristic function are computed on construction and never change.
    """

    def __init__(self, interference: RugInterference, grid: int = GRID) -> None:
        self.interference = interference
        self.grid = int(grid)
        self.degenerate = interference.support[1] - interference.support[0] <= 0.0
        if self.degenerate:  # every weight is 0 (m = n: W = a I), nu = 0 exactly
            self.log_outside, self.terms = -math.inf, 0
            return
        low, high, self.log_outside = interference.window()
        self.margin = 0.5 * (high - low)
        self.start = low - self.margin
        self.period = 2.0 * (high - low)
        self.terms = self._terms()
        # c_k ~ k^-3 (F'' jumps), so the aliasing of the K terms used is ~ (K/G)^3 |c_K|; G >= 1024 K
        # keeps it near 1e-13 of the loss (measured at p = 0.01: 64 K left 5e-9, 512 K 2e-11)
        self.grid = min(self.grid, max(1 << 13, 1 << (1024 * self.terms - 1).bit_length()))
        self.xi = self.start + self.period * np.arange(self.grid) / self.grid
        self.taper = _step((self.xi - self.start) / self.margin) * _step((high + self.margin - self.xi) / self.margin)
        k = np.arange(1, self.terms + 1)
        tau = 2.0 * math.pi * k / self.period
        phase = np.exp(-2j * math.pi * k * self.start / self.period)
        self._weights = phase * interference.characteristic(tau)
        self._envelope = interference.envelope(2.0 * math.pi * (self.terms + 1) / self.period)
        self._phi_sum = float(np.abs(self._weights).sum())

    def _terms(self) -> int:
        """The smallest K with |phi| <= 1e-30 beyond 2 pi K / P, capped at MAX_TERMS (= GRID / 8)."""
        envelope = self.interference.envelope
        tau = 2.0 * math.pi / self.period
        if envelope(tau * MAX_TERMS) > 1e-30:
            return MAX_TERMS
        low, high = 0, MAX_TERMS
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if envelope(tau * mid) > 1e-30 else (low, mid)
        return max(high, 8)

    @cached_property
    def _moments(self) -> tuple[float, float, float, float]:
        """Cumulants kappa_1..kappa_4 of xi (kappa_1 is unused: the window is centred)."""
        return tuple(self.interference.cumulant(k) for k in range(1, 5))  # type: ignore[return-value]

    def evaluate(self, a: float, beta: float) -> RugExactLoss:
        """The exact loss and its error bound at diagonal ``a`` and effective bias ``beta``."""
        a, beta = DIAG.validate(a), BIAS.validate(beta)
        if np.ndim(a) or np.ndim(beta):
            raise ParameterError("diag (a) and bias (beta) must be single numbers")
        value, bound = self._evaluate(a, beta, with_bound=True)
        xi = self.interference
        return RugExactLoss(n=xi.n, m=xi.m, seed=xi.seed, p=xi.p, a=float(a), bias=float(beta), loss=value,
                            error_bound=bound, standard_error=0.0, terms=self.terms,
                            log10_outside=self.log_outside / math.log(10.0))

    def loss(self, a: float, beta: float) -> float:
        """The exact loss alone (no validation; for the optimiser)."""
        return self._evaluate(float(a), float(beta), with_bound=False)[0]

    def _evaluate(self, a: float, beta: float, with_bound: bool) -> tuple[float, float]:
        p = self.interference.p
        if self.degenerate:
            return float(row_function(np.array([beta]), a, p)[0]), 0.0
        g = row_function(beta + a * self.xi, a, p) * self.taper
        c = np.fft.rfft(g) / self.grid
        K = self.terms
        value = float(c[0].real + 2.0 * np.sum((c[1:K + 1] * self._weights).real))
        if not with_bound:
            return value, math.nan
        magnitude = np.abs(c)
        tail = 2.0 * float(magnitude[K + 1:].sum()) * self._envelope
        # FFT error of the K coefficients used, each weighted by |phi_k|: rounding, measured as the
        # median |c| of the top octave (the noise floor there), and aliasing, c_{G-k} extrapolated
        # from |c_K| with the k^-3 decay of a function whose second derivative jumps.
        floor = float(np.median(magnitude[self.grid // 4:]))
        aliasing = 1.21 * float(magnitude[K]) * (K / (self.grid - K)) ** 3
        fft_error = 2.0 * self._phi_sum * (floor + aliasing)
        outside = 0.0
        if self.log_outside > -math.inf:
            _, k2, k3, k4 = self._moments
            fourth = beta**4 + 6 * beta**2 * a**2 * k2 + 4 * beta * a**3 * k3 + a**4 * (k4 + 3 * k2 * k2)
            # F <= 5 m^2 + 4 a^2 + 2, so E F^2 <= 3 (25 E m^4 + 16 a^4 + 4) (derivations/14, section 1).
            second = 3.0 * (25.0 * fourth + 16.0 * a**4 + 4.0)
            p_out = math.exp(self.log_outside)
            outside = float(g.max()) * p_out + math.sqrt(second * p_out)
        return value, tail + fft_error + outside


def rug_exact_loss(p: float, r: float, n: int, a: float | None = None, bias: float | None = None,
                   seed: int = 0) -> RugExactLoss:
    """The exact loss of the Hadamard rug W = a H_S^T H_S/m, b = bias - mu (derivations/14, section 1).

    ``a`` and ``bias`` (the effective bias beta) default to the mean-field optimum solve(p, m/n).

    >>> out = rug_exact_loss(0.05, 0.5, 64, seed=0)
    >>> out.m, out.standard_error, out.error_bound < 1e-6 * out.loss
    (32, 0.0, True)
    """
    interference = rug_interference(n, r, p, seed)
    if a is None or bias is None:
        from ..optimum import solve

        optimum = solve(p, interference.m / interference.n)
        a = optimum.a if a is None else a
        bias = optimum.bias if bias is None else bias
    return RugLoss(interference).evaluate(a, bias)
