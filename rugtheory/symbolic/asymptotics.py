"""Small-kappa and high-sparsity asymptotics of the optimal ReLU model (derivations/06).

Derived, not typed in. Four steps, each a function below:

1. ``split_identity``: (ReLU(v) - u)^2 = (v - u)^2 - (-v)_+^2 - 2u (-v)_+, so every
   correction to the "always on" loss is a Gaussian tail E[(-v)_+^k] = sigma^k J_k(m/sigma).
2. ``reduced_loss``: integrating the tails over u with w = (a u + beta)/sigma gives the
   mean-field loss exactly as

       l = (1-p) sigma^2 J_2(t) + p [(a-1)^2/3 + (a-1) beta + beta^2 + sigma^2]
           - p (sigma^3/a) [F(W) - F(-t)],          t = -beta/sigma,  W = (a + beta)/sigma,

   with F(w) = -J_3(w)/3 - (2/a)[(w + t) J_2(w)/2 + J_3(w)/6]. The F(W) part is the
   upper-end remainder, O(J_2(W)) = O(exp(-W^2/2)), negligible once a + beta >> sigma.
3. ``profile``: with sigma = kappa a and beta = -t kappa a and the remainder dropped, l is a
   quadratic A a^2 + B a + C in a at fixed t, so min over a is C - B^2/(4A): the optimum is a
   one-dimensional problem in the standardised threshold t.
4. ``kappa_expansion``: expanding C - B^2/(4A) in kappa at fixed t, with J_2(t) = p g_2 and
   J_3(t) = p g_3 counted O(1) (they are O(p) at the optimum), gives
   L = p (kappa^2 f_2 + kappa^3 f_3 + ...). Minimising f_2 over t gives the threshold
   equation (1-p) J_1(t) = p t/4; its large-t form phi(t) = p t^3/4 is solved by Lambert W.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from .data import p, u
from .functions import J, phi
from .gaussian import sigma
from .meanfield import a, beta, kappa

__all__ = [
    "Expansion",
    "g2",
    "g3",
    "gaussian_shift_moment",
    "kappa_expansion",
    "large_t_tail",
    "profile",
    "reduced_loss",
    "reflect_tail",
    "split_identity",
    "t",
    "w",
]

t = sp.Symbol("t", real=True)
w = sp.Symbol("w", real=True)
g2 = sp.Symbol("g_2", positive=True)
g3 = sp.Symbol("g_3", positive=True)
_v = sp.Symbol("v", real=True)


def _relu(x: sp.Expr) -> sp.Expr:
    return sp.Piecewise((x, x > 0), (0, True))


def split_identity() -> bool:
    """Step 1, checked on both branches of the ReLU: (ReLU(v)-u)^2 = (v-u)^2 - (-v)_+^2 - 2u(-v)_+."""
    lhs = (_relu(_v) - u) ** 2
    rhs = (_v - u) ** 2 - _relu(-_v) ** 2 - 2 * u * _relu(-_v)
    positive = sp.Symbol("v_pos", positive=True)
    return all(
        sp.simplify((lhs - rhs).subs(_v, value)) == 0 for value in (positive, -positive)
    )


def _antiderivative(arg: sp.Expr) -> sp.Expr:
    """F(w) with dF/dw = J_2(w) + (2/a)(w + t) J_1(w), checked by differentiation."""
    candidate = -J(3, arg) / 3 - (2 / a) * ((arg + t) * J(2, arg) / 2 + J(3, arg) / 6)
    integrand = J(2, w) + (2 / a) * (w + t) * J(1, w)
    if sp.simplify(sp.diff(candidate.subs(arg, w), w) - integrand) != 0:
        raise AssertionError("antiderivative of the tail integrand is wrong")
    return candidate


@cache
def reduced_loss() -> sp.Expr:
    """Step 2: the exact loss in tails at t = -beta/sigma, -t and W = (a+beta)/sigma.

    The u-integral of sigma^2 J_2(m/sigma) + 2 u sigma J_1(m/sigma), m = a u + beta, is taken with
    u = sigma (w + t)/a, du = (sigma/a) dw, over w from -t to W.
    """
    bulk = sp.integrate((a * u + beta - u) ** 2 + sigma**2, (u, 0, 1))
    big_w = (a + beta) / sigma
    tails = (sigma**3 / a) * (_antiderivative(w).subs(w, big_w) - _antiderivative(w).subs(w, -t))
    loss = (1 - p) * sigma**2 * J(2, t) + p * (sp.expand(bulk) - tails)
    return loss.subs(t, -beta / sigma)


def gaussian_shift_moment(k: int, shift: sp.Expr) -> sp.Expr:
    """E[(Z + shift)^k] for Z ~ N(0, 1), from the Gaussian moments (sympy.stats-free)."""
    z = sp.Symbol("z", real=True)
    density = sp.exp(-(z**2) / 2) / sp.sqrt(2 * sp.pi)
    return sp.expand(sp.integrate(sp.expand((z + shift) ** k) * density, (z, -sp.oo, sp.oo)))


def reflect_tail(k: int, s: sp.Expr) -> sp.Expr:
    """J_k(-s) = E[(Z + s)^k] - (-1)^k J_k(s), from x_+^k = x^k + (-1)^(k+1) (-x)_+^k."""
    return gaussian_shift_moment(k, s) - (-1) ** k * J(k, s)


@dataclass(frozen=True)
class Profile:
    """Step 3: l = A a^2 + B a + C at fixed t (remainder dropped), and its minimum over a."""

    A: sp.Expr
    B: sp.Expr
    C: sp.Expr
    minimum: sp.Expr
    argmin: sp.Expr


@cache
def profile() -> Profile:
    """Quadratic-in-a form of ``reduced_loss`` with sigma = kappa a, beta = -t kappa a."""
    loss = reduced_loss()
    big_w = (a + beta) / sigma
    loss = loss.subs({J(3, big_w): 0, J(2, big_w): 0})  # the O(exp(-W^2/2)) remainder
    loss = loss.subs(beta, -t * sigma).subs(sigma, kappa * a)
    loss = loss.subs(J(3, -t), reflect_tail(3, t))
    poly = sp.Poly(sp.expand(loss), a)
    if poly.degree() != 2:
        raise AssertionError(f"profile is not quadratic in a: degree {poly.degree()}")
    A, B, C = (sp.factor_terms(poly.coeff_monomial(a**n)) for n in (2, 1, 0))
    return Profile(A=A, B=B, C=C, minimum=C - B**2 / (4 * A), argmin=-B / (2 * A))


@dataclass(frozen=True)
class Expansion:
    """Step 4: L = p (kappa^2 f2 + kappa^3 f3 + kappa^4 f4), in t, p, g_2 = J_2(t)/p, g_3 = J_3(t)/p.

    ``threshold_equation`` is d f2/dt = 0 with g_2 = J_2(t)/p (zero at the optimal t0);
    ``a_star`` is the optimal a to O(kappa^2); ``t_shift`` is the O(kappa) shift of the optimal
    t away from t0, -f3'(t0)/f2''(t0).
    """

    f2: sp.Expr
    f3: sp.Expr
    f4: sp.Expr
    threshold_equation: sp.Expr
    a_star: sp.Expr
    t_shift: sp.Expr


def _in_tails(expr: sp.Expr) -> sp.Expr:
    return expr.subs({g2: J(2, t) / p, g3: J(3, t) / p})


@cache
def kappa_expansion() -> Expansion:
    """Series of the profile minimum (and argmin) in kappa at fixed t (derivations/06, step 4)."""
    prof = profile()
    counted = {J(2, t): p * g2, J(3, t): p * g3}
    minimum = sp.expand(prof.minimum.subs(counted) / p)
    series = sp.expand(sp.series(minimum, kappa, 0, 5).removeO())
    f2, f3, f4 = (sp.factor_terms(sp.expand(series.coeff(kappa, n))) for n in (2, 3, 4))
    if series.coeff(kappa, 0) != 0 or series.coeff(kappa, 1) != 0:
        raise AssertionError("expansion does not start at kappa^2")
    argmin = sp.expand(sp.series(prof.argmin.subs(counted), kappa, 0, 3).removeO())
    f2_t, f3_t = _in_tails(f2), _in_tails(f3)
    equation = sp.expand(sp.diff(f2_t, t) * p / 2)
    shift = -sp.diff(f3_t, t) / sp.diff(f2_t, t, 2)
    return Expansion(
        f2=f2, f3=f3, f4=f4, threshold_equation=equation, a_star=argmin, t_shift=sp.expand(shift)
    )


def large_t_tail(k: int, order: int) -> sp.Expr:
    """Watson's lemma: J_k(t) = phi(t) int_0^inf y^k e^{-t y - y^2/2} dy, expanded in 1/t.

    Termwise integration of e^{-y^2/2} = sum (-1/2)^j y^(2j)/j! gives
    J_k(t) ~ phi(t) sum_j (-1/2)^j (k + 2j)! / (j! t^(k+2j+1)), ``order`` terms.
    """
    y = sp.Symbol("y", positive=True)
    tt = sp.Symbol("t", positive=True)
    total = sp.Integer(0)
    for j in range(order):
        term = sp.integrate(y ** (k + 2 * j) * sp.exp(-tt * y), (y, 0, sp.oo))
        total += sp.Rational(-1, 2) ** j / sp.factorial(j) * term
    return (phi(t) * total.subs(tt, t)).expand()


r = sp.Symbol("r", positive=True)
t0 = sp.Symbol("t_0", positive=True)
t_w = sp.Symbol("t_W", positive=True)


@dataclass(frozen=True)
class ScalingFormulas:
    """The printed closed forms (derivations/06), each derived from ``kappa_expansion``.

    ``kappa_squared`` is the rank bound; ``loss`` the two-term expansion at t0; ``threshold``
    the equation lhs = rhs for t0; ``lambert_threshold`` t_W^2 and ``lambert_loss`` its explicit
    large-t form; ``leading`` the leading term alone; ``a_star`` and ``bias_star`` the optimum.
    """

    kappa_squared: sp.Expr
    loss: sp.Expr
    threshold: sp.Eq
    lambert_threshold: sp.Expr
    lambert_loss: sp.Expr
    leading: sp.Expr
    a_star: sp.Expr
    bias_star: sp.Expr


@cache
def scaling_formulas() -> ScalingFormulas:
    """Derive the displayed formulas: t0 equation, Lambert-W solution, leading term."""
    expansion = kappa_expansion()
    in_tails = {g2: J(2, t0) / p, g3: J(3, t0) / p}
    loss = p * kappa**2 * (expansion.f2 + kappa * expansion.f3)
    loss = loss.subs(t, t0).subs(in_tails)
    # threshold equation: d f2/dt = 0 is linear in J_1(t); solve it for (1-p) J_1 = rhs.
    j1 = sp.Symbol("j1")
    eq = expansion.threshold_equation.subs(J(1, t), j1)
    rhs = sp.factor(sp.solve(eq, j1)[0] * (1 - p))
    threshold = sp.Eq((1 - p) * J(1, t0), rhs.subs(t, t0))
    # Large t, p -> 0: J_1 ~ phi(t)/t^2 and (1 - p) -> 1; solve phi(t) = rhs t^2 for v = t^2.
    v = sp.Symbol("v", positive=True)
    leading_j1 = large_t_tail(1, 1).subs(phi(t), sp.exp(-t**2 / 2) / sp.sqrt(2 * sp.pi))
    equation = (leading_j1 - rhs.subs(p, p)).subs(t, sp.sqrt(v))
    roots = [root for root in sp.solve(equation, v) if root.is_real is not False and root.has(sp.LambertW)]
    real_roots = [root for root in roots if not root.has(sp.I)]
    lambert_threshold = real_roots[0]
    # J_2 ~ 2 phi/t^3 at the root (phi = p t^3/4) gives g_2 = 1/2 as p -> 0.
    phi_at_root = sp.solve(sp.Eq(leading_j1.subs(sp.exp(-t**2 / 2) / sp.sqrt(2 * sp.pi), sp.Symbol("f")), rhs),
                           sp.Symbol("f"))[0]
    g2_root = sp.limit(
        (large_t_tail(2, 1).subs(phi(t), phi_at_root) / p).subs(t, t_w), p, 0
    )
    lambert_loss = p * kappa**2 * sp.limit(expansion.f2.subs({g2: g2_root, t: t_w}), p, 0)
    kappa_squared = (p / 3 - p**2 / 4) * (1 - r) / r
    leading_kappa = sp.limit(kappa_squared / p, p, 0) * p
    # t_W^2 = 3 W(z) ~ 3 ln z as p -> 0, and only the t^2/4 term of f2 grows.
    growth = lambert_threshold.replace(sp.LambertW, sp.log)  # W(z) = ln z - ln ln z + ...
    t_squared = sp.limit(growth / sp.log(1 / p), p, 0) * sp.log(1 / p)
    leading = sp.factor(p * leading_kappa * sp.limit(expansion.f2 / t**2, t, sp.oo) * t_squared)
    a_star = expansion.a_star.subs(t, t0).subs(in_tails)
    return ScalingFormulas(
        kappa_squared=kappa_squared,
        loss=loss,
        threshold=threshold,
        lambert_threshold=lambert_threshold,
        lambert_loss=lambert_loss,
        leading=leading,
        a_star=a_star,
        bias_star=-t0 * kappa * sp.Symbol("a_star"),
    )


@dataclass(frozen=True)
class BiasProjection:
    """The active features' bias penalty per theta^2 after the best refit of the output curve.

    ReLU refits a (a u + beta with beta = -theta a): residual of projecting the constant theta
    onto span{u}. The power family ReLU(z)^alpha refits a and alpha = 1 + gamma:
    (a(u - theta))^alpha = u - theta + eps u + gamma u ln u + O(theta^2), so the residual is
    the projection of theta onto span{u, u ln u} in L2[0, 1]. ``coefficients`` are
    (eps, gamma)/theta at the optimum.
    """

    residual: sp.Expr
    coefficients: tuple[sp.Expr, ...]


def bias_projection(basis: tuple[sp.Expr, ...]) -> BiasProjection:
    """min over c of int_0^1 (1 - sum c_i basis_i(u))^2 du, by the normal equations (sympy)."""
    uu = sp.Symbol("u", positive=True)
    basis = tuple(b.subs(u, uu) for b in basis)
    gram = sp.Matrix([[sp.integrate(f * g, (uu, 0, 1)) for g in basis] for f in basis])
    rhs = sp.Matrix([sp.integrate(f, (uu, 0, 1)) for f in basis])
    coefficients = gram.LUsolve(rhs)
    residual = sp.integrate((1 - sum(c * f for c, f in zip(coefficients, basis))) ** 2, (uu, 0, 1))
    return BiasProjection(sp.nsimplify(sp.simplify(residual)), tuple(sp.simplify(c) for c in coefficients))
