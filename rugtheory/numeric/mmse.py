"""The MMSE of one feature seen through Gaussian noise: float64 quadrature and Monte Carlo.

derivations/09_mmse.md. With v = x + kappa Z and xhat = E[x | v] (``rugtheory.numeric.posterior``)

    MMSE = (1 - p) E[xhat(kappa Z)^2] + p int_0^1 E[(xhat(u + kappa Z) - u)^2] du,

a sum of non-negative parts, each integrand formed without cancellation (``active_error``). It
is never computed as E x^2 - E xhat^2: at p = 1e-30 the MMSE is ~1e-31 of E x^2.

Quadrature. Gauss-Legendre panels in the scaled variable z (v = u + kappa z) and in u. The
posterior switches from "off" to "on" at v_th = kappa z_th (the root of the log-odds, found by
bisection; z_th ~ sqrt(2 ln(1/(p kappa sqrt(2 pi)))) when kappa is small) over a width
1/lambda'(z_th) in z, which is ~1/z_th. The z-panels are a unit grid on [-10, 10] (the Gaussian
weight) merged with a grid graded geometrically away from the switch; the u-panels are unit
panels in u/kappa around 0 and the switch, and in (1 - u)/kappa near 1 (the truncation layer),
merged with a grid of step 1/16 (for large kappa). Beyond |z| = 10 the integrand is below
phi(10) (z + z_th)^2 kappa^2 ~ 1e-20 of the bulk kappa^2.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from scipy.special import roots_legendre

from .montecarlo import MonteCarloEstimate, _chunks, _Moments
from .posterior import active_error, log_odds_and_mean, posterior_mean

__all__ = ["GL_ORDER", "mmse_mc", "mmse_quadrature", "switch_point"]

GL_ORDER = 20
WINDOW = 10.0       # half-width of the Gaussian window in z
LAYER = 10.0        # unit panels this far (in units of kappa) around the layers
BISECTIONS = 200
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@cache
def _legendre(order: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = roots_legendre(order)
    return 0.5 * (nodes + 1.0), 0.5 * weights


def _log_odds_at(z: float, p: float, noise: float) -> float:
    """Log-odds of "on" for an observation v = noise z."""
    return float(log_odds_and_mean(z, 1.0 / noise - z, p, noise)[1])


def switch_point(p: float, noise: float) -> tuple[float, float]:
    """(z_th, width): the root of the log-odds in z = v/kappa and 1/(its slope there).

    The log-odds is increasing in v (the likelihood ratio int_0^1 exp((u v - u^2/2)/kappa^2) du
    is). Returns z_th = -inf when the posterior favours "on" throughout the Gaussian window.
    """
    lo = -WINDOW - 2.0
    if _log_odds_at(lo, p, noise) >= 0.0:
        return -math.inf, 1.0
    hi = 1.0
    while _log_odds_at(hi, p, noise) <= 0.0:
        lo, hi = hi, 2.0 * hi
    for _ in range(BISECTIONS):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if _log_odds_at(mid, p, noise) > 0.0:
            hi = mid
        else:
            lo = mid
    z = 0.5 * (lo + hi)
    step = 1e-4 * max(1.0, abs(z))
    slope = (_log_odds_at(z + step, p, noise) - _log_odds_at(z - step, p, noise)) / (2.0 * step)
    width = 1.0 / slope if slope > 0 else 1.0
    return z, float(min(max(width, 1e-3), 1.0))


def _graded(centre: np.ndarray, width: float, reach: float) -> np.ndarray:
    """Points centre +- width 2^j (j = -1, 0, 1, ...) up to +-reach, shape (..., count)."""
    steps = [0.0]
    step = 0.5 * width
    while step < reach:
        steps.append(step)
        step *= 2.0
    steps.append(reach)
    offsets = np.array(sorted({-s for s in steps} | set(steps)))
    return centre[..., None] + offsets


def _nodes(breaks: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on the panels between sorted break points (per row)."""
    x, w = _legendre(order)
    left, width = breaks[..., :-1, None], np.diff(breaks, axis=-1)[..., None]
    shape = breaks.shape[:-1] + (-1,)
    return (left + width * x).reshape(shape), (width * w).reshape(shape)


def _off_part(p: float, noise: float, z_th: float, width: float, order: int) -> float:
    """E[xhat(kappa Z)^2]."""
    top = max(WINDOW, z_th + WINDOW) if math.isfinite(z_th) else WINDOW
    points = [np.linspace(-WINDOW, WINDOW, 21), [top]]
    if math.isfinite(z_th):
        points.append(np.clip(_graded(np.array(z_th), width, 8.0), -WINDOW, top))
    breaks = np.unique(np.concatenate(points))
    z, w = _nodes(breaks, order)
    xhat = posterior_mean(noise * z, p, noise)
    return float(np.sum(w * _INV_SQRT_2PI * np.exp(-0.5 * z * z) * xhat * xhat))


