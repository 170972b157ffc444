"""Upper and lower bounds on the best ReLU^alpha model at high sparsity (derivations/11_power_bounds.md).

With a > 0, A = a^alpha and theta = -beta/a, the activation sees v = x + kappa Z (sigma = kappa a):
f(a x + beta + sigma Z) = g(v) = A (v - theta)_+^alpha. Conditioning on the active event and
using Pythagoras with m1(v) = E[x | v, active], the loss is exactly

    L = (1-p) A^2 kappa^(2 alpha) J_{2 alpha}(theta/kappa) + p M1 + p int (g - m1)^2 q1 dv,

where q1(v) = Phi(v/kappa) - Phi((v-1)/kappa) is the density of v given active and M1 the
active features' posterior variance (``active_noise``). Keeping only the window
[T kappa, 1 - T kappa] of the last integral, where q1 >= q_w = 1 - 2 Phi(-T) and
|m1 - v| <= kappa phi(T) / q_w, gives a minorant that no longer involves the noise:

    L >= LB(A, alpha, theta) = (1-p) A^2 kappa^(2 alpha) J_{2 alpha}(theta/kappa) + p M1 - p q_w s
                               + p q_w (1 - s) ||A (v - theta)_+^alpha - v||^2_window,

s = sqrt(window length) kappa phi(T) / q_w. ``lower`` = min(p/12, min LB) (a <= 0 costs at
least p/12), minimised over theta and alpha numerically with A eliminated exactly (LB is
quadratic in A). ``upper`` is the loss of one model, the leading-order optimum of
``claims.threshold_scaling("power")``, by the hybrid quadrature. So lower <= L*_power <= upper.
Both bounds are p kappa^2 [(1-p) J_2(t)/p + 1 + t^2/16] (1 + o(1)), and upper / lower -> 1.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cache

import numpy as np
from scipy import integrate, optimize
from scipy.special import log_ndtr

from ..errors import ParameterError
from ..numeric.solver import kappa
from ..parameters import FEATURE_PROBABILITY, RATIO

__all__ = [
    "PowerBounds", "active_deficit", "active_noise", "log_tail_moment", "minorant", "power_bounds", "window_fit",
]

WINDOW_T = 12.0          # window edge in units of kappa (phi(12) ~ 5e-32)
GL_NODES = 20
GRADING_LEVELS = 60      # geometric panels toward the lower end: down to 2^-60 of the window
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _log_phi(t: float) -> float:
    return -0.5 * t * t - _LOG_SQRT_2PI


def log_tail_moment(order: float, t: float) -> float:
    """ln J_q(t), J_q(t) = E[(Z - t)_+^q] = phi(t) int_0^inf w^q exp(-t w - w^2/2) dw, q > -1, any t.

    >>> round(math.exp(log_tail_moment(2.0, 0.0)), 12)  # E[Z_+^2] = 1/2
    0.5
    """
    shift = max(0.0, -t)  # for t < 0 the integrand peaks near w = -t; factor out exp(t^2/2) there
    scale = 0.5 * t * t if t < 0 else 0.0
    width = shift + (min(40.0, 80.0 / t) if t > 0 else 40.0)

    def integrand(w: float) -> float:
        return w**order * math.exp(-t * w - 0.5 * w * w - scale)

    points = [x for x in (shift, order / t if t > 0 else 0.0) if 0.0 < x < width]
    value, _ = integrate.quad(integrand, 0.0, width, points=points or None, epsabs=0.0, epsrel=1e-13, limit=200)
    return _log_phi(t) + scale + math.log(value)


def active_deficit(s: float, noise: float) -> float:
    """c(s) = (1 - Var(x | v)/noise^2) q1(v) at v = noise s: the truncated posterior's variance deficit.

    The stable form of ``rugtheory.symbolic.truncated``'s derived deficit, with z_lo = -s and
    z_hi = 1/noise - s: z_hi phi(z_hi) - z_lo phi(z_lo) + (phi(z_lo) - phi(z_hi))^2 / q1, where
    ln q1 = ln(Phi(s) - Phi(s - 1/noise)) is formed without underflow for s << 0.
    """
    k = float(noise)
    b = 1.0 / k - s
    log_mass = log_ndtr(s) + math.log1p(-math.exp(log_ndtr(s - 1.0 / k) - log_ndtr(s)))
    phi_a, phi_b = math.exp(_log_phi(s)), math.exp(_log_phi(b))
    return s * phi_a + b * phi_b + math.exp(2.0 * math.log(abs(phi_a - phi_b) or 1e-320) - log_mass)


def active_noise(noise: float) -> float:
    """M1 = E[Var(x | v, active)] for x ~ U[0, 1], v = x + noise Z (the active features' MMSE).

    x | v, active is N(v, noise^2) truncated to [0, 1], so M1 = noise^2 (1 - noise C), with
    C = int c(s) ds over s = v / noise and c = (1 - Var/noise^2) q1 >= 0, integrated on the lower
    half and doubled (v -> 1 - v symmetry).

    >>> round(active_noise(1e-8) / 1e-16, 6)  # M1 -> noise^2 as the noise vanishes
    1.0
    """
    k = float(noise)
    half = 0.5 / k
    upper = min(half, 38.0)
    value, _ = integrate.quad(active_deficit, -37.0, upper, args=(k,), points=[-5.0, 0.0, 5.0] if upper > 5 else None,
                              epsabs=0.0, epsrel=1e-13, limit=200)
    return k * k * (1.0 - 2.0 * k * value)


@cache
def _legendre() -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.legendre.leggauss(GL_NODES)
    return (nodes + 1.0) / 2.0, weights / 2.0


def _graded_nodes(lower: float, upper: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [lower, upper], panels graded geometrically toward lower."""
    edges = lower + (upper - lower) * np.concatenate([[0.0], 2.0 ** -np.arange(GRADING_LEVELS, -1, -1.0)])
    x, w = _legendre()
    width = np.diff(edges)
    nodes = (edges[:-1, None] + width[:, None] * x[None, :]).ravel()
    weights = (width[:, None] * w[None, :]).ravel()
    return nodes, weights


def window_fit(theta: float, alpha_minus_one: float, lower: float, upper: float):
    """(weights, w, e0) for ||A (v - theta)_+^alpha - v||^2 on [lower, upper] = int (eps w + e0)^2.

    A = 1 + eps; w = (v - theta)_+^alpha and e0 = w - v, formed as (v - theta) expm1(delta ln(v - theta))
    - theta so that the residual ~theta is free of cancellation (delta = alpha - 1). Below theta,
    w = 0 and e0 = -v (integrated exactly as a separate panel set).
    """
    start = max(lower, theta)
    nodes, weights = _graded_nodes(start, upper)
    shifted = nodes - theta
    excess = np.expm1(alpha_minus_one * np.log(shifted))
    w = shifted * (1.0 + excess)
    e0 = shifted * excess - theta
    if theta > lower:
        below, below_w = _graded_nodes(lower, min(theta, upper))
        nodes, weights = np.concatenate([below, nodes]), np.concatenate([below_w, weights])
        w = np.concatenate([np.zeros_like(below), w])
        e0 = np.concatenate([-below, e0])
    return weights, w, e0


@dataclass(frozen=True)
class PowerBounds:
    """lower <= min over (a, beta, alpha) of the ReLU^alpha loss <= upper, at (p, r).

    ``lower_parts`` splits the minorant at its minimiser (leakage of the inactive features,
    the active features' noise p M1, the window bias term); ``lower_point`` is that minimiser
    as (a, bias, alpha). ``upper_parameters`` is the explicit model whose loss is ``upper``.
    ``leading`` is p kappa^2 [(1-p) J_2(t_c)/p + 1 + t_c^2/16], the common leading form.
    """

    p: float
    r: float
    kappa: float
    lower: float
    upper: float
    ratio: float
    leading: float
    lower_parts: dict[str, float]
    lower_point: dict[str, float]
    upper_parameters: dict[str, float]
    window: tuple[float, float]

    def to_dict(self) -> dict:
        """A JSON-ready dict of the fields."""
        out = asdict(self)
        out["window"] = list(self.window)
        return out


def minorant(p: float, k: float):
    """The minorant LB as a function of (t, y) = (theta/kappa, (alpha - 1)/kappa), minimised over A exactly.

    The returned ``profile(t, y)`` gives (value, parts); value <= the ReLU^alpha loss at every
    a > 0 with theta = t kappa and alpha = 1 + y kappa (module docstring).
    """
    lo, hi = WINDOW_T * k, 1.0 - WINDOW_T * k
    q_w = 1.0 - 2.0 * math.exp(log_ndtr(-WINDOW_T))
    s = math.sqrt(hi - lo) * k * math.exp(_log_phi(WINDOW_T)) / q_w
    m1 = active_noise(k)
    weight = p * q_w * (1.0 - s)
    log_k = math.log(k)

    def profile(t: float, y: float):
        delta = y * k
        alpha = 1.0 + delta
        if alpha <= 0.0:
            return math.inf, {}
        theta = t * k
        weights, w, e0 = window_fit(theta, delta, lo, hi)
        leak = (1.0 - p) * math.exp(2.0 * alpha * log_k + log_tail_moment(2.0 * alpha, t))
        w_ww, w_we = float(weights @ (w * w)), float(weights @ (w * e0))
        eps = -(leak + weight * w_we) / (leak + weight * w_ww)
        eps = max(eps, -1.0)
        fit = float(weights @ (eps * w + e0) ** 2)
        parts = {"leakage": (1.0 + eps) ** 2 * leak, "noise": p * m1 - p * q_w * s, "bias": weight * fit,
                 "A_minus_one": eps, "theta": theta, "alpha_minus_one": delta}
        return parts["leakage"] + parts["noise"] + parts["bias"], parts

    return profile


def power_bounds(p: float, r: float) -> PowerBounds:
    """Rigorous lower bound (up to the numerical minimisation of a smooth 2-D minorant) and upper
    bound on the optimal ReLU^alpha loss at (p, r) (module docstring; derivations/11).

    Meant for high sparsity: kappa <= 1/(2T), T = 12, i.e. p <= 5e-3 at r = 0.5 (ParameterError otherwise).
    """
    from ..activations import power
    from .claims import bias_coefficients, threshold_scaling

    p = FEATURE_PROBABILITY.validate(p)
    r = RATIO.validate(r)
    k = float(kappa(p, r))
    if not 0.0 < k <= 1.0 / (2.0 * WINDOW_T):
        raise ParameterError(
            f"feature_probability (p) = {p:g} with ratio (r) = {r:g} gives kappa = {k:.3g}; valid: "
            f"0 < kappa <= {1 / (2 * WINDOW_T):.4g} (high sparsity, r < 1: p <= 5e-3 at r = 0.5)"
        )
    profile = minorant(p, k)
    lo, hi = WINDOW_T * k, 1.0 - WINDOW_T * k

    scaling = threshold_scaling("power", p, r)
    t_c, (_, a_coef, alpha_coef) = scaling.threshold, bias_coefficients()["power"]
    grid_t = np.linspace(0.25, 1.5 * t_c + 3.0, 16)
    grid_y = np.concatenate([np.linspace(-6.0 * t_c, 4.0 * t_c, 11), [-1e3, 1e3]])
    scan = min((profile(t, y)[0], t, y) for t in grid_t for y in grid_y)
    best = (math.inf, None)
    for start in ((t_c, alpha_coef * t_c), scan[1:]):
        scale = profile(*start)[0]
        result = optimize.minimize(lambda x: profile(x[0], x[1])[0], np.array(start), method="Nelder-Mead",
                                   options={"xatol": 1e-9, "fatol": 1e-15 * scale, "maxiter": 2000})
        if result.fun < best[0]:
            best = (float(result.fun), result.x)
    value, parts = profile(*best[1])
    lower = min(value, p / 12.0)  # a <= 0: the output does not increase with x, loss >= p/12

    theta = t_c * k
    am1, alpha_m1 = a_coef * theta, alpha_coef * theta
    a = 1.0 + am1
    upper = float(power.loss(p, a, k * a, -a * theta, 1.0 + alpha_m1, method="hybrid",
                             a_minus_one=am1, alpha_minus_one=alpha_m1))
    alpha = 1.0 + parts["alpha_minus_one"]
    a_low = (1.0 + parts["A_minus_one"]) ** (1.0 / alpha)
    return PowerBounds(
        p=p, r=r, kappa=k, lower=lower, upper=upper, ratio=upper / lower, leading=scaling.loss,
        lower_parts={key: parts[key] for key in ("leakage", "noise", "bias")},
        lower_point={"a": a_low, "bias": -a_low * parts["theta"], "alpha": alpha},
        upper_parameters={"a": a, "bias": -a * theta, "sigma": k * a, "alpha": 1.0 + alpha_m1,
                          "a_minus_one": am1, "alpha_minus_one": alpha_m1},
        window=(lo, hi),
    )
