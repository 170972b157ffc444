"""ReLU^alpha for any alpha > 0: the ReLU closed form plus a one-dimensional correction (derivations/08).

With D(y) = y^alpha - y = y expm1((alpha - 1) ln y) for y > 0 (``power_kernels`` in
``rugtheory.symbolic.families`` checks the identity and derives the kernels):

    l_alpha = l_ReLU(a, sigma, beta; p) + (1 - p) Delta_in + p Delta_act,
    Delta_in  = int_0^inf y^2 expm1(2 (alpha - 1) ln y) phi((y - beta)/sigma)/sigma dy,
    Delta_act = int_0^inf D(y) [D(y) M0(y) + 2 N(y)] dy,

with M0, N the u-integrals of the Gaussian density (generated ``power_M0``, ``power_N``).
l_ReLU is ``rugtheory.numeric.closed_form`` (stable); the corrections are integrated by a
vectorised adaptive Gauss-Kronrod (7, 15) rule over y, split where the kernels turn over
(beta and a + beta, +-2, 8, 40 sigma). Every integrand is formed without cancellation
(D through expm1, N through a - 1 given exactly and a stable Phi difference), so the
correction is relative-accurate even at p = 1e-30, where alpha - 1 ~ 1e-15. At alpha = 1,
D = 0 and l_alpha is l_ReLU exactly.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy.special import ndtr

from ..numeric import _generated_families as gen
from ..numeric.closed_form import evaluate as relu_evaluate
from ._closed_form import evaluate_parts

__all__ = ["RTOL", "loss"]

RTOL = 1e-14  # tolerance of each correction, relative to the ReLU loss at the same point
_MAX_LEVELS = 200
_MAX_INTERVALS = 2000  # per row; reached only far from any optimum (e.g. a ~ 1e-10)
_EPS = np.finfo(float).eps
_OFFSETS = (-40.0, -8.0, -2.0, 0.0, 2.0, 8.0, 40.0)
_U_NODES = 24
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


@cache
def _kronrod() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes on [0, 1], Kronrod-15 weights and the embedded Gauss-7 weights (zeros elsewhere)."""
    x = np.array([
        0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
        0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
        0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
        0.207784955007898467600689403773245, 0.0,
    ])
    wk = np.array([
        0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
        0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
        0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
        0.204432940075298892414161999234649, 0.209482141084727828012999174891714,
    ])
    wg = np.array([
        0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
        0.381830050505118944950369775488975, 0.417959183673469387755102040816327,
    ])
    nodes = np.concatenate([-x[:-1], x[::-1]])
    kronrod = np.concatenate([wk[:-1], wk[::-1]])
    gauss = np.zeros(15)
    gauss[1:7:2] = wg[:3]
    gauss[7] = wg[3]
    gauss[9:14:2] = wg[:3][::-1]
    return (nodes + 1.0) / 2.0, kronrod / 2.0, gauss / 2.0


