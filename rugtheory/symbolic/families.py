"""Activation families under the rank-bound linear layer, derived in sympy (derivations/08_activation_families.md).

The per-feature loss of an elementwise f (issue 3; THEORY.md's mean-field loss with ReLU -> f) is

    l_f = (1 - p) E[f(beta + sigma Z)^2] + p int_0^1 E[(f(a u + beta + sigma Z) - u)^2] du.

Every family here is piecewise polynomial: breakpoints b_1 < ... < b_n and polynomials
F_0, ..., F_n with f = F_j on (b_j, b_{j+1}). The pieces are read off the definition
(``pieces``). With y = m + sigma Z and g_j = (F_j(y) - u)^2, the *telescoping identity*

    (f(y) - u)^2 = g_j(y) + sum_{i >= j} [g_{i+1} - g_i](y) 1[y > b_i]
                          + sum_{i <  j} [g_i - g_{i+1}](y) 1[y < b_i]

holds for every y and every base piece j (``check_telescoping``). Choosing j as the piece
that holds the mean m ("region j"), every indicator is a Gaussian tail: with
s = |b_i - m|/sigma >= 0 and t the standardised distance past b_i,
E[P(t) 1[t > 0]] = sum_k P_k J_k(s). The base term is (E F_j - u)^2 + Var F_j, a sum of
non-negative terms written in the residual w = m - u (``region_forms``). The u-integral of the
tails is done by parts exactly as for the ReLU (``rugtheory.symbolic.stable``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache

import sympy as sp

from .data import p, u
from .functions import J, Phi, gaussian_pdf, phi, tail_step, to_phi, z
from .gaussian import m, sigma
from .meanfield import a, beta, kappa

__all__ = [
    "DEFINITIONS",
    "POWERS",
    "Definition",
    "RegionForm",
    "TailTerm",
    "alpha",
    "check_antiderivatives",
    "check_base",
    "check_pieces",
    "check_telescoping",
    "gaussian_expectation",
    "identity_loss",
    "identity_optimum",
    "pieces",
    "power_kernel_parts",
    "power_kernels",
    "r",
    "region_forms",
    "theta",
    "w",
    "x",
    "y",
]

y = sp.Symbol("y", real=True)
theta = sp.Symbol("theta", nonnegative=True)
alpha = sp.Symbol("alpha", positive=True)
w = sp.Symbol("w", real=True)  # the residual m - u = (a - 1) u + beta
x = sp.Symbol("x", nonnegative=True)  # a tail argument s at an endpoint
r = sp.Symbol("r", positive=True)
_t = sp.Symbol("t", real=True)  # standardised distance past a breakpoint
v0, v1 = sp.symbols("v_0 v_1", real=True)  # (y - beta)/sigma and (y - a - beta)/sigma

POWERS = (1, 2, 3, 4)
# A value of theta at which the breakpoints are distinct; used only to pick each interval's branch.
_THETA_SAMPLE = sp.Rational(1, 2)


@dataclass(frozen=True)
class Definition:
    """An activation f(y) as the issue defines it, and the points where it changes form."""

    name: str
    activation: sp.Expr
    breakpoints: tuple[sp.Expr, ...]


def _definitions() -> dict[str, Definition]:
    defs = {
        "jumprelu": Definition("jumprelu", y * sp.Heaviside(y - theta, 0), (theta,)),
        "soft_threshold": Definition(
            "soft_threshold", sp.sign(y) * sp.Max(sp.Abs(y) - theta, 0), (-theta, theta)
        ),
        "identity": Definition("identity", y, ()),
    }
    for k in POWERS:
        defs[f"power{k}"] = Definition(f"power{k}", sp.Max(y, 0) ** k, (sp.S.Zero,))
    return defs


DEFINITIONS = _definitions()


def _interval_samples(breakpoints: tuple[sp.Expr, ...]) -> list[sp.Expr]:
    """A rational y inside each interval (b_j, b_{j+1}) at theta = 1/2."""
    values = [b.subs(theta, _THETA_SAMPLE) for b in breakpoints]
    if not values:
        return [sp.S.Zero]
    inner = [(lo + hi) / 2 for lo, hi in itertools.pairwise(values)]
    return [values[0] - 1, *inner, values[-1] + 1]


@cache
def pieces(name: str) -> tuple[sp.Expr, ...]:
    """F_0, ..., F_n: the polynomial branch of the definition on each interval.

    The definition is rewritten as a sympy Piecewise; on each interval the first branch
    whose condition holds at a sample point is taken (its expression is kept symbolic).
    ``check_pieces`` then compares f and F_j at random points of every interval.
    """
    definition = DEFINITIONS[name]
    folded = sp.piecewise_fold(definition.activation.rewrite(sp.Piecewise))
    if not isinstance(folded, sp.Piecewise):
        return (sp.expand(folded),)
    out = []
    for sample in _interval_samples(definition.breakpoints):
        point = {y: sample, theta: _THETA_SAMPLE}
        branch = next(expr for expr, cond in folded.args if bool(cond.subs(point)))
        piece = sp.expand(branch)
        if not piece.is_polynomial(y):
            raise RuntimeError(f"{name}: a non-polynomial piece {piece}")
        out.append(piece)
    return tuple(out)


def check_pieces(name: str, draws: int = 5, seed: int = 0) -> bool:
    """f = F_j at random rational points of each interval and random theta > 0."""
    import random

    rng = random.Random(seed)
    definition = DEFINITIONS[name]
    for _ in range(draws):
        th = sp.Rational(rng.randint(1, 40), 16)
        values = [b.subs(theta, th) for b in definition.breakpoints]
        edges = [values[0] - 5] + values + [values[-1] + 5] if values else [sp.Integer(-5), sp.Integer(5)]
        for j, (lo, hi) in enumerate(itertools.pairwise(edges)):
            point = lo + (hi - lo) * sp.Rational(rng.randint(1, 99), 100)
            exact = definition.activation.subs({theta: th}).subs(y, point)
            if sp.simplify(exact - pieces(name)[j].subs({theta: th, y: point})) != 0:
                return False
    return True


def gaussian_expectation(expr: sp.Expr) -> sp.Expr:
    """E[expr(z)] for Z ~ N(0, 1) and expr polynomial in z, integrated by sympy."""
    poly = sp.Poly(sp.expand(expr), z)
    total = sp.S.Zero
    for (k,), coefficient in poly.terms():
        total += coefficient * sp.integrate(z**k * gaussian_pdf(z), (z, -sp.oo, sp.oo))
    return sp.expand(total)


@dataclass(frozen=True)
class TailTerm:
    """One breakpoint's correction in a region: sum_k coefficients[k](u) J_k(s(u)).

    ``above``: the breakpoint lies above the region (s = (b - m)/sigma), else below
    (s = (m - b)/sigma). ``slope`` = du/ds. ``antiderivative`` = W(u, x), the integral
    from x to infinity over s, by parts, with ``u`` standing for the endpoint's u.
    """

    breakpoint: int
    above: bool
    coefficients: dict[int, sp.Expr]
    slope: sp.Expr
    antiderivative: sp.Expr


@dataclass(frozen=True)
class RegionForm:
    """E[(f(y) - u)^2] for m inside piece j: (mean_error)^2 + variance + sum of tails."""

    piece: sp.Expr
    mean_error: sp.Expr  # E[F_j(m + sigma Z)] - u, in u and the residual w = m - u
    variance: sp.Expr  # Var F_j(m + sigma Z), in m and sigma
    tails: tuple[TailTerm, ...]

    def point(self) -> sp.Expr:
        """The whole integrand at u, with J(k, s_i) written as J(k, x_i) per breakpoint."""
        base = self.mean_error**2 + self.variance.subs(m, u + w)
        extra = sum(
            (c * J(k, sp.Symbol(f"x_{tail.breakpoint}")) for tail in self.tails for k, c in tail.coefficients.items()),
            sp.S.Zero,
        )
        return base + extra


def _tail_antiderivative(coefficients: dict[int, sp.Expr], slope: sp.Expr) -> sp.Expr:
    """W(x) = int_x^inf sum_k C_k(u(s)) J_k(s) ds = sum_k sum_i slope^i C_k^(i) J_{k+1+i}(x) / (d_{k+1} ... d_{k+1+i})."""
    total = sp.S.Zero
    for k, coefficient in coefficients.items():
        derivative = coefficient
        divisor = sp.S.One
        for i in range(sp.Poly(coefficient, u).degree() + 1):
            divisor *= tail_step(k + 1 + i)
            total += slope**i * derivative * J(k + 1 + i, x) / divisor
            derivative = sp.diff(derivative, u)
    return total


def _tail_coefficients(difference: sp.Expr, breakpoint: sp.Expr, above: bool) -> dict[int, sp.Expr]:
    """E[difference(y) 1[y > b]] (above) or E[difference(y) 1[y < b]] (below) as sum_k C_k J_k(s).

    Above: y = b + sigma t with t = Z - s; below: y = b - sigma t with t = -Z - s. Either way
    E[t^k 1[t > 0]] = J_k(s) by the definition of J.
    """
    shifted = difference.subs(y, breakpoint + (1 if above else -1) * sigma * _t)
    poly = sp.Poly(sp.expand(shifted), _t)
    return {k: sp.factor(c) for (k,), c in sorted(poly.terms()) if c != 0}


@cache
def region_forms(name: str) -> tuple[RegionForm, ...]:
    """The stable form of E[(f(m + sigma Z) - u)^2] in each region j (m inside piece j)."""
    breakpoints = DEFINITIONS[name].breakpoints
    fs = pieces(name)
    squares = [(F - u) ** 2 for F in fs]
    forms = []
    for j, F in enumerate(fs):
        mean = gaussian_expectation(F.subs(y, u + w + sigma * z))
        mean_error = sp.expand(mean - u)
        second = gaussian_expectation(F.subs(y, m + sigma * z) ** 2)
        mean_m = gaussian_expectation(F.subs(y, m + sigma * z))
        variance = sp.factor(sp.expand(second - mean_m**2))
        tails = []
        for i, b in enumerate(breakpoints):
            above = i >= j
            difference = squares[i + 1] - squares[i] if above else squares[i] - squares[i + 1]
            coefficients = _tail_coefficients(difference, b, above)
            slope = -sigma / a if above else sigma / a
            tails.append(
                TailTerm(i, above, coefficients, slope, _tail_antiderivative(coefficients, slope))
            )
        forms.append(RegionForm(F, mean_error, variance, tuple(tails)))
    return tuple(forms)


def check_telescoping(name: str) -> bool:
    """The telescoping identity for every base piece j, at a point of every interval (symbolic in u)."""
    definition = DEFINITIONS[name]
    fs = pieces(name)
    breakpoints = [b.subs(theta, _THETA_SAMPLE) for b in definition.breakpoints]
    for sample in _interval_samples(definition.breakpoints):
        exact = (definition.activation.subs(theta, _THETA_SAMPLE).subs(y, sample) - u) ** 2
        for j in range(len(fs)):
            g = [((F - u) ** 2).subs({theta: _THETA_SAMPLE, y: sample}) for F in fs]
            total = g[j]
            for i, b in enumerate(breakpoints):
                if i >= j and sample > b:
                    total += g[i + 1] - g[i]
                if i < j and sample < b:
                    total += g[i] - g[i + 1]
            if sp.expand(total - exact) != 0:
                return False
    return True


def check_base(name: str) -> bool:
    """(E F_j - u)^2 + Var F_j = E[(F_j(m + sigma Z) - u)^2] for every piece (symbolic)."""
    for form in region_forms(name):
        direct = gaussian_expectation((form.piece.subs(y, m + sigma * z) - u) ** 2)
        split = form.mean_error.subs(w, m - u) ** 2 + form.variance
        if sp.expand(direct - split) != 0:
            return False
    return True


def _s_of_u(name: str, tail: TailTerm) -> sp.Expr:
    b = DEFINITIONS[name].breakpoints[tail.breakpoint]
    mean = a * u + beta
    return (b - mean) / sigma if tail.above else (mean - b) / sigma


def check_antiderivatives(name: str) -> bool:
    """d/du [slope W(u, s(u))] = -sum_k C_k(u) J_k(s(u)) for every tail term (symbolic)."""
    for form in region_forms(name):
        for tail in form.tails:
            s_u = _s_of_u(name, tail)
            along = tail.slope * tail.antiderivative.subs(x, s_u)
            integrand = sum(c * J(k, s_u) for k, c in tail.coefficients.items())
            if sp.simplify(sp.expand(sp.diff(along, u) + integrand)) != 0:
                return False
    return True


# --- identity: the loss is a quadratic and its optimum is the linear baseline -----------------


@cache
def identity_loss() -> sp.Expr:
    """l_id(a, sigma, beta; p) from the identity's region form (inactive: u = 0, w = beta)."""
    (form,) = region_forms("identity")
    integrand = form.mean_error**2 + form.variance
    active = sp.integrate(sp.expand(integrand.subs(w, (a - 1) * u + beta)), (u, 0, 1))
    inactive = integrand.subs({u: 0, w: beta})
    return sp.expand((1 - p) * inactive + p * active)


