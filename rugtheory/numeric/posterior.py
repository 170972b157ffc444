"""The Bayes posterior of one feature seen through Gaussian noise, in stable float64.

Channel (derivations/09_mmse.md, "Posterior mean"): v = x + kappa Z, with x = 0 w.p. 1 - p and
x ~ U[0, 1] w.p. p. In the scaled variables b = v/kappa, b' = (1 - v)/kappa, c = 1/kappa = b + b'
and t = (u - v)/kappa, the active posterior of u is N(v, kappa^2) truncated to [0, 1], i.e.
t ~ N(0, 1) on [alpha, beta] = [-b, b']. With Z = Phi(b) - Phi(b - c) the posterior log-odds of
"on" against "off" and the posterior mean are

    lambda = log(p/(1 - p)) + log kappa + log Z - log phi(b),    xhat = expit(lambda) m,
    m = E[u | v, on] = v + kappa E[t | t in [alpha, beta]].

Both are evaluated without cancellation in three regions:

* lo (b <= 0): with alpha = -b >= 0, Z/phi(b) = int_0^c exp(-alpha s - s^2/2) ds and
  m = kappa E[t - alpha]. When c (alpha + c/2) <= 3 both integrals use Gauss-Legendre; else
  Z/phi(b) = M(alpha) (1 - D rho) and E[t - alpha] = (r1(alpha) - D rho (r1(beta) + c))/(1 - D rho),
  with the Mills ratio M(x) = sqrt(pi/2) erfcx(x/sqrt 2), its mean excess r1(x) = 1/M(x) - x,
  D = exp(-c (alpha + c/2)) <= e^-3 and rho = M(beta)/M(alpha) <= 1, so nothing cancels;
* hi (b' <= 0): the mirror image u -> 1 - u, m = 1 - kappa E[beta - t];
* mid (0 < b < c): Z = (erf(b/sqrt 2) + erf(b'/sqrt 2))/2 (two non-negative terms) and
  m = v + kappa (phi(b) - phi(b'))/Z; Gauss-Legendre on [alpha, beta] when c <= 3.

The error of an active feature, xhat - u, is formed from (u, 1 - u, z) with v = u + kappa z, so
that it keeps its relative accuracy when kappa is far below the resolution of u (kappa ~ 1e-16):

    lo:  pi kappa E[t - alpha] - u,   hi:  pi ((1 - u) - kappa E[beta - t]) - (1 - pi) u,
    mid: pi kappa (z + E[t]) - (1 - pi) u,   pi = expit(lambda), 1 - pi = expit(-lambda).

Inputs are not validated here (rugtheory.activations.mmse does that); ``noise`` must be > 0.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy.special import erf, erfcx, expit, roots_legendre

__all__ = ["active_error", "log_odds_and_mean", "posterior_mean"]

_SQRT2 = np.sqrt(2.0)
_SQRT_HALF_PI = np.sqrt(np.pi / 2.0)
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
_HUGE = 1e300
GL_NODES = 24          # Gauss-Legendre nodes for the short-interval branches
EDGE_SWITCH = 3.0      # quadrature branch when c (alpha + c/2) <= EDGE_SWITCH (so D >= e^-3)
MID_SWITCH = 3.0       # quadrature branch of the mid region when c <= MID_SWITCH
CF_SWITCH = 3.0        # r1 by continued fraction above this argument
CF_TERMS = 60          # enough for 1e-16 at x >= 3 (measured against mpmath)


@cache
def _legendre01() -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = roots_legendre(GL_NODES)
    return 0.5 * (nodes + 1.0), 0.5 * weights


def _mills(x: np.ndarray) -> np.ndarray:
    """M(x) = Phi(-x)/phi(x) for x >= 0."""
    return _SQRT_HALF_PI * erfcx(x / _SQRT2)


def _mean_excess(x: np.ndarray) -> np.ndarray:
    """r1(x) = E[Z - x | Z > x] = 1/M(x) - x for x >= 0 (continued fraction above CF_SWITCH).

    1/M(x) = x + 1/(x + 2/(x + 3/(x + ...))), so r1 = 1/(x + 2/(x + 3/(...))).
    """
    out = np.empty_like(x)
    near = x <= CF_SWITCH
    out[near] = 1.0 / _mills(x[near]) - x[near]
    far = x[~near]
    tail = np.zeros_like(far)
    for k in range(CF_TERMS, 1, -1):
        tail = k / (far + tail)
    out[~near] = 1.0 / (far + tail)
    return out


def _edge(alpha: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log Zs, mu) for alpha >= 0: Zs = P(t in [alpha, alpha + c])/phi(alpha), mu = E[t - alpha | ...]."""
    log_zs = np.empty_like(alpha)
    mu = np.empty_like(alpha)
    with np.errstate(over="ignore"):
        exponent = c * (alpha + 0.5 * c)
    short = exponent <= EDGE_SWITCH
    if short.any():
        nodes, weights = _legendre01()
        a, cc = alpha[short, None], c[short, None]
        s = cc * nodes
        w = np.exp(-a * s - 0.5 * s * s) * weights
        total = w.sum(axis=1)
        log_zs[short] = np.log(total * c[short])
        mu[short] = (w * s).sum(axis=1) / total
    long = ~short
    if long.any():
        a, cc = alpha[long], c[long]
        b = a + cc
        ratio = erfcx(b / _SQRT2) / erfcx(a / _SQRT2)  # M(beta)/M(alpha) <= 1
        d_rho = np.exp(-exponent[long]) * ratio          # <= e^-3
        log_zs[long] = np.log(_mills(a)) + np.log1p(-d_rho)
        tail = np.where(d_rho > 0.0, d_rho * (_mean_excess(b) + cc), 0.0)
        mu[long] = (_mean_excess(a) - tail) / (1.0 - d_rho)
    return log_zs, mu