@cache
def _legendre(count: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.legendre.leggauss(count)
    return (nodes + 1.0) / 2.0, weights / 2.0


def _rule(integrand, lo, hi, rows) -> tuple[np.ndarray, np.ndarray]:
    """Kronrod-15 value and |K15 - G7| error per interval (errors at rounding level count as 0)."""
    nodes, wk, wg = _kronrod()
    width = hi - lo
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        values = integrand(lo[:, None] + width[:, None] * nodes[None, :], rows)
    values = np.where(np.isfinite(values), values, np.nan)
    kronrod = width * (values @ wk)
    error = np.abs(kronrod - width * (values @ wg))
    error = np.where(error <= 50.0 * _EPS * width * (np.abs(values) @ wk), 0.0, error)
    return kronrod, error


def _adaptive(integrand, cuts: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """sum over each row of ``cuts`` (increasing; NaN-padded) of int integrand(y, row) dy.

    Globally adaptive, vectorised over rows: each pass bisects, in every row whose summed
    error exceeds max(RTOL |integral|, tolerance[row]), the intervals whose error is at
    least a tenth of the row's largest. Errors at rounding level (50 eps sum|w f|, as in
    QUADPACK) count as zero; ``_MAX_LEVELS`` passes and ``_MAX_INTERVALS`` per row bound the work.
    """
    valid = np.isfinite(cuts[:, :-1]) & np.isfinite(cuts[:, 1:]) & (cuts[:, 1:] > cuts[:, :-1])
    rows, cols = np.nonzero(valid)
    lo, hi = cuts[rows, cols], cuts[rows, cols + 1]
    count = cuts.shape[0]
    kronrod, error = _rule(integrand, lo, hi, rows)
    for _ in range(_MAX_LEVELS):
        estimate = np.bincount(rows, kronrod, minlength=count)
        row_error = np.bincount(rows, error, minlength=count)
        open_rows = row_error > np.maximum(RTOL * np.abs(estimate), tolerance)
        open_rows &= np.bincount(rows, minlength=count) < _MAX_INTERVALS
        if not open_rows.any():
            break
        open_rows &= np.isfinite(row_error)  # a non-finite integrand: the result is NaN anyway
        worst = np.zeros(count)
        np.maximum.at(worst, rows, np.where(np.isfinite(error), error, 0.0))
        split = open_rows[rows] & (error >= 0.1 * worst[rows]) & (error > 0.0)
        split &= (hi - lo) > 1e-15 * np.maximum(np.abs(lo), np.abs(hi))  # resolution left
        if not split.any():
            break
        mid = 0.5 * (lo[split] + hi[split])
        new_rows = np.concatenate([rows[split], rows[split]])
        new_lo = np.concatenate([lo[split], mid])
        new_hi = np.concatenate([mid, hi[split]])
        new_kronrod, new_error = _rule(integrand, new_lo, new_hi, new_rows)
        keep = ~split
        rows = np.concatenate([rows[keep], new_rows])
        lo, hi = np.concatenate([lo[keep], new_lo]), np.concatenate([hi[keep], new_hi])
        kronrod = np.concatenate([kronrod[keep], new_kronrod])
        error = np.concatenate([error[keep], new_error])
    return np.bincount(rows, kronrod, minlength=count)


def _excess(y: np.ndarray, eps: np.ndarray, power: float) -> np.ndarray:
    """y^(power (1 + eps)) - y^power for y > 0, through expm1 where it matters (0 for y <= 0)."""
    positive = y > 0
    safe = np.where(positive, y, 1.0)
    log_y = np.log(safe)
    exponent = power * eps * log_y
    with np.errstate(over="ignore"):
        small = safe**power * np.expm1(exponent)
        large = safe ** (power * (1.0 + eps)) - safe**power
    return np.where(positive, np.where(np.abs(exponent) < 1.0, small, large), 0.0)


def _phi_difference(v0: np.ndarray, v1: np.ndarray) -> np.ndarray:
    """Phi(v0) - Phi(v1) without cancellation in the upper tail (there: Phi(-v1) - Phi(-v0))."""
    flip = np.where((v0 > 0) & (v1 > 0), -1.0, 1.0)
    return flip * (ndtr(flip * v0) - ndtr(flip * v1))


def _kernels(y, z, a, am1, beta, sigma) -> tuple[np.ndarray, np.ndarray]:
    """M0(y), N(y) with z = (y - beta)/sigma given exactly (sigma > 0).

    Closed form (``power_M0``, ``power_N``) where |a| >= sigma, with v0 = z and
    v1 = z - a/sigma; Gauss-Legendre in u where |a| < sigma (the u-integrand is then smooth
    on the scale sigma/|a| >= 1, and the closed form's Phi difference would cancel).
    """
    y, z, a, am1, beta, sigma = np.broadcast_arrays(y, z, a, am1, beta, sigma)
    closed = np.abs(a) >= sigma
    m0 = np.zeros(y.shape)
    n = np.zeros(y.shape)
    if closed.any():
        yc, zc, ac, am1c, bc, sc = (v[closed] for v in (y, z, a, am1, beta, sigma))
        # (a - 1) y + beta: as written where a ~ 1, as a y - sigma z (= a y - (y - beta)) where a ~ 0.
        resid = np.where(np.abs(am1c) < 0.5, am1c * yc + bc, ac * yc - sc * zc)
        v1 = zc - ac / sc
        d_big = _phi_difference(zc, v1)
        with np.errstate(under="ignore"):
            d_small = _INV_SQRT_2PI * (np.exp(-0.5 * v1 * v1) - np.exp(-0.5 * zc * zc))
        m0[closed] = gen.power_M0(ac, sc, resid, d_big, d_small)
        n[closed] = gen.power_N(ac, sc, resid, d_big, d_small)
    if not closed.all():
        nodes, weights = _legendre(_U_NODES)
        yq, zq, aq, sq = (v[~closed][:, None] for v in (y, z, a, sigma))
        v = zq - aq * nodes[None, :] / sq
        density = _INV_SQRT_2PI * np.exp(-0.5 * v * v) / sq
        m0[~closed] = density @ weights
        n[~closed] = ((yq - nodes[None, :]) * density) @ weights
    return m0, n


def _cuts(centres: list[np.ndarray], bottom: np.ndarray, top: np.ndarray, offsets=_OFFSETS) -> np.ndarray:
    """Sorted cut points in [bottom, top] per row: the ends and centre + k (k in offsets); NaN-padded."""
    points = [bottom, top]
    for c in centres:
        points += [c + k for k in offsets]
    stacked = np.stack(points, axis=1)
    stacked = np.where((stacked >= bottom[:, None]) & (stacked <= top[:, None]), stacked, np.nan)
    return np.sort(stacked, axis=1)


def _active(p, a, am1, beta, sigma, eps, scale) -> np.ndarray:
    """Delta_act: in z = (y - beta)/sigma where sigma > 0, in y (sharp kernels) where sigma = 0."""
    out = np.zeros_like(a)
    lo, hi = np.minimum(beta, a + beta), np.maximum(beta, a + beta)
    tolerance = RTOL * scale / np.maximum(p, 1e-300)
    smooth = (eps != 0.0) & (sigma > 0.0) & (hi + 40.0 * sigma > 0.0)
    if smooth.any():
        i = np.flatnonzero(smooth)

        def integrand(z, rows):
            pick = lambda v: v[i][rows][:, None]
            b, s = pick(beta), pick(sigma)
            y = b + s * z
            d = _excess(y, pick(eps), 1.0)
            m0, n = _kernels(y, z, pick(a), pick(am1), b, s)
            return s * d * (d * m0 + 2.0 * n)

        b, s = beta[i], sigma[i]
        bottom = np.maximum(-b / s, np.minimum(0.0, a[i] / s) - 40.0)
        top = np.maximum(0.0, a[i] / s) + 40.0
        cuts = _cuts([np.zeros_like(b), a[i] / s], bottom, top)
        out[i] = _adaptive(integrand, cuts, tolerance[i])
    sharp = (eps != 0.0) & (sigma == 0.0) & (hi > 0.0) & (a != 0.0)
    if sharp.any():
        i = np.flatnonzero(sharp)

        def integrand(y, rows):
            pick = lambda v: v[i][rows][:, None]
            ar, br = pick(a), pick(beta)
            inside = (y > np.minimum(br, ar + br)) & (y < np.maximum(br, ar + br))
            d = _excess(y, pick(eps), 1.0)
            m0 = np.where(inside, 1.0 / np.abs(ar), 0.0)
            n = np.where(inside, (pick(am1) * y + br) / (ar * np.abs(ar)), 0.0)
            return d * (d * m0 + 2.0 * n)

        bottom = np.maximum(lo[i], 0.0)
        cuts = _cuts([], bottom, hi[i], offsets=())
        out[i] = _adaptive(integrand, cuts, tolerance[i])
    return out


def _inactive(p, beta, sigma, alpha, scale) -> np.ndarray:
    """E[(beta + sigma Z)_+^(2 alpha)] directly (a positive integrand), in z = (y - beta)/sigma."""
    out = np.zeros_like(beta)
    point = sigma == 0.0
    out[point] = np.maximum(beta[point], 0.0) ** (2.0 * alpha[point])
    smooth = (sigma > 0.0) & (beta + 40.0 * sigma > 0.0)
    if smooth.any():
        i = np.flatnonzero(smooth)

        def integrand(z, rows):
            pick = lambda v: v[i][rows][:, None]
            y = np.maximum(pick(beta) + pick(sigma) * z, 0.0)
            return y ** (2.0 * pick(alpha)) * _INV_SQRT_2PI * np.exp(-0.5 * z * z)

        bottom = np.maximum(-beta[i] / sigma[i], -40.0)
        top = np.full(i.size, 40.0)
        cuts = _cuts([np.zeros(i.size)], bottom, top)
        tolerance = RTOL * scale[i] / np.maximum(1.0 - p[i], 1e-300)
        out[i] = _adaptive(integrand, cuts, tolerance)
    return out


def loss(p, a, am1, beta, sigma, eps) -> np.ndarray:
    """l_alpha with alpha = 1 + eps, float64, broadcast (eps and am1 given exactly).

    eps = 0 returns ``rugtheory.numeric.closed_form``'s ReLU loss itself. Otherwise
    l = (1 - p) E[y_+^(2 alpha)] + p (A_ReLU + Delta_act), with the inactive part integrated
    directly (so it does not cancel when it dominates) and A_ReLU the ReLU's active part
    (``_closed_form.evaluate_parts``).
    """
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (p, a, am1, beta, sigma, eps)))
    shape = arrays[0].shape
    p, a, am1, beta, sigma, eps = (v.reshape(-1) for v in arrays)
    out = np.asarray(relu_evaluate("loss", p, a, beta, sigma, am1), dtype=float).reshape(-1)
    bent = eps != 0.0
    if bent.any():
        pb, ab, am1b, bb, sb, eb = (v[bent] for v in (p, a, am1, beta, sigma, eps))
        scale = np.maximum(np.abs(out[bent]), 1e-300)
        _, relu_active = evaluate_parts("power1", pb, ab, am1b, bb, sb, np.zeros_like(ab))
        active = relu_active + _active(pb, ab, am1b, bb, sb, eb, scale)
        inactive = _inactive(pb, bb, sb, 1.0 + eb, scale)
        out[bent] = (1.0 - pb) * inactive + pb * active
    return out.reshape(shape)