def _u_panels(noise: float, z_th: float) -> tuple[np.ndarray, np.ndarray]:
    """u break points, as (u, 1 - u) pairs kept exact near each end."""
    near0 = [0.0, LAYER]
    if math.isfinite(z_th) and z_th > 0.0:
        near0 += list(np.arange(max(z_th - LAYER, 0.0), z_th + LAYER + 0.5))
        near0 += list(np.linspace(0.0, max(z_th - LAYER, 0.0), 5))
    else:
        near0 += list(np.arange(0.0, LAYER + 0.5))
    near1 = np.arange(0.0, LAYER + 0.5)
    grid = np.linspace(0.0, 1.0, 17)
    from_zero = np.concatenate([noise * np.array(near0), grid[grid <= 0.5]])
    from_one = np.concatenate([noise * near1, (1.0 - grid)[grid > 0.5]])
    from_zero = np.unique(from_zero[(from_zero >= 0.0) & (from_zero <= 0.5)])
    from_one = np.unique(from_one[(from_one >= 0.0) & (from_one < 0.5)])
    u = np.concatenate([from_zero, 1.0 - from_one[::-1]])
    one_minus_u = np.concatenate([1.0 - from_zero, from_one[::-1]])
    return u, one_minus_u


def _on_part(p: float, noise: float, z_th: float, width: float, order: int) -> float:
    """int_0^1 E[(xhat(u + kappa Z) - u)^2] du."""
    u_breaks, v_breaks = _u_panels(noise, z_th)
    x, wq = _legendre(order)
    # nodes from the nearer end of each panel, so that u and 1 - u are both exact
    left_u, right_u = u_breaks[:-1, None], u_breaks[1:, None]
    left_v, right_v = v_breaks[:-1, None], v_breaks[1:, None]
    lower_half = (u_breaks[1:] <= 0.5)[:, None]
    u = np.where(lower_half, left_u + (right_u - left_u) * x, 1.0 - (left_v - (left_v - right_v) * x))
    one_minus_u = np.where(lower_half, 1.0 - u, left_v - (left_v - right_v) * x)
    du = np.where(lower_half, right_u - left_u, left_v - right_v) * wq
    u, one_minus_u, du = u.reshape(-1), one_minus_u.reshape(-1), du.reshape(-1)
    regular = np.broadcast_to(np.linspace(-WINDOW, WINDOW, 21), (u.size, 21))
    if math.isfinite(z_th):
        centre = z_th - u / noise
        extra = np.clip(_graded(centre, width, 8.0), -WINDOW, WINDOW)
        breaks = np.sort(np.concatenate([regular, extra], axis=1), axis=1)
    else:
        breaks = regular
    z, wz = _nodes(breaks, order)
    error = active_error(u[:, None], one_minus_u[:, None], z, p, noise)
    inner = np.sum(wz * _INV_SQRT_2PI * np.exp(-0.5 * z * z) * error * error, axis=1)
    return float(np.sum(du * inner))


def mmse_quadrature(p: float, noise: float, order: int = GL_ORDER) -> float:
    """MMSE(p, noise) by panel Gauss-Legendre quadrature (inputs validated by the caller)."""
    if noise == 0.0:
        return 0.0
    z_th, width = switch_point(p, noise)
    off = _off_part(p, noise, z_th, width, order)
    on = _on_part(p, noise, z_th, width, order)
    return (1.0 - p) * off + p * on


def mmse_mc(
    p: float, noise: float, samples: int = 1_000_000, seed: int = 0, stratify: bool = True
) -> MonteCarloEstimate:
    """Monte Carlo MMSE with its standard error; deterministic for a seed.

    ``stratify=True`` samples the off and on strata with half of the draws each and combines them
    with their exact weights (as ``rugtheory.numeric.montecarlo``): SE^2 = (1 - p)^2 var_off/n_off +
    p^2 var_on/n_on. ``stratify=False`` draws x from the mixture: SE^2 = var/n.
    """
    rng = np.random.default_rng(seed)
    if noise == 0.0:
        return MonteCarloEstimate(loss=0.0, standard_error=0.0, samples=int(samples))
    if not stratify:
        total = _Moments()
        for n in _chunks(samples):
            active = rng.random(n) < p
            u = np.where(active, rng.random(n), 0.0)
            z = rng.standard_normal(n)
            error = np.where(active, active_error(u, 1.0 - u, z, p, noise),
                             posterior_mean(noise * z, p, noise))
            total.add(error * error)
        return MonteCarloEstimate(loss=float(total.mean),
                                  standard_error=math.sqrt(total.variance / max(total.count, 1)),
                                  samples=int(samples))
    n_off = samples // 2
    off, on = _Moments(), _Moments()
    for n in _chunks(n_off):
        off.add(posterior_mean(noise * rng.standard_normal(n), p, noise) ** 2)
    for n in _chunks(samples - n_off):
        u = rng.random(n)
        on.add(active_error(u, 1.0 - u, rng.standard_normal(n), p, noise) ** 2)
    loss = (1.0 - p) * off.mean + p * on.mean
    error = math.sqrt((1.0 - p) ** 2 * off.variance / max(off.count, 1)
                      + p**2 * on.variance / max(on.count, 1))
    return MonteCarloEstimate(loss=float(loss), standard_error=float(error), samples=int(samples))
