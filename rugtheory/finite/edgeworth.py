"""The Edgeworth expansion of the finite-n loss, evaluated stably (derivations/14_finite_n.md, section 2).

With kappa_k = kappa_k(nu) = kappa_k(x) sum_{j != i} W_ij^k and D = d/dbeta,

    E F(beta + nu - E nu) = l(a, sigma, beta) + E_1 + E_2 + ...,   E_1 = kappa_3 D^3 l / 6,
    E_2 = kappa_4 D^4 l / 24 + kappa_3^2 D^6 l / 72, ...   (``symbolic.finite_n.edgeworth_terms``)

and, from the jumps of F'' and F''' at v = 0 and v = -a (``symbolic.finite_n.jumps``), for k >= 3

    D^k l = 2 (1 - p) g_{k-3}(beta) - (2 p / a) g_{k-3}(beta + a) - 2 p c [g_{k-4}(beta) - g_{k-4}(beta + a)],

with c = (a + 1)/a^2, g_q(x) = d^q/dx^q [phi(x/sigma)/sigma] = (-1)^q He_q(x/sigma) phi(x/sigma) / sigma^(q+1)
and g_{-1}(beta) - g_{-1}(beta + a) = Phi(beta/sigma) - Phi((beta + a)/sigma), taken as a difference
of tails (``scipy.special.ndtr``) so that it does not cancel. Only phi and Hermite polynomials
appear: nothing cancels at the small-p optimum, where beta/sigma ~ -2 to -3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cache, lru_cache

import numpy as np
from numpy.polynomial.hermite_e import hermeval
from scipy.special import ndtr

__all__ = [
    "EdgeworthCorrection", "data_cumulants", "edgeworth_correction", "leading_coefficient", "loss_derivative", "terms",
]

MAX_ORDER = 4


@cache
def _cumulant_coefficients(kmax: int) -> tuple[tuple[Fraction, ...], ...]:
    """The exact rational coefficients (highest power first) of kappa_1(p)..kappa_kmax(p)."""
    import sympy as sp

    from ..symbolic.data import p as p_symbol
    from ..symbolic.finite_n import data_cumulants as derived

    return tuple(tuple(Fraction(int(c.p), int(c.q)) for c in sp.Poly(sp.expand(expr), p_symbol).all_coeffs())
                 for expr in derived(kmax))


@lru_cache(maxsize=256)
def _cumulants_exact(p: float, kmax: int) -> tuple[float, ...]:
    exact = Fraction(p)  # a float is a dyadic rational: the polynomials are evaluated exactly, then rounded once
    out = []
    for coefficients in _cumulant_coefficients(kmax):
        value = Fraction(0)
        for c in coefficients:
            value = value * exact + c
        out.append(float(value))
    return tuple(out)


def data_cumulants(p: float, kmax: int = 12) -> list[float]:
    """kappa_1..kappa_kmax of one coordinate x (THEORY.md, Data), correctly rounded.

    The derived polynomials (``symbolic.finite_n.data_cumulants``) cancel badly in floating point
    near p = 1, so they are evaluated in exact rational arithmetic.

    >>> [round(value, 12) for value in data_cumulants(0.5, 3)]
    [0.25, 0.104166666667, 0.03125]
    """
    return list(_cumulants_exact(float(p), int(kmax)))


@cache
def terms(order: int = MAX_ORDER) -> tuple[tuple[int, float, tuple[tuple[int, int], ...], int], ...]:
    """(order, coefficient, cumulant powers, derivative) of E_1..E_order, from the sympy series."""
    from ..symbolic.finite_n import edgeworth_terms

    return tuple((t.order, float(t.coefficient), t.powers, t.derivative) for t in edgeworth_terms(order))


def _density_derivative(q: int, x: float, sigma: float) -> float:
    """g_q(x) = d^q/dx^q phi(x/sigma)/sigma."""
    z = x / sigma
    coefficients = np.zeros(q + 1)
    coefficients[q] = 1.0
    return float((-1) ** q * hermeval(z, coefficients) * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
                 / sigma ** (q + 1))


def _cdf_difference(beta: float, a: float, sigma: float) -> float:
    """Phi(beta/sigma) - Phi((beta + a)/sigma) for a > 0, as a difference of the smaller tails."""
    lo, hi = beta / sigma, (beta + a) / sigma
    if lo >= 0:
        return float(ndtr(-hi) - ndtr(-lo))
    if hi <= 0:
        return float(ndtr(lo) - ndtr(hi))
    return float(-(1.0 - ndtr(lo) - ndtr(-hi)))


def loss_derivative(k: int, p: float, a: float, sigma: float, beta: float) -> float:
    """D^k l(a, sigma, beta; p) for k >= 3 and a > 0 (module docstring; derivations/14, eq. (2.3))."""
    if k < 3 or a <= 0 or sigma <= 0:
        raise ValueError("loss_derivative needs k >= 3, a > 0 and sigma > 0")
    c = (a + 1.0) / (a * a)
    main = 2.0 * (1.0 - p) * _density_derivative(k - 3, beta, sigma) \
        - 2.0 * p / a * _density_derivative(k - 3, beta + a, sigma)
    if k == 3:
        tail = _cdf_difference(beta, a, sigma)
    else:
        tail = _density_derivative(k - 4, beta, sigma) - _density_derivative(k - 4, beta + a, sigma)
    return main - 2.0 * p * c * tail


@dataclass(frozen=True)
class EdgeworthCorrection:
    """The mean-field loss and the Edgeworth corrections E_1..E_order at one (a, beta).

    ``corrections[j - 1]`` is E_j; ``cumulants`` are kappa_2..kappa_{order+2} of nu.
    """

    meanfield: float
    corrections: tuple[float, ...]
    cumulants: tuple[float, ...]

    def prediction(self, order: int = 2) -> float:
        """l + E_1 + ... + E_order (the default, order 2, keeps every term of order 1/(p n))."""
        return self.meanfield + sum(self.corrections[:order])

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"meanfield": self.meanfield, "corrections": list(self.corrections),
                "cumulants": list(self.cumulants), "prediction": self.prediction()}


def edgeworth_correction(p: float, a: float, beta: float, power_sums: dict[int, float],
                         order: int = MAX_ORDER) -> EdgeworthCorrection:
    """l + E_j for weights W_ij = a w_j with power_sums[k] = sum_j w_j^k (k = 2..order+2).

    kappa_k(nu) = kappa_k(x) a^k power_sums[k]; sigma^2 = kappa_2(nu) (derivations/14, eq. (2.2)).
    """
    from ..numeric.loss import meanfield_loss

    kx = data_cumulants(p, order + 2)
    cumulant = {k: kx[k - 1] * a**k * power_sums[k] for k in range(2, order + 3)}
    sigma = math.sqrt(cumulant[2])
    base = float(meanfield_loss(p, a, sigma, beta))
    if sigma == 0.0:  # no interference at all (every weight 0): nothing to correct
        return EdgeworthCorrection(meanfield=base, corrections=(0.0,) * order,
                                   cumulants=tuple(cumulant[k] for k in range(2, order + 3)))
    derivatives: dict[int, float] = {}
    corrections = [0.0] * order
    for j, coefficient, powers, derivative in terms(order):
        if derivative not in derivatives:
            derivatives[derivative] = loss_derivative(derivative, p, a, sigma, beta)
        weight = coefficient * math.prod(cumulant[k] ** e for k, e in powers)
        corrections[j - 1] += weight * derivatives[derivative]
    return EdgeworthCorrection(meanfield=base, corrections=tuple(corrections),
                               cumulants=tuple(cumulant[k] for k in range(2, order + 3)))


def leading_coefficient(p: float, r: float) -> float:
    """C(p, r) with E_2 / L* -> C / n for the rug at the mean-field optimum (derivations/14, eq. (4.1)).

    For a random m-subset S and k != 0, g(k) = sum_{s in S} H_sk is hypergeometric with
    E g^4 = 3 m^2 (1 - r)^2 (1 + O(1/m)), so sum_{j != i} W_ij^4 -> 3 a^4 (1 - r)^2 / (r^2 n) and
    E_2 -> kappa_4(x) 3 a^4 (1 - r)^2 / (r^2 n) D^4 l / 24 (the kappa_3^2 term is O(1/n^2)). E_1 is
    also O(1/n) for the rug, but its sign and size depend on the rows drawn (its mean is 0).

    >>> round(leading_coefficient(0.01, 0.5), 1)
    166.5
    """
    from ..optimum import solve

    optimum = solve(p, r)
    if optimum.loss == 0 or optimum.sigma == 0:
        return 0.0
    a = optimum.a
    fourth = data_cumulants(p, 4)[3] * 3.0 * a**4 * (1.0 - r) ** 2 / r**2
    return fourth * loss_derivative(4, p, a, optimum.sigma, optimum.bias) / 24.0 / optimum.loss