def _mid(b: np.ndarray, bp: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log Z, R) for b, b' > 0: Z = P(t in [-b, b']), R = E[t | t in [-b, b']]."""
    log_z = np.empty_like(b)
    mean = np.empty_like(b)
    short = c <= MID_SWITCH
    if short.any():
        nodes, weights = _legendre01()
        lo, width = -b[short, None], c[short, None]
        t = lo + width * nodes
        w = np.exp(-0.5 * t * t) * weights
        total = w.sum(axis=1)
        log_z[short] = np.log(total * c[short] * _INV_SQRT_2PI)
        mean[short] = (w * t).sum(axis=1) / total
    long = ~short
    if long.any():
        bl, bpl = b[long], bp[long]
        z = 0.5 * (erf(bl / _SQRT2) + erf(bpl / _SQRT2))
        log_z[long] = np.log(z)
        mean[long] = _INV_SQRT_2PI * (np.exp(-0.5 * bl * bl) - np.exp(-0.5 * bpl * bpl)) / z
    return log_z, mean


def log_odds_and_mean(b, bp, p, noise):
    """Regions and posterior pieces at scaled positions b = v/kappa, b' = (1 - v)/kappa.

    Returns (region, lambda, location) as arrays broadcast to a common shape: region 0 (lo), 1
    (mid), 2 (hi); location mu = E[t - alpha] (lo), E[t] (mid) or E[beta - t] (hi), so that
    m = kappa mu (lo), v + kappa mu (mid), 1 - kappa mu (hi).
    """
    b, bp, p, noise = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (b, bp, p, noise)))
    shape = b.shape
    b, bp, p, noise = (x.reshape(-1) for x in (b, bp, p, noise))
    # |b| beyond 1e300 (v/kappa overflowing) changes nothing that float64 can represent
    b, bp = np.clip(b, -_HUGE, _HUGE), np.clip(bp, -_HUGE, _HUGE)
    c = 1.0 / noise
    prior = np.log(p) - np.log1p(-p) + np.log(noise)
    region = np.where(b <= 0.0, 0, np.where(bp <= 0.0, 2, 1))
    log_ratio = np.empty_like(b)  # log Z - log phi(b)
    location = np.empty_like(b)
    lo, mid, hi = region == 0, region == 1, region == 2
    with np.errstate(over="ignore"):  # log-odds of +-inf are right where they overflow
        _fill(b, bp, c, lo, mid, hi, log_ratio, location)
    log_odds = prior + log_ratio
    return region.reshape(shape), log_odds.reshape(shape), location.reshape(shape)


def _fill(b, bp, c, lo, mid, hi, log_ratio, location) -> None:
    if lo.any():
        log_ratio[lo], location[lo] = _edge(-b[lo], c[lo])
    if hi.any():
        log_zs, location[hi] = _edge(-bp[hi], c[hi])
        # log phi(b') - log phi(b) = (b - b')(b + b')/2 with b + b' = c exactly
        log_ratio[hi] = log_zs + 0.5 * (b[hi] - bp[hi]) * c[hi]
    if mid.any():
        log_z, location[mid] = _mid(b[mid], bp[mid], c[mid])
        log_ratio[mid] = log_z + 0.5 * b[mid] * b[mid] + _LOG_SQRT_2PI


def posterior_mean(v, p, noise):
    """E[x | x + noise Z = v] for noise > 0 (arrays broadcast); see the module docstring."""
    v = np.asarray(v, dtype=float)
    noise = np.asarray(noise, dtype=float)
    with np.errstate(over="ignore"):
        b = v / noise
        bp = (1.0 - v) / noise
    region, log_odds, location = log_odds_and_mean(b, bp, p, noise)
    v, noise = np.broadcast_arrays(v, noise)
    m = np.where(region == 0, noise * location, np.where(region == 2, 1.0 - noise * location,
                                                         v + noise * location))
    return expit(log_odds) * m


def active_error(u, one_minus_u, z, p, noise):
    """xhat(u + noise z) - u for an active feature x = u, from u and 1 - u given separately."""
    u, one_minus_u, z, noise = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (u, one_minus_u, z, noise))
    )
    with np.errstate(over="ignore"):
        b = u / noise + z
        bp = one_minus_u / noise - z
    region, log_odds, location = log_odds_and_mean(b, bp, p, noise)
    on, off = expit(log_odds), expit(-log_odds)
    lo = on * noise * location - u
    hi = on * (one_minus_u - noise * location) - off * u
    mid = on * noise * (z + location) - off * u
    return np.where(region == 0, lo, np.where(region == 2, hi, mid))
