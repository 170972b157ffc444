"""Rerun the activation-family derivations (derivations/08_activation_families.md) and check them.

Usage (from the repository root):

    python derivations/families.py

Prints each family's pieces and region forms, then [ok]/[FAIL] lines for:

* the symbolic identities (pieces against the definition, telescoping identity, base term,
  integration by parts), the identity's optimum (= THEORY.md's L_lin) and the ReLU^alpha
  correction identity;
* the derived forms, assembled in mpmath at 30 digits (J_k from ``tails_mp``), against
  mpmath quadrature of the definition (``rugtheory.activations._reference``) at a few points,
  including p = 1e-12 (agreement to 1e-24 required);
* the ReLU^alpha kernels M0, N against mpmath quadrature of their defining u-integrals;
* the text of ``codegen_families.generate()`` against rugtheory/numeric/_generated_families.py.

``main()`` returns 1 on any failure. It takes about 20 s.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import mpmath as mp
import sympy as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rugtheory.activations._reference import piecewise_loss_mp
from rugtheory.numeric.tails_mp import gaussian_tails_mp
from rugtheory.symbolic import families as fam
from rugtheory.symbolic.codegen_families import TARGET, generate
from rugtheory.symbolic.functions import J

DIGITS = 30
TOLERANCE = mp.mpf("1e-24")
# (p, a, sigma, beta, theta): splits inside [0, 1]; small p near a threshold; a < 0; beta >> sigma.
POINTS = [
    ("0.3", "0.9", "0.2", "-0.1", "0.15"),
    ("1e-12", "1.0000001", "5.8e-7", "-2e-6", "3e-6"),
    ("0.1", "-0.5", "0.2", "0.3", "0.1"),
    ("0.05", "1.2", "0.01", "0.4", "0.2"),
]

_failures: list[str] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"  [{'ok' if ok else 'FAIL'}] {name}{(': ' + detail) if detail else ''}")
    if not ok:
        _failures.append(name)


def _tail_mp(k, s):
    return gaussian_tails_mp(s, max(int(k), 0))[int(k) + 1]


def _lambdify(expr: sp.Expr, args: tuple) -> object:
    return sp.lambdify(args, expr, modules=[{"J": _tail_mp, "Phi": mp.ncdf, "phi": mp.npdf}, "mpmath"])


def _activation(name: str, theta):
    """f as an mpmath function, written from the issue's definitions (not from the pieces)."""
    if name == "jumprelu":
        return lambda y: y if y > theta else mp.mpf(0)
    if name == "soft_threshold":
        return lambda y: mp.sign(y) * max(abs(y) - theta, 0)
    if name == "identity":
        return lambda y: y
    k = int(name[len("power"):])
    return lambda y: max(y, 0) ** k


def _assembled(name: str, p, a, sigma, beta, theta):
    """l_f from the derived region forms: poly part by mpmath.quad, tails by the antiderivatives."""
    forms = fam.region_forms(name)
    breakpoints = [mp.mpf(sp.N(b.subs(fam.theta, theta), 60)) for b in fam.DEFINITIONS[name].breakpoints]
    symbols = (fam.u, fam.w, fam.m, fam.sigma, fam.theta, fam.a, fam.x)

    def region(mean):
        return sum(1 for b in breakpoints if mean > b)

    def s_of(tail, mean):
        b = breakpoints[tail.breakpoint]
        return (b - mean) / sigma if tail.above else (mean - b) / sigma

    def expectation(u, mean):
        form = forms[region(mean)]
        value = _lambdify(form.mean_error**2 + form.variance, symbols)(u, mean - u, mean, sigma, theta, a, 0)
        for tail in form.tails:
            point = sum(c * J(k, fam.x) for k, c in tail.coefficients.items())
            value += _lambdify(point, symbols)(u, 0, 0, sigma, theta, a, s_of(tail, mean))
        return value

    inactive = expectation(mp.mpf(0), beta)
    cuts = sorted({mp.mpf(0), mp.mpf(1), *(min(max((b - beta) / a, 0), 1) for b in breakpoints)})
    active = mp.mpf(0)
    for lo, hi in itertools.pairwise(cuts):
        if hi <= lo:
            continue
        form = forms[region(a * (lo + hi) / 2 + beta)]
        poly = _lambdify(form.mean_error**2 + form.variance, symbols)

        def integrand(u, poly=poly):
            return poly(u, (a - 1) * u + beta, a * u + beta, sigma, theta, a, 0)

        active += mp.quad(integrand, [lo, hi])
        for tail in form.tails:
            antiderivative = _lambdify(tail.slope * tail.antiderivative, symbols)
            for sign, end in ((1, lo), (-1, hi)):
                s = max(s_of(tail, a * end + beta), 0)
                active += sign * antiderivative(end, 0, 0, sigma, theta, a, s)
    return (1 - p) * inactive + p * active


