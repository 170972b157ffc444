"""The interference of one row of the Hadamard rug, exactly (derivations/14_finite_n.md, section 1).

For the Sylvester matrix H_si H_sj = H_{s, i xor j}, so the rug W = a H_S^T H_S / m has
W_ij = a g(i xor j) / m with g = H 1_S (a Walsh-Hadamard transform of the indicator of S). Row i's
off-diagonal entries are therefore {a g(k)/m : k = 1, ..., n - 1} for every i, and every row has the
same b_i = beta - mu: all n rows have the same loss, and one row is the exact loss of the matrix (no
row sampling, standard error 0). The interference is nu = a xi with

    xi = sum_{k=1}^{n-1} (g(k)/m) x_k,

a sum over few distinct weights v_d = g/m with multiplicities c_d. Its characteristic function is
prod_d psi(t v_d)^{c_d}, psi(s) = 1 - p + p (e^{is} - 1)/(is), and its moment generating function
gives Chernoff bounds on its tails. numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.optimize import minimize_scalar

from ..errors import ParameterError
from ..parameters import FEATURE_PROBABILITY, RATIO, check_seed
from ..weights.hadamard import rug_rows

__all__ = ["RugInterference", "rug_interference", "walsh_hadamard"]

MAX_N = 1 << 26


def _order(n: object) -> int:
    """n as an int if it is a power of two in [2, 2^26], else ParameterError."""
    valid = f"n a power of two in [2, {MAX_N}] (2, 4, 8, ...)"
    try:
        value = int(n)  # type: ignore[call-overload]
        ok = value == n and not isinstance(n, bool)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ParameterError(f"n_features (n) must be an integer: got {n!r}; valid: {valid}")
    if value < 2 or value > MAX_N or value & (value - 1):
        raise ParameterError(f"n_features (n) = {value} is out of range; valid: {valid}")
    return value


def walsh_hadamard(x: np.ndarray) -> np.ndarray:
    """H x for the Sylvester matrix of order len(x) (a power of two), in O(n log n).

    >>> walsh_hadamard(np.array([1.0, 0.0, 0.0, 1.0])).tolist()
    [2.0, 0.0, 0.0, 2.0]
    """
    y = np.array(x, dtype=float)
    n = y.size
    h = 1
    while h < n:
        y = y.reshape(-1, 2, h)
        y = np.stack((y[:, 0] + y[:, 1], y[:, 0] - y[:, 1]), axis=1)
        h *= 2
    return y.reshape(n)


def log_mgf_one(s: np.ndarray, p: float) -> np.ndarray:
    """log E e^{s x} = log(1 - p + p (e^s - 1)/s) for one coordinate, without overflow."""
    s = np.asarray(s, dtype=float)
    small = np.abs(s) < 1e-6
    safe = np.where(small, 1.0, s)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        positive = safe - np.log(safe) + np.log(-np.expm1(-safe))
        negative = np.log(-np.expm1(safe)) - np.log(-safe)
    log_q = np.where(small, s / 2 + s * s / 24, np.where(s > 0, positive, negative))
    return np.logaddexp(math.log1p(-p), math.log(p) + log_q)


def _log_psi(s: np.ndarray, p: float) -> np.ndarray:
    """log psi(s) = log(1 + p z), z = (e^{is} - 1)/(is) - 1, accurate when p z is small.

    z comes from its Taylor series for |s| < 3/2 (the closed form cancels there), and
    log(1 + w) = log1p(2 Re w + |w|^2)/2 + i atan2(Im w, 1 + Re w), so that the sum over the n - 1
    weights (each counted c_d times) does not pile up the rounding of 1 + p z.
    """
    small = np.abs(s) < 1.5
    i_s = 1j * np.where(small, s, 1.0)
    series = np.zeros_like(i_s)
    term = np.ones_like(i_s)
    for k in range(2, 30):  # sum_{k>=2} (is)^(k-1)/k!; the rest is < 1.5^29/30! < 1e-27
        term = term * i_s / k
        series = series + term
    closed = np.expm1(1j * np.where(small, 1.0, s)) / (1j * np.where(small, 1.0, s)) - 1.0
    w = p * np.where(small, series, closed)
    return 0.5 * np.log1p(2.0 * w.real + w.real**2 + w.imag**2) + 1j * np.arctan2(w.imag, 1.0 + w.real)


def _psi_envelope(s: np.ndarray, p: float) -> np.ndarray:
    """A bound on sup_{|s'| >= |s|} |psi(s')|, non-increasing in |s| (derivations/14, section 1).

    |psi(s)|^2 = (1 - p)^2 + 2 p (1 - p) sin(s)/s + p^2 sinc(s/2)^2, and each of sin(s)/s and
    sinc(s/2)^2 is replaced by its supremum over |s'| >= |s| (bounded above by monotone pieces).
    """
    s = np.abs(np.asarray(s, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        sin_ratio = np.where(s > 0, np.sin(s) / np.where(s > 0, s, 1.0), 1.0)
        half = s / 2
        sinc2 = np.where(half > 0, (np.sin(half) / np.where(half > 0, half, 1.0)) ** 2, 1.0)
    # sin(s)/s decreases on [0, 4.4934]; its later maxima are < 0.1284 (first at s = 7.7253).
    first = np.where(s < 4.4934, np.maximum(sin_ratio, 0.1284), np.where(s < 7.7253, 0.1284, 1.0 / np.maximum(s, 1.0)))
    # sinc(s/2)^2 decreases on [0, 2 pi]; its later maxima are < 0.0472.
    second = np.where(s < 2 * math.pi, np.maximum(sinc2, 0.0472), np.minimum(0.0472, 4.0 / np.maximum(s, 1.0) ** 2))
    squared = (1 - p) ** 2 + 2 * p * (1 - p) * first + p * p * second
    return np.sqrt(np.clip(squared, 0.0, 1.0))


@dataclass(frozen=True, eq=False)
class RugInterference:
    """xi = sum_k (g(k)/m) x_k for one row of the rug (module docstring); nu = a xi.

    ``values`` are the distinct off-diagonal weights v_d = g/m (divided by a), ``counts`` their
    multiplicities (summing to n - 1). ``zero_row`` says whether Hadamard row 0 (all ones) is in S,
    which fixes the row sum sum_k g(k) = n [0 in S] - m.
    """

    n: int
    m: int
    seed: int
    p: float
    values: np.ndarray
    counts: np.ndarray
    zero_row: bool

    def power_sum(self, k: int) -> float:
        """sum_{j != i} (W_ij / a)^k = sum_d c_d v_d^k."""
        return float(np.dot(self.counts, self.values**k))

    @cached_property
    def data_cumulants(self) -> tuple[float, ...]:
        """kappa_1..kappa_12 of one coordinate x (``edgeworth.data_cumulants``)."""
        from .edgeworth import data_cumulants

        return tuple(data_cumulants(self.p, 12))

    def cumulant(self, k: int) -> float:
        """kappa_k(xi) = kappa_k(x) sum_d c_d v_d^k (independent coordinates)."""
        return self.data_cumulants[k - 1] * self.power_sum(k)

    @property
    def mean(self) -> float:
        """E xi = (p/2) sum_d c_d v_d (so mu = a E xi)."""
        return 0.5 * self.p * self.power_sum(1)

    @property
    def std(self) -> float:
        """sd xi = sqrt((p/3 - p^2/4) S / a^2) = sqrt(Var x (n/m - 1))."""
        return math.sqrt(self.p * (4.0 - 3.0 * self.p) / 12.0 * self.power_sum(2))

    def log_mgf(self, theta: float) -> float:
        """log E e^{theta xi} = sum_d c_d log(1 - p + p (e^{theta v_d} - 1)/(theta v_d))."""
        return float(np.dot(self.counts, log_mgf_one(theta * self.values, self.p)))

    def characteristic(self, tau: np.ndarray) -> np.ndarray:
        """E exp(i tau (xi - E xi)) for each tau, as exp(sum_d c_d log psi(tau v_d))."""
        tau = np.asarray(tau, dtype=float)
        out = np.empty(tau.shape, dtype=complex)
        flat_tau, flat_out = tau.ravel(), out.ravel()
        chunk = max(1, (1 << 22) // max(self.values.size, 1))
        for start in range(0, flat_tau.size, chunk):
            s = np.outer(flat_tau[start:start + chunk], self.values)
            logs = _log_psi(s, self.p) @ self.counts
            flat_out[start:start + chunk] = np.exp(logs - 1j * flat_tau[start:start + chunk] * self.mean)
        return flat_out.reshape(tau.shape)

    def envelope(self, tau: float) -> float:
        """A bound on |E e^{i t xi}| for every |t| >= |tau| (non-increasing in |tau|)."""
        return float(np.exp(np.dot(self.counts, np.log(np.maximum(_psi_envelope(tau * self.values, self.p), 1e-300)))))

    @cached_property
    def support(self) -> tuple[float, float]:
        """[L, R] - E xi, where L and R are the sums of the negative and the positive weights."""
        low = float(np.dot(self.counts, np.minimum(self.values, 0.0)))
        high = float(np.dot(self.counts, np.maximum(self.values, 0.0)))
        return low - self.mean, high - self.mean

    def log_tail_bound(self, t: float, upper: bool) -> float:
        """log of a Chernoff bound on P(xi - E xi >= t) (upper) or P(xi - E xi <= -t), t > 0."""
        sign = 1.0 if upper else -1.0
        scale = t / max(self.std**2, 1e-300)

        def exponent(u: float) -> float:
            theta = math.exp(u)
            return self.log_mgf(sign * theta) - theta * (sign * self.mean + t)

        found = minimize_scalar(exponent, bounds=(math.log(scale) - 12.0, math.log(scale) + 8.0), method="bounded",
                                options={"xatol": 1e-6})
        return min(0.0, float(found.fun), exponent(math.log(scale)))

    def window(self, log_eps: float = -92.0) -> tuple[float, float, float]:
        """(A, B, log P_out): xi - E xi lies in [A, B] but with probability <= exp(log P_out).

        A, B grow geometrically from 8 sd until both Chernoff bounds are below e^log_eps, and are
        cut at the support (beyond which the probability is exactly 0).
        """
        low_support, high_support = self.support
        bounds, logs = [], []
        for upper, edge in ((False, -low_support), (True, high_support)):
            t = 8.0 * self.std
            while True:
                if t >= edge:
                    t, log_p = edge, -math.inf
                    break
                log_p = self.log_tail_bound(t, upper)
                if log_p <= log_eps:
                    break
                t *= 1.25
            bounds.append(t)
            logs.append(log_p)
        log_out = float(np.logaddexp(logs[0], logs[1])) if max(logs) > -math.inf else -math.inf
        return -bounds[0], bounds[1], log_out


def rug_interference(n: int, r: float, p: float, seed: int = 0) -> RugInterference:
    """The interference of the Hadamard rug with the rows of ``weights.rug_rows(n, r, seed)``.

    The weight multiset comes from g = H 1_S by a fast Walsh-Hadamard transform, so no n x n matrix
    is formed (n up to 2^26).

    >>> xi = rug_interference(16, 0.25, 0.05, seed=1)
    >>> xi.m, int(xi.counts.sum()), round(xi.power_sum(2), 12)  # S / a^2 = n/m - 1
    (4, 15, 3.0)
    """
    n = _order(n)
    r = RATIO.validate(r)
    p = FEATURE_PROBABILITY.validate(p)
    if np.ndim(r) != 0 or np.ndim(p) != 0:
        raise ParameterError("ratio (r) and feature_probability (p) must be single numbers")
    seed = check_seed(seed)
    rows = rug_rows(n, r, seed)
    m = int(rows.size)
    indicator = np.zeros(n)
    indicator[rows] = 1.0
    g = np.rint(walsh_hadamard(indicator)[1:]).astype(np.int64)
    distinct, counts = np.unique(g, return_counts=True)
    return RugInterference(n=n, m=m, seed=seed, p=float(p), values=distinct / m, counts=counts.astype(float),
                           zero_row=bool(rows[0] == 0))
