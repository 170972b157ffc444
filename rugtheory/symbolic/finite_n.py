"""Finite-n corrections to the mean-field loss, derived (derivations/14_finite_n.md, section 2).

Row i's loss is E[F(beta + nu')] with nu' = nu - E nu and F(v) = (1 - p) ReLU(v)^2 + p int_0^1
(ReLU(a u + v) - u)^2 du. nu' has the cumulants kappa_k(nu) = kappa_k(x) sum_j W_ij^k, k >= 2. The
Gaussian with the same variance gives the mean-field loss l(beta); the full law acts on it as the
operator exp(sum_{k>=3} kappa_k D^k / k!), D = d/dbeta (the cumulant series of the characteristic
function), so

    E F(beta + nu') = l + sum_{j>=1} E_j,   E_j = sum over terms of order eps^j of exp(sum_k eps^(k-2) kappa_k D^k/k!) l.

For weights of size n^-1/2, kappa_k / sigma^k ~ (p n)^(1 - k/2), so E_j is of order (p n)^(-j/2).
Derived here:

* ``data_cumulants``: kappa_k(x) of one coordinate, from its raw moments (``data.raw_moment``);
* ``edgeworth_terms``: the terms of each E_j (rational coefficient, cumulant powers, order of D);
* ``row_pieces`` / ``jumps``: F on its three regions v >= 0, -a <= v <= 0, v <= -a (a > 0), and
  the jumps of F, F', F'', F''' at v = 0 and v = -a;
* ``loss_derivative``: D^k l for k >= 3 from the jumps (delta functions under a Gaussian give
  Hermite polynomials times phi), to be held against ``sp.diff(meanfield_loss_expr(), beta, k)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import sympy as sp

from .data import p, raw_moment
from .functions import Phi, phi
from .gaussian import sigma
from .meanfield import a, beta, meanfield_loss_expr

__all__ = [
    "EdgeworthTerm",
    "cumulant_symbols",
    "data_cumulants",
    "edgeworth_terms",
    "jumps",
    "loss_derivative",
    "loss_derivative_direct",
    "row_pieces",
    "v",
]

v = sp.Symbol("v", real=True)
_u = sp.Symbol("u", real=True)
_D, _eps = sp.symbols("D epsilon")
MAX_CUMULANT = 12


def cumulant_symbols() -> dict[int, sp.Symbol]:
    """The symbols k3, k4, ... for the cumulants of nu."""
    return {k: sp.Symbol(f"k{k}") for k in range(3, MAX_CUMULANT + 1)}


@cache
def data_cumulants(kmax: int = MAX_CUMULANT) -> tuple[sp.Expr, ...]:
    """(kappa_1, ..., kappa_kmax) of x, factored, by kappa_n = m_n - sum_{j<n} C(n-1, j-1) kappa_j m_{n-j}.

    >>> data_cumulants(3)
    (p/2, -p*(3*p - 4)/12, p*(p - 1)**2/4)
    """
    moments = [raw_moment(k) for k in range(kmax + 1)]
    kappas: list[sp.Expr] = []
    for order in range(1, kmax + 1):
        value = moments[order] - sum(
            sp.binomial(order - 1, j - 1) * kappas[j - 1] * moments[order - j] for j in range(1, order)
        )
        kappas.append(sp.factor(sp.expand(value)))
    return tuple(kappas)


@dataclass(frozen=True)
class EdgeworthTerm:
    """coefficient * prod_k kappa_k^power * D^derivative, a term of E_order."""

    order: int
    coefficient: sp.Rational
    powers: tuple[tuple[int, int], ...]
    derivative: int

    def to_dict(self) -> dict:
        """JSON-ready: the coefficient as a string fraction."""
        return {"order": self.order, "coefficient": str(self.coefficient),
                "powers": [list(item) for item in self.powers], "derivative": self.derivative}


@cache
def edgeworth_terms(order: int) -> tuple[EdgeworthTerm, ...]:
    """The terms of E_1, ..., E_order, from the series of exp(sum_k eps^(k-2) kappa_k D^k / k!) in eps.

    >>> [(t.order, t.coefficient, t.powers, t.derivative) for t in edgeworth_terms(2)]
    [(1, 1/6, ((3, 1),), 3), (2, 1/24, ((4, 1),), 4), (2, 1/72, ((3, 2),), 6)]
    """
    kappas = cumulant_symbols()
    exponent = sum(_eps ** (k - 2) * kappas[k] * _D**k / sp.factorial(k) for k in range(3, order + 3))
    series = sp.expand(sum(exponent**q / sp.factorial(q) for q in range(order + 1)))
    out: list[EdgeworthTerm] = []
    for j in range(1, order + 1):
        poly = sp.Poly(series.coeff(_eps, j), _D, *(kappas[k] for k in range(3, order + 3)))
        for monomial, coefficient in sorted(poly.terms(), key=lambda item: (sum(item[0][1:]), item[0][0])):
            powers = tuple((k, e) for k, e in zip(range(3, order + 3), monomial[1:]) if e)
            out.append(EdgeworthTerm(order=j, coefficient=sp.Rational(coefficient), powers=powers,
                                     derivative=int(monomial[0])))
    return tuple(out)


@cache
def row_pieces() -> dict[str, sp.Expr]:
    """F(v) on 'on' (v >= 0), 'partial' (-a <= v <= 0) and 'off' (v <= -a), for a > 0.

    Integrated from the definition: the ReLU fires for u > -v/a, where the integrand is
    (a u + v - u)^2, and is u^2 elsewhere.
    """
    fired = (a * _u + v - _u) ** 2
    on = (1 - p) * v**2 + p * sp.integrate(fired, (_u, 0, 1))
    cut = -v / a
    partial = p * (sp.integrate(_u**2, (_u, 0, cut)) + sp.integrate(fired, (_u, cut, 1)))
    off = p * sp.integrate(_u**2, (_u, 0, 1))
    return {"on": sp.expand(on), "partial": sp.expand(partial), "off": off}


@cache
def jumps() -> dict[tuple[float, int], sp.Expr]:
    """{(point, j): jump of F^(j)} at point 0 ('0') and -a ('-a'), j = 0..3 (right minus left)."""
    pieces = row_pieces()
    out: dict = {}
    for j in range(4):
        on, partial, off = (sp.diff(pieces[key], v, j) for key in ("on", "partial", "off"))
        out["0", j] = sp.simplify((on - partial).subs(v, 0))
        out["-a", j] = sp.simplify((partial - off).subs(v, -a))
    return out


def _density_derivative(q: int, point: sp.Expr) -> sp.Expr:
    """d^q/dbeta^q of phi((beta - point)/sigma)/sigma (= E delta^(q)(beta + sigma Z - point))."""
    return sp.diff(phi((beta - point) / sigma) / sigma, beta, q)


@cache
def loss_derivative(k: int) -> sp.Expr:
    """D^k l (k >= 3) from the jumps: F^(k) = F^(k)_classical + sum_j J^(j) delta^(k-1-j).

    F is piecewise cubic, so its classical k-th derivative is the constant F''' on 'partial' for
    k = 3 and 0 beyond; each jump J^(j) at c contributes J^(j) d^(k-1-j)/dbeta^(k-1-j) of the
    Gaussian density of beta + sigma Z at c.
    """
    if k < 3:
        raise ValueError("loss_derivative is for k >= 3")
    points = {"0": sp.Integer(0), "-a": -a}
    total = sp.Integer(0)
    for (name, j), jump in jumps().items():
        if jump != 0 and k - 1 - j >= 0:
            total += jump * _density_derivative(k - 1 - j, points[name])
    if k == 3:
        third = sp.diff(row_pieces()["partial"], v, 3)
        total += third * (Phi(-beta / sigma) - Phi(-(a + beta) / sigma))
    return sp.expand(total)


@cache
def loss_derivative_direct(k: int) -> sp.Expr:
    """D^k l by differentiating the closed-form mean-field loss k times (the independent route)."""
    return sp.diff(meanfield_loss_expr(), beta, k)


def numeric_jumps() -> dict[str, str]:
    """The four nonzero jumps as strings (documentation and the derivations script)."""
    return {f"F^({j}) at {name}": sp.sstr(sp.factor(value)) for (name, j), value in jumps().items() if value != 0}


def factorial_check(term: EdgeworthTerm) -> bool:
    """The coefficient of a single-cumulant term is 1/k! (a small internal consistency check)."""
    if len(term.powers) == 1 and term.powers[0][1] == 1:
        return term.coefficient == sp.Rational(1, math.factorial(term.powers[0][0]))
    return True
