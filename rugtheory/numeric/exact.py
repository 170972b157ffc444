"""The exact expected loss of given weights at finite n, with a rigorous error bound (issue 5).

Row i's loss is E[h_i(m)] with m = nu + b_i, nu = sum_{j != i} W_ij x_j independent of x_i, and

    h_i(m) = (1 - p) ReLU(m)^2 + p int_0^1 (ReLU(a u + m) - u)^2 du      (THEORY.md, "Statistics"),

a piecewise cubic in m with breakpoints at m = 0 and m = -a. The method (derivations/13_exact_loss.md):

1. **Window.** A Chernoff bound from the moment generating function of nu (the exact cumulant
   series for the small weights, Bennett's bound in dyadic shells for the large ones) gives
   [A, B] around the mean outside which nu has probability <= delta. The part of E h outside is
   bounded by Cauchy-Schwarz, sqrt(E q^2 delta), with q the quadratic majorant of |h - g| (its
   moments are exact, from cumulants).
2. **Periodic row function.** g = h on [A, B], joined back to h(A) over a gap of length
   (B - A)/2 by the cubic Hermite blend, extended with period P = 1.5 (B - A). g is a C^1
   piecewise cubic, so its Fourier coefficients are exact and closed form (jumps of g'', g'''),
   and E g(nu) = sum_k c_k phi(2 pi k / P) (Parseval; no grid, no aliasing).
3. **Characteristic function.** log phi = sum_j log psi(t W_ij); weights with |t W_ij| <= r R
   go through the power-sum (cumulant) series sum_q c_q (i t)^q sum_j W_ij^q, whose remainder
   has the Cauchy bound M/(1 - r) sum_j (|t W_ij|/R)^{Q+1}; the few larger ones are exact.
   The atom of nu at 0 (no feature on) is taken out exactly.
4. **Truncation.** |phi(t')| <= prod_j psibar(t W_ij) for t' >= t (a monotone envelope of
   |psi|), and |c_k| <= (1/P) sum |jumps| / |t_k|^{order+1}, so the discarded terms are bounded.

The reported bound is the sum of the window, truncation and series bounds, plus an estimate of
rounding (first-order floating-point analysis). Rows are processed as 2-D blocks, with numpy or
(``device=``) with torch on a CPU or GPU (``exact_torch``, the same computation).

Rows that need no series are done first, exactly (``_closed_rows``): a row that never fires (h = p/3
on the whole support of m), one that always fires (h is then a quadratic, so E h comes from two
moments), nu = 0, and off-diagonal weights below TINY (a Lipschitz bound). The series takes rows with
|W_ii| + |b_i| + sum_j |W_ij| <= LIMIT = 1e75, where its fourth powers stay finite; beyond it, and for
a row whose loss exceeds float64's range, exact_loss raises a one-line ParameterError.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from ..errors import ParameterError
from ..parameters import FEATURE_PROBABILITY

__all__ = ["ExactLoss", "exact_loss", "row_function"]

ORDER = 39  # Q: terms of the cumulant series (the remainder uses the power sum of order Q + 1 = 40)
RATIO = 0.8  # r: the series is used for |t W_ij| <= r R
DISK = 0.8  # R solves p g(R) = DISK, g(R) = (e^R - 1 - R)/R; then M = -log(1 - DISK)
GAP = 0.5  # the blend's length over the window's: P = (1 + GAP)(B - A)
THETA = 7.0  # first try: t_max = THETA / sigma
STAR = 2.65  # |psibar(s)| = |psi(s)| for |s| <= STAR (sin s/s >= 1/(2 pi) there)
MAX_TERMS = 1 << 17
BLOCK = 128
# The Fourier method's range. It forms fourth powers of the pre-activation m (E m^4 and the square
# of h's majorant in the window bound, about 100 M^4 with M = |W_ii| + |b_i| + sum_j |W_ij|), so
# M <= LIMIT = 1e75 keeps them below float64's 1.8e308. Its Fourier terms divide by t^4 with
# t <= 2 pi MAX_TERMS / period ~ 1e6 / |W_ij|, finite for |W_ij| >= TINY = 1e-60; rows with all
# off-diagonal weights below TINY take the Lipschitz bound instead (``_closed_rows``).
LIMIT = 1e75
TINY = 1e-60
P_MIN = 1e-290  # rtol p/3 >= 1e-14 P_MIN / 3 stays above float64's smallest normal, 2.2e-308
SPAN = 2.0**10  # rows whose loss scale E q(m) exceeds SPAN p/3 aim at a relative accuracy (``_rows``)
FLOOR = 2.0**10  # and never below FLOOR eps E q(m): closer than that is rounding
_EPS = np.finfo(float).eps


def row_function(v: np.ndarray, a: float, bias: float, p: float) -> np.ndarray:
    """h(v) = (1 - p) ReLU(v + bias)^2 + p int_0^1 (ReLU(a u + v + bias) - u)^2 du, elementwise in v.

    The u-integral is taken in closed form: on the firing interval [lo, hi] of u in [0, 1] (where
    a u + m > 0, m = v + bias) the integrand is ((a - 1) u + m)^2, elsewhere u^2. h >= 0, and it is
    inf where it exceeds float64's range (|m| or |a| beyond about 1e154).
    """
    m = np.asarray(v, dtype=float) + bias
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # huge |m| or 1/a^2: repaired below
        if a > 0:  # the three pieces (m >= 0, -a < m < 0, m <= -a), in Horner form
            try:
                curve, square = 1.0 / (3.0 * a) + 1.0 / (3.0 * a * a), (a - 1.0) ** 2
            except (ZeroDivisionError, OverflowError):  # Python floats raise where numpy gives inf
                curve, square = math.inf, (a - 1.0) * (a - 1.0)
            partial = p * ((curve * m + 1.0) * m + (a - 1.0)) * m + p * square / 3.0
            middle = (m < 0) & (m > -a)
            if not np.all(np.isfinite(partial[middle])):  # 1/a^2 overflows for tiny a: the form in lo = -m/a
                partial = np.where(np.isfinite(partial), partial, _piece_middle(m, np.full_like(m, a), p)[..., 0])
            on = m * m + p * ((a - 1.0) * m + square / 3.0)
            out = np.where(m >= 0, on, np.where(m > -a, partial, p / 3.0))
        else:
            if a < 0:
                lo, hi = np.zeros_like(m), np.clip(-m / a, 0.0, 1.0)
            else:
                lo, hi = np.zeros_like(m), np.where(m > 0, 1.0, 0.0)
            slope = a - 1.0
            cube, square, span = hi**3 - lo**3, hi**2 - lo**2, hi - lo
            fired = np.where(span > 0, slope * slope * cube / 3.0 + slope * m * square + m * m * span, 0.0)
            active = fired + (1.0 - cube) / 3.0
            out = (1.0 - p) * np.maximum(m, 0.0) ** 2 + p * active
    return np.where(np.isnan(out), np.inf, out)  # inf - inf in a piece beyond float64's range: h >= 0 is huge


# --- the row function's pieces: (h, h', h'', h''') as a trailing axis of 4 -----------------------


def _piece_low(m: np.ndarray, a: np.ndarray, p: float) -> np.ndarray:
    """No unit fires (m <= min(0, -a)): h = p/3."""
    out = np.zeros(np.shape(m) + (4,))
    out[..., 0] = p / 3.0
    return out


def _piece_high(m: np.ndarray, a: np.ndarray, p: float) -> np.ndarray:
    """Fires for every u (m >= max(0, -a)): h = m^2 + p s m + p s^2/3, s = a - 1."""
    s = a - 1.0
    return np.stack([m * m + p * s * m + p * s * s / 3.0, 2.0 * m + p * s, np.full_like(m, 2.0), np.zeros_like(m)], -1)


def _piece_middle(m: np.ndarray, a: np.ndarray, p: float) -> np.ndarray:
    """Fires on part of [0, 1]: u > lo = -m/a (a > 0, -a < m < 0) or u < hi = -m/a (a < 0, 0 < m < -a).

    a = 0 has no middle piece (its two breakpoints coincide); the high piece stands in.
    """
    s = a - 1.0
    safe = np.where(a == 0, 1.0, a)
    with np.errstate(over="ignore"):  # x is in [0, 1] where the piece applies; elsewhere only kept finite
        x = np.clip(-m / safe, -1.0, 2.0)  # lo (a > 0) or hi (a < 0)
    inv = 1.0 / safe
    positive = np.stack([
        p * (s * s * (1 - x**3) / 3 + s * m * (1 - x * x) + m * m * (1 - x) + x**3 / 3),
        p * (s * (1 - x * x) + 2 * m * (1 - x)),
        2 * p * (1 - x - x * inv),
        np.broadcast_to(2 * p * (1 + inv) * inv, np.shape(m)),
    ], -1)
    negative = np.stack([
        (1 - p) * m * m + p * (s * s * x**3 / 3 + s * m * x * x + m * m * x + (1 - x**3) / 3),
        2 * (1 - p) * m + p * (s * x * x + 2 * m * x),
        2 * (1 - p) + 2 * p * x * (1 + inv),
        np.broadcast_to(-2 * p * (1 + inv) * inv, np.shape(m)),
    ], -1)
    high = _piece_high(m, a, p)
    return np.where((a > 0)[..., None], positive, np.where((a < 0)[..., None], negative, high))


def _breakpoints(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The m where h changes piece: (min(0, -a), max(0, -a))."""
    return np.minimum(0.0, -a), np.maximum(0.0, -a)