@cache
def identity_optimum() -> dict[str, sp.Expr]:
    """The stationary point of l_id with sigma = kappa a, and its loss at the rank bound.

    Keys: a, beta (in p, kappa), loss (in p, kappa), loss_r (kappa^2 = Var x (1 - r)/r
    substituted and simplified; THEORY.md's L_lin = (1 - r)(p/3 - p^2/4)), hessian (in p,
    kappa; positive definite, so the stationary point is the global minimum).
    """
    tied = identity_loss().subs(sigma, kappa * a)
    gradient = [sp.diff(tied, v) for v in (a, beta)]
    (solution,) = sp.solve(gradient, [a, beta], dict=True)
    a_star, beta_star = sp.factor(solution[a]), sp.factor(solution[beta])
    loss = sp.factor(tied.subs({a: a_star, beta: beta_star}))
    variance = p / 3 - p**2 / 4
    loss_r = sp.factor(sp.simplify(loss.subs(kappa, sp.sqrt(variance * (1 - r) / r))))
    hessian = sp.hessian(tied, (a, beta))
    return {"a": a_star, "beta": beta_star, "loss": loss, "loss_r": loss_r, "hessian": hessian}


# --- ReLU^alpha: kernels of the correction to alpha = 1 ---------------------------------------


@cache
def power_kernels() -> dict[str, sp.Expr]:
    """u-integrals behind the ReLU^alpha correction (derivations/08, "ReLU^alpha, any alpha").

    (y_+^alpha - u)^2 - (y_+ - u)^2 = D (D + 2 (y - u)) for y > 0 (and 0 for y <= 0), with
    D = y^alpha - y; so, by Fubini over y = a u + beta + sigma Z,

        int_0^1 E[...] du = int_0^inf D(y) [D(y) M0(y) + 2 N(y)] dy,
        M0(y) = int_0^1 phi((y - a u - beta)/sigma)/sigma du,  N(y) = int_0^1 (y - u) (same) du.

    The u-integrals are done in v = (y - a u - beta)/sigma (sympy's change of variables), from
    v0 = (y - beta)/sigma at u = 0 to v1 = (y - a - beta)/sigma at u = 1, with the limits kept
    as the symbols v_0, v_1 until the result is in Phi and phi. Keys: identity (the difference
    of the two sides of the first line, expanded; it must vanish), M0, N (in y, a, beta, sigma,
    v_0, v_1).
    """
    D = sp.Symbol("D", real=True)
    identity = sp.expand(((y + D) - u) ** 2 - (y - u) ** 2 - D * (D + 2 * (y - u)))
    v = sp.Symbol("v", real=True)
    density = gaussian_pdf((y - a * u - beta) / sigma) / sigma
    kernels = {"identity": identity}
    for key, weight in (("M0", sp.S.One), ("N", y - u)):
        integral = sp.Integral(weight * density, (u, 0, 1)).transform(u, ((y - beta - sigma * v) / a, v))
        ((variable, first, second),) = integral.limits  # from v0 (u = 0) to v1 (u = 1)
        if sp.simplify(first - (y - beta) / sigma) != 0 or sp.simplify(second - (y - a - beta) / sigma) != 0:
            raise RuntimeError(f"unexpected limits {integral.limits}")
        antiderivative = sp.integrate(sp.expand(integral.function), variable)
        value = to_phi(sp.expand(antiderivative.subs(variable, v1) - antiderivative.subs(variable, v0)))
        kernels[key] = sp.expand(value)
    return kernels


def power_kernel_parts() -> dict[str, dict[str, sp.Expr]]:
    """M0 and N as c_Phi [Phi(v0) - Phi(v1)] + c_phi [phi(v1) - phi(v0)] (checked exactly).

    Returns {"M0": {"Phi": ..., "phi": ...}, "N": {...}}, coefficients in (y, a, beta, sigma).
    """
    out = {}
    kernels = power_kernels()
    for key in ("M0", "N"):
        expr = kernels[key]
        c_big = sp.factor(expr.coeff(Phi(v0)))
        c_small = sp.factor(expr.coeff(phi(v1)))
        rebuilt = c_big * (Phi(v0) - Phi(v1)) + c_small * (phi(v1) - phi(v0))
        if sp.expand(rebuilt - expr) != 0 or (c_big.free_symbols | c_small.free_symbols) & {v0, v1}:
            raise RuntimeError(f"{key}: unexpected structure {expr}")
        out[key] = {"Phi": c_big, "phi": c_small}
    return out