def symbolic_checks() -> None:
    print("\n== Pieces, region forms and symbolic identities")
    for name, definition in fam.DEFINITIONS.items():
        print(f"\n  {name}: f(y) = {definition.activation}; breakpoints {definition.breakpoints}")
        for j, form in enumerate(fam.region_forms(name)):
            tails = "; ".join(
                f"b{t.breakpoint} ({'above' if t.above else 'below'}): "
                + " + ".join(f"[{c}] J_{k}" for k, c in t.coefficients.items())
                for t in form.tails
            )
            print(f"    region {j}: F = {form.piece}; E F - u = {form.mean_error}; Var F = {form.variance}")
            if tails:
                print(f"      tails: {tails}")
        check(f"{name}: pieces equal the definition", fam.check_pieces(name))
        check(f"{name}: telescoping identity", fam.check_telescoping(name))
        check(f"{name}: (E F - u)^2 + Var F = E[(F - u)^2]", fam.check_base(name))
        check(f"{name}: integration by parts of every tail", fam.check_antiderivatives(name))


def identity_checks() -> None:
    print("\n== Identity: the optimum is the linear baseline")
    optimum = fam.identity_optimum()
    print(f"  l_id = {fam.identity_loss()}")
    print(f"  a* = {optimum['a']},  beta* = {optimum['beta']}")
    print(f"  l* (kappa^2 = Var x (1 - r)/r) = {optimum['loss_r']}")
    baseline = (1 - fam.r) * (fam.p / 3 - fam.p**2 / 4)
    check("l* = (1 - r)(p/3 - p^2/4)", sp.simplify(optimum["loss_r"] - baseline) == 0)
    det = sp.expand(optimum["hessian"].det())
    check("Hessian positive definite (det = 4 kappa^2 + 4p/3 - p^2 > 0 on p in (0, 1))",
          sp.expand(det - (4 * fam.kappa**2 + 4 * fam.p / 3 - fam.p**2)) == 0)


def numeric_checks() -> None:
    print(f"\n== Derived forms (mpmath, {DIGITS} digits) against mpmath quadrature of the definition")
    for name in fam.DEFINITIONS:
        worst = mp.mpf(0)
        for point in POINTS:
            with mp.workdps(DIGITS + 20):
                p, a, sigma, beta, theta = (mp.mpf(v) for v in point)
                if name not in ("jumprelu", "soft_threshold"):
                    theta = mp.mpf(0)
                breakpoints = [mp.mpf(sp.N(b.subs(fam.theta, theta), 60)) for b in fam.DEFINITIONS[name].breakpoints]
                degree = max(sp.Poly(F, fam.y).degree() for F in fam.pieces(name))
                exact = piecewise_loss_mp(_activation(name, theta), breakpoints, max(degree, 1), p, a, sigma, beta, DIGITS)
                derived = _assembled(name, p, a, sigma, beta, theta)
                worst = max(worst, abs(derived - exact) / abs(exact))
        check(f"{name}: 4 points", worst <= TOLERANCE, f"worst relative difference {mp.nstr(worst, 3)}")


def kernel_checks() -> None:
    print("\n== ReLU^alpha correction: (y_+^alpha - u)^2 - (y_+ - u)^2 = D (D + 2 (y - u)), kernels M0, N")
    kernels = fam.power_kernels()
    check("identity (symbolic)", kernels["identity"] == 0)
    parts = fam.power_kernel_parts()
    print(f"  M0 = [{parts['M0']['Phi']}] dPhi;  N = [{parts['N']['Phi']}] dPhi + [{parts['N']['phi']}] dphi")
    worst = mp.mpf(0)
    with mp.workdps(DIGITS + 10):
        for a, beta, sigma, y in (("1.1", "-0.05", "0.07", "0.3"), ("0.4", "0.2", "0.5", "-0.1"), ("-0.7", "0.6", "0.1", "0.2")):
            a, beta, sigma, y = (mp.mpf(v) for v in (a, beta, sigma, y))
            values = {fam.a: a, fam.beta: beta, fam.sigma: sigma, fam.y: y,
                      fam.v0: (y - beta) / sigma, fam.v1: (y - a - beta) / sigma}
            for key, power in (("M0", 0), ("N", 1)):
                derived = _lambdify(kernels[key], tuple(values))(*values.values())

                def integrand(u, a=a, beta=beta, sigma=sigma, y=y, power=power):
                    return (y - u) ** power * mp.npdf((y - a * u - beta) / sigma) / sigma

                exact = mp.quad(integrand, [0, 1])
                worst = max(worst, abs(derived - exact) / abs(exact))
    check("M0, N against mpmath quadrature (3 points)", worst <= TOLERANCE, f"worst {mp.nstr(worst, 3)}")


def codegen_check() -> None:
    print("\n== Generated module")
    check(f"{TARGET.relative_to(ROOT)} is what codegen_families.generate() produces", TARGET.read_text() == generate())


def main() -> int:
    """Derive, print and check; 0 if every check passes, else 1."""
    _failures.clear()
    symbolic_checks()
    identity_checks()
    numeric_checks()
    kernel_checks()
    codegen_check()
    print(f"\n{'all checks passed' if not _failures else f'{len(_failures)} check(s) FAILED'}")
    return 1 if _failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