def _pieces(m: np.ndarray, a: np.ndarray, p: float, right: bool) -> np.ndarray:
    """(h, h', h'', h''') of the true h at m, from the right of a breakpoint if ``right``."""
    first, second = _breakpoints(a)
    low = (m < first) if right else (m <= first)
    high = (m >= second) if right else (m > second)
    return np.where(low[..., None], _piece_low(m, a, p),
                    np.where(high[..., None], _piece_high(m, a, p), _piece_middle(m, a, p)))


# --- the single feature's log characteristic function and its Taylor coefficients ----------------


@lru_cache(maxsize=64)
def _series(p: float) -> tuple[np.ndarray, float, float]:
    """(c_0..c_Q, R, M): f(z) = log(1 + p (E(z) - 1)) = sum c_q z^q, E(z) = (e^z - 1)/z.

    On |z| <= R, |p (E(z) - 1)| <= p g(R) = DISK < 1, so |f| <= M = -log(1 - DISK) and
    |c_q| <= M / R^q (Cauchy). c_q from (1 + A) f' = A' in 40-digit mpmath.
    """
    import mpmath
    from scipy.optimize import brentq

    def excess(r: float) -> float:
        return p * math.expm1(r) / r - p - DISK

    if excess(200.0) > 0:
        radius = brentq(excess, 1e-9, 200.0, xtol=1e-14)
    else:  # p below ~2e-85: R > 200, solved in logs (e^R overflows beyond 709; R < 751 for p >= 5e-324)
        def log_excess(r: float) -> float:  # log(p (e^r - 1 - r) / r) - log(DISK)
            return r + math.log1p(-(1 + r) * math.exp(-r)) - math.log(r) - math.log(DISK) + math.log(p)

        radius = brentq(log_excess, 200.0, 800.0, xtol=1e-12)
    radius *= 1 - 1e-12  # stay inside
    with mpmath.workdps(40):
        mp_p = mpmath.mpf(p)
        a = [mpmath.mpf(0)] + [mp_p / mpmath.factorial(k + 1) for k in range(1, ORDER + 1)]
        c = [mpmath.mpf(0)] * (ORDER + 1)
        for k in range(1, ORDER + 1):
            c[k] = a[k] - sum((k - j) * c[k - j] * a[j] for j in range(1, k)) / k
    return np.array([float(x) for x in c]), float(radius), -math.log1p(-DISK)


