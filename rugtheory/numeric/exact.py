"""The exact expected loss of given weights at finite n, without sampling data (issue 5, THEORY.md).

Row i's loss is E[(ReLU(a x_i + nu + b_i) - x_i)^2] with nu = sum_{j != i} W_ij x_j independent of
x_i, so it is E[h_i(nu)] with

    h_i(v) = (1 - p) ReLU(v + b_i)^2 + p int_0^1 (ReLU(a u + v + b_i) - u)^2 du   (closed form below).

nu lives in [L, R] = [sum_j min(W_ij, 0), sum_j max(W_ij, 0)] and has the characteristic function
phi(t) = prod_j (1 - p + p (e^{i t W_ij} - 1)/(i t W_ij)) (THEORY.md, "Statistics"). Multiply h_i by
a smooth window that is 1 on [L, R] and 0 a margin M = (R - L)/2 + 1e-3 beyond it, and extend it with
period P = R - L + 2M: the result g_i equals h_i wherever nu can be, so E[h_i(nu)] = E[g_i(nu)] =
sum_k c_k phi(2 pi k / P) exactly (Parseval, c_k the Fourier coefficients of g_i; no aliasing).
The c_k come from an FFT of g_i on ``GRID`` points; the sum is cut at |k| <= K, the smallest K whose
discarded coefficients sum below ``rtol`` of the row's scale. Since |phi| <= 1 that sum bounds the
truncation error, and the bound is reported (the FFT's own aliasing is below it: GRID >> K).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ParameterError
from ..parameters import FEATURE_PROBABILITY

__all__ = ["ExactLoss", "exact_loss", "row_function"]

GRID = 1 << 14
MAX_TERMS = 4096


def row_function(v: np.ndarray, a: float, bias: float, p: float) -> np.ndarray:
    """h(v) = (1 - p) ReLU(v + bias)^2 + p int_0^1 (ReLU(a u + v + bias) - u)^2 du, elementwise in v.

    The u-integral is taken in closed form: on the firing interval [lo, hi] of u in [0, 1] (where
    a u + m > 0, m = v + bias) the integrand is ((a - 1) u + m)^2, elsewhere u^2.
    """
    m = np.asarray(v, dtype=float) + bias
    if a > 0:
        lo, hi = np.clip(-m / a, 0.0, 1.0), np.ones_like(m)
    elif a < 0:
        lo, hi = np.zeros_like(m), np.clip(-m / a, 0.0, 1.0)
    else:
        lo, hi = np.zeros_like(m), np.where(m > 0, 1.0, 0.0)
    slope = a - 1.0
    cube, square, span = hi**3 - lo**3, hi**2 - lo**2, hi - lo
    fired = slope * slope * cube / 3.0 + slope * m * square + m * m * span
    active = fired + (1.0 - cube) / 3.0
    return (1.0 - p) * np.maximum(m, 0.0) ** 2 + p * active


def _window(x: np.ndarray) -> np.ndarray:
    """A C-infinity step from 0 (x <= 0) to 1 (x >= 1)."""
    x = np.clip(x, 0.0, 1.0)
    with np.errstate(divide="ignore", over="ignore"):
        f = np.where(x > 0, np.exp(-1.0 / np.where(x > 0, x, 1.0)), 0.0)
        g = np.where(x < 1, np.exp(-1.0 / np.where(x < 1, 1.0 - x, 1.0)), 0.0)
    return f / (f + g)


def _characteristic(weights: np.ndarray, t: np.ndarray, p: float) -> np.ndarray:
    """phi(t) = prod_j (1 - p + p (e^{i t w_j} - 1)/(i t w_j)) for each t."""
    s = np.outer(t, weights)
    small = np.abs(s) < 1e-8
    safe = np.where(small, 1.0, s)
    ratio = np.where(small, 1.0 + 0.5j * s, np.expm1(1j * safe) / (1j * safe))
    return np.prod(1.0 - p + p * ratio, axis=1)


def _row(weights: np.ndarray, a: float, bias: float, p: float, rtol: float) -> tuple[float, float, int]:
    """(E h(nu), truncation bound, terms used) for one row."""
    low, high = float(np.minimum(weights, 0).sum()), float(np.maximum(weights, 0).sum())
    if high - low == 0.0:
        return float(row_function(np.array([0.0]), a, bias, p)[0]), 0.0, 1
    margin = 0.5 * (high - low) + 1e-3
    period = high - low + 2.0 * margin
    start = low - margin
    v = start + period * np.arange(GRID) / GRID
    g = row_function(v, a, bias, p) * _window((v - start) / margin) * _window((high + margin - v) / margin)
    coefficients = np.fft.fft(g) / GRID  # c_k e^{-2 pi i k start / P}
    k = np.fft.fftfreq(GRID, d=1.0 / GRID)
    magnitude = np.abs(coefficients)
    order = np.argsort(np.abs(k), kind="stable")
    tail = np.cumsum(magnitude[order][::-1])[::-1]  # tail[i] = sum of |c| beyond the first i
    scale = max(float(magnitude[0]), 1e-300)
    count = int(np.searchsorted(-tail, -rtol * scale))  # first i with tail[i] <= rtol * scale
    count = min(max(count, 1), 2 * MAX_TERMS + 1)
    bound = float(tail[count]) if count < GRID else 0.0
    used = order[:count]
    t = 2.0 * math.pi * k[used] / period
    phase = np.exp(-2j * math.pi * k[used] * start / period)  # the grid starts at v = start, not 0
    value = np.sum(coefficients[used] * phase * _characteristic(weights, t, p))
    return float(value.real), bound, count


@dataclass(frozen=True)
class ExactLoss:
    """The exact loss (mean over the rows used), its truncation bound, and the row sampling.

    ``standard_error`` is the standard error over rows when only a subsample was used (0 for all
    rows); ``error_bound`` bounds the Fourier truncation of the mean; ``terms`` is the largest K used.
    """

    loss: float
    error_bound: float
    standard_error: float
    rows: int
    n: int
    terms: int

    def to_dict(self) -> dict:
        """A JSON-ready dict; ``loss_exact`` is the loss."""
        out = asdict(self)
        out["loss_exact"] = out.pop("loss")
        return out


def exact_loss(W, b, p: float, rows: int | None = None, seed: int = 0, rtol: float = 1e-7) -> ExactLoss:
    """E[(1/n) ||ReLU(W x + b) - x||^2] exactly (module docstring), over all rows or ``rows`` drawn at random."""
    p = FEATURE_PROBABILITY.validate(p)
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    if W.ndim != 2 or W.shape[0] != W.shape[1] or W.shape[0] < 2 or not np.all(np.isfinite(W)):
        raise ParameterError(f"W must be a finite square n x n matrix with n >= 2: got shape {W.shape}")
    n = W.shape[0]
    if b.shape != (n,) or not np.all(np.isfinite(b)):
        raise ParameterError(f"b must be a finite vector of length n = {n}: got shape {b.shape}")
    chosen = np.arange(n)
    if rows is not None:
        if not 1 <= int(rows) <= n:
            raise ParameterError(f"rows = {rows!r} is out of range; valid: rows an integer in [1, {n}]")
        chosen = np.sort(np.random.default_rng(seed).choice(n, size=int(rows), replace=False))
    values, bounds, terms = [], [], 0
    for i in chosen:
        weights = np.delete(W[i], i)
        value, bound, count = _row(weights, float(W[i, i]), float(b[i]), p, rtol)
        values.append(value)
        bounds.append(bound)
        terms = max(terms, count)
    values = np.array(values)
    se = float(values.std(ddof=1) / math.sqrt(len(values)) * math.sqrt(1 - len(values) / n)) if len(values) > 1 else 0.0
    return ExactLoss(loss=float(values.mean()), error_bound=float(np.mean(bounds)), standard_error=se,
                     rows=len(values), n=n, terms=terms)