def _log_phi_large(big: np.ndarray, t1: np.ndarray, width: int, p: float) -> np.ndarray:
    """sum_j log psi(k t1 w_j) for k = 1..width (rows, width), w_j the packed large weights (0 = padding).

    e^{i k s} by repeated multiplication (error ~ k eps), psi = 1 - p - i (p / (k s)) (e^{i k s} - 1);
    the product over j is taken in chunks of 64 before the log (|psi| <= 1: no overflow).
    """
    rows, count = big.shape
    pad = big == 0.0
    s1 = t1[:, None] * big
    base = np.where(pad, 1.0, 1.0 - p)
    scale = np.where(pad, 0.0, p / np.where(pad, 1.0, s1))
    z1 = np.exp(1j * s1)
    groups = -(-count // 64)
    full = groups * 64
    if full != count:
        base = np.concatenate([base, np.ones((rows, full - count))], axis=1)
        scale = np.concatenate([scale, np.zeros((rows, full - count))], axis=1)
        z1 = np.concatenate([z1, np.ones((rows, full - count), dtype=complex)], axis=1)
    factor = -1j * scale  # p / (i s)
    out = np.empty((rows, width), dtype=complex)
    chunk = max(1, min(width, (1 << 20) // max(rows * full, 1)))
    z = np.ones((rows, full), dtype=complex)
    for start in range(0, width, chunk):
        stop = min(width, start + chunk)
        powers = np.cumprod(np.broadcast_to(z1[:, :, None], (rows, full, stop - start)), axis=2)
        powers *= z[:, :, None]
        z = powers[:, :, -1].copy()
        powers -= 1.0
        powers *= factor[:, :, None] * (1.0 / np.arange(start + 1, stop + 1))
        powers += base[:, :, None]
        product = powers.reshape(rows, groups, 64, stop - start).prod(axis=2)
        out[:, start:stop] = np.log(product).sum(axis=1)
    return out


def _log_envelope(s: np.ndarray, p: float) -> np.ndarray:
    """log psibar(s) >= log sup_{|s'| >= |s|} |psi(s')| (non-increasing in |s|; 0 at s = 0).

    |psi|^2 = (1-p)^2 + 2p(1-p) sin s/s + p^2 sinc^2(s/2); sup_{s' >= s} sin s'/s' <=
    max(sin s/s [s < pi], 1/max(s, 2 pi)) and sup sinc^2(s'/2) <= max(sinc^2(s/2) [s < 2 pi], 1/max(s/2, pi)^2).
    """
    s = np.abs(s)
    first = np.maximum(np.where(s < math.pi, np.sinc(s / math.pi), 0.0), 1.0 / np.maximum(s, 2 * math.pi))
    second = np.maximum(np.where(s < 2 * math.pi, np.sinc(s / (2 * math.pi)) ** 2, 0.0),
                        1.0 / np.maximum(0.5 * s, math.pi) ** 2)
    square = (1 - p) ** 2 + 2 * p * (1 - p) * first + p * p * second
    return np.minimum(0.5 * np.log(square), 0.0)


def _power_sums(u: np.ndarray, order: int, inner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sum_j u_j^q, sum_{j inner} u_j^q) for q = 0..order, per row (|u| <= 1; tiny powers flushed to 0).

    The second is kept for even q only (zeros elsewhere): it feeds the envelope's log |phi|.
    """
    out = np.zeros((u.shape[0], order + 1))
    part = np.zeros((u.shape[0], order + 1))
    ones = np.ones(u.shape[1])
    weight = inner.astype(float)
    out[:, 0] = u.shape[1]
    acc = u.copy()
    out[:, 1] = acc @ ones
    for q in range(2, order + 1):
        acc *= u
        out[:, q] = acc @ ones
        if q % 2 == 0:
            part[:, q] = np.einsum("ij,ij->i", acc, weight)
        if q % 8 == 0:
            acc[np.abs(acc) < 1e-200] = 0.0  # avoid subnormal arithmetic
    return out, part


def _horner(coefficients: np.ndarray, sums: np.ndarray, z: np.ndarray) -> np.ndarray:
    """sum_{q=2}^{Q} c_q z^q sums_q, rows of ``sums`` against rows of z (broadcast on z's last axis)."""
    total = np.zeros_like(z) + coefficients[ORDER] * sums[:, ORDER, None]
    for q in range(ORDER - 1, 1, -1):
        total = total * z + coefficients[q] * sums[:, q, None]
    return total * z * z


def _gather_large(w: np.ndarray, large: np.ndarray) -> np.ndarray:
    """The entries of w where ``large``, packed left per row and padded with zeros."""
    rows, cols = np.nonzero(large)
    counts = np.bincount(rows, minlength=w.shape[0])
    out = np.zeros((w.shape[0], max(int(counts.max(initial=0)), 1)))
    if rows.size:
        start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        out[rows, np.arange(rows.size) - start[rows]] = w[rows, cols]
    return out


@dataclass(frozen=True)
class _Rows:
    """Per-row results of one block: value, bound (and its parts) and terms used."""

    value: np.ndarray
    bound: np.ndarray
    window: np.ndarray
    truncation: np.ndarray
    series: np.ndarray
    rounding: np.ndarray
    terms: np.ndarray
    decay: np.ndarray  # log envelope / theta^2: about -1/2 when phi decays like a Gaussian


def _remainder(x: np.ndarray, sums_used: np.ndarray, radius: float, cap: float) -> np.ndarray:
    """Cauchy bound on the series' tail for |x| = |t| tau <= r R."""
    ratio = np.abs(x) / radius
    return cap / (1 - ratio) * ratio ** (ORDER + 1) * sums_used[:, ORDER + 1, None]


def _window(big: np.ndarray, tau: np.ndarray, sigma: np.ndarray, t_max: np.ndarray, p: float,
            sums_small: np.ndarray, log_delta: np.ndarray, support_low: np.ndarray, support_high: np.ndarray):
    """Step 1, the window [low, high] of nu - mu and whether each edge is inside the support.

    Chernoff: the exact cumulant series for the small weights, Bennett's bound
    (var / b^2)(e^{lam b} - 1 - lam b) for the large ones, in dyadic shells b = 2^s tau.
    Returns (low, high, lower_free, upper_free).
    """
    c, radius, cap = _series(p)
    kappa2 = 2 * c[2]
    ladder = np.minimum(2.0 ** (np.arange(-2, 13) / 2)[None, :] / sigma[:, None], t_max[:, None])  # <= t_max
    shell = np.ceil(np.log2(np.where(big != 0, np.abs(big), tau[:, None]) / tau[:, None])).clip(0, 60)
    shell = np.where(big != 0, shell, -1)
    bennett = np.zeros_like(ladder)
    for s in np.unique(shell[shell >= 0]):
        top = tau * 2.0**s
        power = np.where(shell == s, big * big, 0.0).sum(axis=1)
        x = ladder * top[:, None]
        with np.errstate(over="ignore", invalid="ignore"):  # inf: that lambda gives no bound, another one will
            bennett += np.where(power[:, None] > 0, kappa2 * power[:, None] / top[:, None] ** 2 * (np.expm1(x) - x), 0.0)
    edges = []
    for sign in (1.0, -1.0):
        lam = sign * ladder
        log_m = _horner(c, sums_small, lam * tau[:, None]) + _remainder(lam * tau[:, None], sums_small, radius, cap) + bennett
        edges.append(np.min((log_m - log_delta[:, None]) / ladder, axis=1))
    upper_free, lower_free = edges[0] < support_high, -edges[1] > support_low
    low = np.where(lower_free, -edges[1], support_low)
    high = np.where(upper_free, edges[0], support_high)
    return low, high, lower_free, upper_free


@dataclass(frozen=True)
class _Periodic:
    """Step 2's periodic g: period, breakpoint positions (rows, 4), jumps (rows, 4, 4 orders),
    mean c0 over a period, and a bound on |g| over the Hermite gap (``gap_sup``)."""

    period: np.ndarray
    position: np.ndarray
    jumps: np.ndarray
    c0: np.ndarray
    gap_sup: np.ndarray


def _periodic_cubic(low: np.ndarray, high: np.ndarray, beta: np.ndarray, a: np.ndarray, p: float) -> _Periodic:
    """Step 2, the periodic C^1 piecewise cubic g: h on [low, high] (m = y + beta), Hermite blend on the gap."""
    gap = GAP * (high - low)
    period = high - low + gap
    left = _pieces(low + beta, a, p, right=True)
    right = _pieces(high + beta, a, p, right=False)
    y0, d0, y1, d1 = right[:, 0], right[:, 1], left[:, 0], left[:, 1]
    blend2_start = (6 * (y1 - y0) / gap - 4 * d0 - 2 * d1) / gap
    blend2_end = (-6 * (y1 - y0) / gap + 2 * d0 + 4 * d1) / gap
    blend3 = (12 * (y0 - y1) / gap + 6 * (d0 + d1)) / gap**2
    first, second = _breakpoints(a)
    position = np.stack([low, np.clip(first - beta, low, high), np.clip(second - beta, low, high), high], axis=1)
    m_at = position + beta[:, None]
    piece = [_piece_low, _piece_middle, _piece_high]
    blend_end = np.stack([y1, d1, blend2_end, blend3], -1)
    blend_start = np.stack([y0, d0, blend2_start, blend3], -1)
    jumps = np.stack([
        piece[0](m_at[:, 0], a, p) - blend_end,
        piece[1](m_at[:, 1], a, p) - piece[0](m_at[:, 1], a, p),
        piece[2](m_at[:, 2], a, p) - piece[1](m_at[:, 2], a, p),
        blend_start - piece[2](m_at[:, 3], a, p),
    ], axis=1)  # (rows, 4 positions, 4 orders)
    for k in (3, 2, 1):  # merge coincident positions (clipped breakpoints)
        same = position[:, k] == position[:, k - 1]
        jumps[:, k - 1] += np.where(same[:, None], jumps[:, k], 0.0)
        jumps[:, k] = np.where(same[:, None], 0.0, jumps[:, k])
    jumps[:, :, 0] = 0.0  # g is continuous by construction
    # mean of g over a period: 2-point Gauss-Legendre on each cubic piece, Hermite's own rule on the gap
    integral = 0.5 * gap * (y0 + y1) + gap * gap * (d0 - d1) / 12
    node = 0.5 / math.sqrt(3.0)
    # Widths in m = y + beta lose |beta| / (high - low) of their precision to the rounding of m: where that
    # exceeds 1, they are taken in y (a window of 1e-10 at beta = 0.2 lost 1e-7 of c0 in m)
    far = np.abs(beta) > high - low
    for k in range(3):
        start, stop = m_at[:, k], m_at[:, k + 1]
        middle, width = 0.5 * (start + stop), stop - start
        if far.any():
            width = np.where(far, position[:, k + 1] - position[:, k], width)
            middle = np.where(far, beta + 0.5 * (position[:, k] + position[:, k + 1]), middle)
        for offset in (-node, node):
            integral = integral + 0.5 * width * piece[k](middle + offset * width, a, p)[:, 0]
    c0 = integral / period
    gap_sup = np.maximum(np.abs(y0), np.abs(y1)) + 4 / 27 * gap * (np.abs(d0) + np.abs(d1))
    return _Periodic(period=period, position=position, jumps=jumps, c0=c0, gap_sup=gap_sup)


def _truncation_bound(g: _Periodic, terms: np.ndarray, too_short: np.ndarray, envelope: np.ndarray) -> np.ndarray:
    """The discarded Fourier terms k > K: the jumps' k^-(o+1) tails times the envelope of |phi|."""
    size = np.abs(g.jumps[:, :, 1:]).sum(axis=1)  # (rows, 3): orders 1, 2, 3
    tail = sum(size[:, o - 1] * (g.period / (2 * math.pi)) ** (o + 1) * terms.astype(float) ** (-o) / o
               for o in (1, 2, 3))
    return np.where(too_short, np.inf, envelope * 2 * tail / g.period)


def _window_bound(g: _Periodic, a: np.ndarray, beta: np.ndarray, p: float, sums: np.ndarray, low: np.ndarray,
                  high: np.ndarray, log_delta: np.ndarray, lower_free: np.ndarray, upper_free: np.ndarray) -> np.ndarray:
    """|E (h - g)(nu)| outside the window, by Cauchy-Schwarz: sqrt(E (|h| + |g|)^2 P(outside))."""
    c = _series(p)[0]
    kappa2 = 2 * c[2]
    alpha0, alpha2 = p * (2 * a * a + 1), 1 + p
    g_max = np.maximum(alpha0 + alpha2 * np.maximum((low + beta) ** 2, (high + beta) ** 2), g.gap_sup)
    kappa3, kappa4 = 6 * c[3] * sums[:, 2], 24 * c[4] * sums[:, 3]
    second_moment = kappa2 * sums[:, 1] + beta**2
    fourth_moment = kappa4 + 3 * (kappa2 * sums[:, 1]) ** 2 + 4 * beta * kappa3 + 6 * beta**2 * kappa2 * sums[:, 1] + beta**4
    constant = alpha0 + g_max
    q_square = constant**2 + 2 * constant * alpha2 * second_moment + alpha2**2 * fourth_moment
    outside = np.exp(log_delta) * (upper_free.astype(float) + lower_free.astype(float))
    return np.sqrt(np.maximum(q_square, 0.0) * outside)


def _block(w: np.ndarray, a: np.ndarray, b: np.ndarray, p: float, tol: np.ndarray,
           theta: np.ndarray, log_delta: np.ndarray) -> _Rows:
    """Rows of ``w`` (off-diagonal weights, the diagonal set to 0) by the module's method."""
    c, radius, cap = _series(p)
    kappa2 = 2 * c[2]
    square = w * w
    sums = np.stack([w.sum(axis=1), square.sum(axis=1), (square * w).sum(axis=1), (square * square).sum(axis=1)], axis=1)
    mu = c[1] * sums[:, 0]
    sigma = np.sqrt(kappa2 * sums[:, 1])
    beta = b + mu
    support_low = np.minimum(w, 0).sum(axis=1) - mu
    support_high = np.maximum(w, 0).sum(axis=1) - mu

    t_max = theta / sigma
    tau = RATIO * radius / t_max
    size = np.abs(w)
    small = size <= tau[:, None]
    inner = size <= (STAR / (RATIO * radius)) * tau[:, None]  # |t_max w| <= STAR: the envelope is |psi| there
    medium = (small & ~inner).sum(axis=1)
    sums_small, sums_inner = _power_sums(np.where(small, w / tau[:, None], 0.0), ORDER + 1, inner)
    big = _gather_large(w, ~small)

    def remainder(x: np.ndarray, sums_used: np.ndarray = sums_small) -> np.ndarray:
        return _remainder(x, sums_used, radius, cap)

    # 1. the window; 2. the periodic C^1 piecewise cubic g
    low, high, lower_free, upper_free = _window(big, tau, sigma, t_max, p, sums_small, log_delta,
                                                support_low, support_high)
    g = _periodic_cubic(low, high, beta, a, p)
    period, position, jumps, c0 = g.period, g.position, g.jumps, g.c0

    # 3. the Fourier terms k = 1..K (K <= t_max P / 2 pi so the series stays valid)
    raw = np.floor(t_max * period / (2 * math.pi))
    too_short = raw < 1  # t_1 > t_max: the series would not be valid; redone with a larger theta
    terms = np.clip(raw, 1, MAX_TERMS).astype(np.int64)
    width = int(terms.max())
    k = np.arange(1, width + 1)
    t = 2 * math.pi * k[None, :] / period[:, None]  # (rows, K)
    used = k[None, :] <= terms[:, None]
    t = np.where(used, t, 0.0)
    log_phi = _horner(c, sums_small, 1j * t * tau[:, None]) + _log_phi_large(big, t[:, 0], width, p)
    log_phi = log_phi - 0.5j * p * t * big.sum(axis=1)[:, None]
    series = remainder(t * tau[:, None])
    phi = np.where(used, np.exp(log_phi), 0.0)
    # the atom of nu at 0 (all features off, probability q^N): E g = q^N g(-mu) + sum_k c_k (phi - q^N e^{-i t mu})
    nonzero = (w != 0.0).sum(axis=1)
    atom = np.exp(nonzero * math.log1p(-p))
    atom = np.where((low <= -mu) & (-mu <= high), atom, 0.0)
    at_zero = _pieces(b, a, p, right=True)[:, 0]  # g(-mu) = h(b_i) inside the window
    phi = np.where(used, phi - atom[:, None] * np.exp(-1j * t * mu[:, None]), 0.0)
    it = 1j * np.where(used, t, 1.0)
    coefficient = np.zeros(t.shape, dtype=complex)
    scale = np.zeros(t.shape)
    for j in range(4):
        phase = np.exp(-1j * t * position[:, j, None])
        for order in range(1, 4):
            term = jumps[:, j, order, None] / it ** (order + 1)
            coefficient += term * phase
            scale += np.abs(term)
    coefficient = np.where(used, coefficient / period[:, None], 0.0)
    scale = scale / period[:, None]
    value = atom * at_zero + c0 * (1 - atom) + 2 * np.sum((coefficient * phi).real, axis=1)

    # 4. bounds
    magnitude = 2 * np.abs(coefficient) * np.abs(phi)
    series_bound = np.sum(magnitude * np.expm1(series), axis=1)
    # envelope at t_max (<= t_{K+1}): inner weights by the even series (psibar = |psi| for |s| <= STAR),
    # medium ones by psibar(STAR) (monotone), large ones exactly
    x_env = (t_max * tau)[:, None]
    log_env = (_horner(c, sums_inner, 1j * x_env).real + remainder(x_env, sums_inner))[:, 0]
    log_env += medium * float(_log_envelope(np.array(STAR), p)) + _log_envelope(t_max[:, None] * big, p).sum(axis=1)
    envelope = np.exp(np.minimum(log_env, 0.0)) + atom
    # |phi - q^N e^{-i t mu}| <= prod_j (q + p |E_j|) - q^N, |E_j(t)| = |sinc(t w_j / 2)| <= min(1, 2/|t w_j|)
    visible = np.flatnonzero(atom > 1e-30)
    if visible.size:
        s_env = t_max[visible, None] * w[visible]
        bar = np.where(w[visible] != 0.0, np.minimum(1.0, 2.0 / np.maximum(np.abs(s_env), 1e-300)), 0.0)
        without = atom[visible] * np.expm1(np.log1p(p / (1 - p) * bar).sum(axis=1))
        envelope[visible] = np.minimum(envelope[visible], without)
    truncation = _truncation_bound(g, terms, too_short, envelope)
    window = _window_bound(g, a, beta, p, sums, low, high, log_delta, lower_free, upper_free)
    # first-order rounding estimate: relative eps on c0, on each c_k term, on log phi (plus k eps from the
    # power recurrence), and on the atom's part
    rounding = 8 * _EPS * (np.abs(c0) + atom * np.abs(at_zero)
                           + np.sum(magnitude * (1 + np.abs(log_phi) + k[None, :]), axis=1)
                           + 2 * np.sum(scale * np.abs(phi), axis=1))
    bound = window + truncation + series_bound + rounding
    return _Rows(value=value, bound=bound, window=window, truncation=truncation, series=series_bound,
                 rounding=rounding, terms=terms, decay=log_env / theta**2)


def _resolve_device(device) -> str | None:
    """None (numpy) or a torch device string for ``exact_loss(device=...)``; ParameterError if unavailable.

    None: numpy; "auto": "cuda" if torch and CUDA are available, else numpy; "cpu": the torch path on
    the CPU; "cuda" or "cuda:N": torch on that GPU. torch is imported here only (STYLE.md 7).
    """
    if device is None:
        return None
    valid = "valid: None, 'auto', 'cpu' or an available 'cuda:N'"
    if not isinstance(device, str) or not re.fullmatch(r"auto|cpu|cuda(:[0-9]+)?", device):
        raise ParameterError(f"device {device!r} is not a known device; {valid}")
    try:
        import torch
    except ImportError:
        if device == "auto":
            return None
        raise ParameterError(f"device {device!r} is not available (torch is missing: pip install "
                             f"'rugtheory[torch]'); {valid}") from None
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else None
    if device == "cpu":
        return "cpu"
    index = int(device.partition(":")[2] or 0)
    if not torch.cuda.is_available() or index >= torch.cuda.device_count():
        raise ParameterError(f"device {device!r} is not available; {valid}")
    return device


def _overflow(row: int, log10_loss: float) -> ParameterError:
    """The one-line error for a row whose loss exceeds float64's range."""
    return ParameterError(f"row {row} of W and b has a loss of about 1e{log10_loss:.0f}, beyond float64's "
                          f"1.8e308; valid: rows with a loss below 1.8e308 (|b_i| + sum_j |W_ij| below about 1e150)")


def _always_on(w: np.ndarray, a: np.ndarray, b: np.ndarray, p: float, gamma: float, rows: np.ndarray):
    """(value, bound) of rows that fire for every x: m >= max(0, -a) on the support of nu.

    There h = m^2 + p s m + p s^2/3 = (m + p s/2)^2 + kappa2 s^2 (s = a - 1, kappa2 = p/3 - p^2/4), so
    E h = (beta + p s/2)^2 + kappa2 (S + s^2) exactly, from the mean beta = b + (p/2) sum_j w_j and the
    variance kappa2 S, S = sum_j w_j^2 (derivations/13_exact_loss.md, the high piece). Rows beyond 2^400
    are evaluated in units of a power of two (exact) so that no square overflows; the bound is the
    rounding of the sums (relative gamma) carried through the square.
    """
    s = a - 1.0
    size = np.maximum(np.maximum(np.abs(b), np.abs(s)), np.abs(w).max(axis=1, initial=0.0))
    shift = np.where(size > 2.0**400, np.frexp(size)[1], 0)
    w, b, s = np.ldexp(w, -shift[:, None]), np.ldexp(b, -shift), np.ldexp(s, -shift)
    kappa2 = p / 3.0 - p * p / 4.0
    centre = b + 0.5 * p * (w.sum(axis=1) + s)
    value = centre * centre + kappa2 * ((w * w).sum(axis=1) + s * s)
    error = gamma * (np.abs(b) + 0.5 * p * (np.abs(w).sum(axis=1) + np.abs(s)))
    bound = 2 * np.abs(centre) * error + error * error + gamma * value
    with np.errstate(over="ignore"):
        scaled, value, bound = value, np.ldexp(value, 2 * shift), np.ldexp(bound, 2 * shift)
    for local in np.flatnonzero(~np.isfinite(value)):
        raise _overflow(int(rows[local]), math.log10(scaled[local]) + 2 * int(shift[local]) * math.log10(2))
    return value, bound


def _closed_rows(weights: np.ndarray, a: np.ndarray, b: np.ndarray, p: float, rows: np.ndarray):
    """(done, value, bound): the rows whose loss needs no Fourier series, and their loss and bound.

    With plus = sum_j max(W_ij, 0), minus = sum_j min(W_ij, 0), D = plus - minus (m = b + nu ranges over
    [b + minus, b + plus]; sums taken with a rounding margin, so each test is rigorous):

    * never fires, b + max(a, 0) + plus <= 0: h = p/3 on the whole range, the loss is p/3 exactly;
    * always fires, b + min(a, 0) + minus >= 0: h is the high piece, a quadratic (``_always_on``);
    * no off-diagonal weight (nu = 0): h(b);
    * all |W_ij| < TINY: h(b), with the Lipschitz bound |E h(b + nu) - h(b)| <= (2 (|b| + D) + p |a - 1|) (p/2) D,
      since |h'(m)| <= 2 |m| + p |a - 1| and E |nu| <= (p/2) D.

    The other rows go to the Fourier method, which needs |a| + |b| + D <= LIMIT: ParameterError beyond it,
    and for a row whose loss exceeds float64's range.
    """
    count, n = weights.shape
    gamma = (n + 4) * _EPS  # relative rounding of a sum of n + 3 terms (gamma_k = k u / (1 - k u), u = eps/2)
    value, bound = np.zeros(count), np.zeros(count)
    with np.errstate(over="ignore", invalid="ignore"):  # sums of entries near 1e308 overflow to inf: no test holds
        plus = np.maximum(weights, 0.0).sum(axis=1)
        minus = np.minimum(weights, 0.0).sum(axis=1)
        spread = plus - minus
        high, low = np.maximum(a, 0.0), np.minimum(a, 0.0)
        never = b + high + plus + gamma * (np.abs(b) + high + plus) <= 0
        always = ~never & (b + low + minus - gamma * (np.abs(b) - low - minus) >= 0)
        size = np.abs(a) + np.abs(b) + spread
    value[never] = p / 3.0
    if always.any():
        value[always], bound[always] = _always_on(weights[always], a[always], b[always], p, gamma, rows[always])
    nonzero = np.any(weights != 0.0, axis=1)
    tiny = ~never & ~always & (np.abs(weights).max(axis=1, initial=0.0) < TINY)  # includes nu = 0
    for local in np.flatnonzero(tiny):
        value[local] = float(row_function(np.array([0.0]), float(a[local]), float(b[local]), p)[0])
        if not math.isfinite(value[local]):
            raise _overflow(int(rows[local]), 2 * math.log10(size[local]))
        if nonzero[local]:
            lipschitz = (2 * (abs(b[local]) + spread[local]) + p * abs(a[local] - 1.0)) * 0.5 * p * spread[local]
            bound[local] = lipschitz * (1 + gamma) + gamma * value[local]
    done = never | always | tiny
    limit = f"{LIMIT:.0e}".replace("e+", "e")
    for local in np.flatnonzero(~done & ~(size <= LIMIT)):
        raise ParameterError(
            f"row {int(rows[local])} of W and b has |W_ii| + |b_i| + sum_j |W_ij| = {size[local]:.3g}, beyond the "
            f"exact method's range (its fourth powers overflow float64); valid: at most {limit}, or a row that "
            f"never fires (b_i + max(W_ii, 0) + sum_j max(W_ij, 0) <= 0) or always fires")
    return done, value, bound


def _rows(W: np.ndarray, b: np.ndarray, p: float, chosen: np.ndarray, rtol: float,
          device: str | None = None) -> _Rows:
    """All chosen rows: blocks of BLOCK rows, then retries with a longer t range for rows over tolerance.

    ``device`` None runs ``_block`` (numpy); a torch device string runs ``exact_torch.block`` there.
    """
    block = _block
    if device is not None:
        from functools import partial

        from .exact_torch import block as torch_block

        block = partial(torch_block, device=device)
    count = chosen.size
    out = {name: np.zeros(count) for name in ("value", "bound", "window", "truncation", "series", "rounding")}
    out["terms"] = np.zeros(count, dtype=np.int64)
    out["decay"] = np.zeros(count)
    a_all = W[chosen, chosen]
    pending = np.arange(count)
    weights = W[chosen].copy()
    weights[np.arange(count), chosen] = 0.0
    done, value, bound = _closed_rows(weights, a_all, b[chosen], p, chosen)
    out["value"][done], out["bound"][done] = value[done], bound[done]
    pending = pending[~done]
    # The target: rtol p/3 (W = 0's loss as the scale), or relative, f E q with f = max(rtol / SPAN, FLOOR eps),
    # for rows whose loss scale E q(m) >= E h (q = alpha0 + alpha2 m^2, E m^2 = beta^2 + kappa2 S) is beyond
    # SPAN p/3 (weights or biases far from order 1), so that they aim at a relative accuracy as others do
    with np.errstate(over="ignore"):
        beta = b[chosen] + 0.5 * p * weights.sum(axis=1)
        variance = (p / 3 - p * p / 4) * (weights * weights).sum(axis=1)
        scale = p * (2 * a_all * a_all + 1) + (1 + p) * (beta * beta + variance)
    relative = max(rtol / SPAN, FLOOR * _EPS)
    floored = relative * scale > rtol * p / 3.0
    tol = np.where(floored, relative * scale, rtol * p / 3.0)
    # A diagonal so small that the middle piece's derivatives (~ p / a^2 over a width |a|) would swamp the Fourier
    # terms is taken as 0: |h_a - h_0| <= p |a| (|m| + (|a| + 2)/3), with E |m| <= |b| + (p/2) sum_j |W_ij|
    with np.errstate(over="ignore"):
        mean_size = np.abs(b[chosen]) + 0.5 * p * np.abs(weights).sum(axis=1)
        flat_error = p * np.abs(a_all) * (mean_size + (np.abs(a_all) + 2) / 3)
    flat = (a_all != 0) & (flat_error <= tol / 3)
    a_all = np.where(flat, 0.0, a_all)
    theta = np.full(count, THETA)
    # P(outside) aims at (tol/3)^2 e^-4 in units of the row's scale (1, or E q where relative): the window
    # bound sqrt(E q^2 delta) is then about tol/3 e^-2
    log_delta = 2 * np.log(np.where(floored, relative, tol) / 3) - 4.0
    for _ in range(16):
        if pending.size == 0:
            break
        again = []
        for start in range(0, pending.size, BLOCK):
            part = pending[start:start + BLOCK]
            result = block(weights[part], a_all[part], b[chosen[part]], p, tol[part], theta[part], log_delta[part])
            for name, array in out.items():
                array[part] = getattr(result, name)
            failed = result.bound > tol[part]
            capped = result.terms >= MAX_TERMS
            for local in np.flatnonzero(failed & ~capped):
                index = part[local]
                if result.window[local] > tol[index] / 3:
                    log_delta[index] += 2 * math.log(tol[index] / 3 / result.window[local]) - 2.0
                if result.truncation[local] > tol[index] / 3 or result.series[local] > tol[index] / 3:
                    ratio = max(result.truncation[local] / (tol[index] / 3), 1.0)
                    if not math.isfinite(ratio):  # too few terms for the series to hold
                        theta[index] *= 4.0
                    elif result.decay[local] < -0.25:  # Gaussian decay: |phi| ~ exp(-theta^2 / 2)
                        theta[index] = math.sqrt(theta[index] ** 2 + 2 * math.log(ratio) + 2.0)
                    else:  # slow decay (few active features): the truncation falls like K^-3 or slower
                        theta[index] *= float(np.clip(ratio ** (1 / 3) * 1.15, 1.3, 16.0))
                again.append(index)
        pending = np.array(again, dtype=np.int64)
    out["bound"] += np.where(flat & ~done, flat_error, 0.0)
    return _Rows(**out)


@dataclass(frozen=True)
class ExactLoss:
    """The exact loss (mean over the rows used), its rigorous error bound, and the row sampling.

    ``standard_error`` is the standard error over rows when only a subsample was used (0 for all
    rows); ``error_bound`` bounds |loss - mean of the exact row losses| (window, truncation,
    series and an estimate of rounding, derivations/13); ``terms`` is the largest K used.
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


def exact_loss(W, b, p: float, rows: int | None = None, seed: int = 0, rtol: float = 1e-6,
               device: str | None = None) -> ExactLoss:
    """E[(1/n) ||ReLU(W x + b) - x||^2] exactly (module docstring), over all rows or ``rows`` drawn at random.

    Each row's error is aimed below ``rtol * p/3`` (the loss of W = 0), or, for a row whose loss scale
    E q(m) exceeds SPAN p/3 (weights far from order 1), below a relative rtol / SPAN of it; the bound
    actually reached is reported. ``device``: None (numpy), "auto" (CUDA if torch sees one, else
    numpy), "cpu" (torch on the CPU) or "cuda"/"cuda:N" (torch on that GPU); the torch path is the
    same computation (``exact_torch``). ParameterError (a ValueError) on bad input or an unavailable device, for
    p < P_MIN, for a row beyond the method's range (|W_ii| + |b_i| + sum_j |W_ij| > LIMIT, unless it
    never or always fires) and for a row whose loss exceeds float64's range.

    >>> import numpy as np
    >>> result = exact_loss(np.zeros((4, 4)), np.zeros(4), 0.3)  # W = 0: p/3
    >>> round(result.loss, 12), result.error_bound
    (0.1, 0.0)
    """
    p = FEATURE_PROBABILITY.validate(p)
    if np.ndim(p) != 0:
        raise ParameterError(f"feature_probability (p) must be a single number; valid: {FEATURE_PROBABILITY.domain_text()}")
    p = float(p)
    if p < P_MIN:
        raise ParameterError(f"feature_probability (p) = {p!r} is below the exact method's {P_MIN:g} (its target "
                             f"rtol p/3 must stay a normal float64); valid: p in [{P_MIN:g}, 1)")
    try:
        W = np.asarray(W, dtype=float)
        b = np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError("W and b must be numeric arrays: W n x n, b of length n") from None
    if W.ndim != 2 or W.shape[0] != W.shape[1] or W.shape[0] < 2 or not np.all(np.isfinite(W)):
        raise ParameterError(f"W must be a finite square n x n matrix with n >= 2: got shape {W.shape}")
    n = W.shape[0]
    if b.shape != (n,) or not np.all(np.isfinite(b)):
        raise ParameterError(f"b must be a finite vector of length n = {n}: got shape {b.shape}")
    if not (isinstance(rtol, (int, float)) and 1e-14 <= rtol < 1):
        raise ParameterError(f"rtol = {rtol!r} is out of range; valid: rtol in [1e-14, 1)")
    device = _resolve_device(device)
    chosen = np.arange(n)
    if rows is not None:
        if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or not 1 <= int(rows) <= n:
            raise ParameterError(f"rows = {rows!r} is out of range; valid: rows an integer in [1, {n}]")
        chosen = np.sort(np.random.default_rng(seed).choice(n, size=int(rows), replace=False))
    result = _rows(W, b, p, chosen, float(rtol), device)
    count = len(result.value)
    # losses up to 1.8e308 each: their mean, spread and bound in units of a power of two (exact), as
    # sums and squares of them would overflow
    top = float(max(np.max(result.value), np.max(result.bound)))
    shift = int(np.frexp(top)[1]) if top > 2.0**400 else 0
    values, bounds = np.ldexp(result.value, -shift), np.ldexp(result.bound, -shift)
    se = float(values.std(ddof=1) / math.sqrt(count) * math.sqrt(1 - count / n)) if count > 1 else 0.0
    return ExactLoss(loss=math.ldexp(float(values.mean()), shift), error_bound=math.ldexp(float(bounds.mean()), shift),
                     standard_error=math.ldexp(se, shift), rows=count, n=n,
                     terms=int(result.terms.max()))
