"""Generate ``rugtheory/numeric/_generated_families.py`` from ``rugtheory.symbolic.families``.

Run ``python -m rugtheory.symbolic.codegen_families`` to regenerate; ``tests/test_activations.py``
regenerates in memory and compares with the checked-in file (as tests/test_codegen.py does
for ``_generated.py``, which this module leaves alone).
"""

from __future__ import annotations

import sys
from pathlib import Path

import sympy as sp
from sympy.printing.pycode import pycode

from .data import u
from .families import DEFINITIONS, identity_optimum, power_kernel_parts, region_forms, w, x, y
from .functions import J
from .gaussian import m
from .meanfield import a, beta

__all__ = ["TARGET", "generate", "main"]

TARGET = Path(__file__).resolve().parent.parent / "numeric" / "_generated_families.py"

_tails = sp.IndexedBase("tails")

HEADER = '''"""Stable losses of the activation families, generated from rugtheory/symbolic/families.py.

Do not edit: run ``python -m rugtheory.symbolic.codegen_families``. ``tails[k + 1]`` holds
J_k(s) at the point in question. For each family, region j (the mean m = a u + beta inside
piece j) and breakpoint i (derivations/08_activation_families.md):

* ``rj_poly``: (E F_j - u)^2 + Var F_j at u, a polynomial of degree ``poly_degree`` in u,
  written in w = am1 u + beta (am1 = a - 1, given exactly) and m = a u + beta;
* ``rj_bi_tail``: du/ds * W at an endpoint (u, s): a region contributes tail(lo) - tail(hi);
* ``rj_bi_point``: breakpoint i's correction sum_k C_k(u) J_k(s) at u (quadrature, inactive).

``FAMILIES[name]["regions"][j]`` is (poly, ((i, above, tail, point), ...)); ``above`` says
that s = (b_i - m)/sigma (else (m - b_i)/sigma). ``identity_optimum`` is the stationary point
of the identity's loss at the rank bound; ``power_M0`` and ``power_N`` are the kernels of
the ReLU^alpha correction with dPhi = Phi(v0) - Phi(v1), dphi = phi(v1) - phi(v0) and
resid = (a - 1) y + beta (the caller forms it without cancellation).
"""

# ruff: noqa
'''


def _code(expr: sp.Expr) -> str:
    expr = expr.replace(J, lambda k, arg: _tails[int(k) + 1])
    return pycode(expr, fully_qualified_modules=False)


def _function(name: str, args: str, expr: sp.Expr, preamble: tuple[str, ...] = ()) -> str:
    body = _code(expr)
    if body == "0":
        body = "0.0 * u"
    lines = [f"def {name}({args}):", *(f"    {line}" for line in preamble), f"    return {body}"]
    return "\n".join(lines) + "\n"


def _poly_function(name: str, mean_error: sp.Expr, variance: sp.Expr) -> str:
    preamble = []
    if mean_error.has(w):
        preamble.append("w = am1 * u + beta  # the residual m - u, with am1 = a - 1 given exactly")
    if variance.has(m):
        preamble.append("m = a * u + beta")
    error_code = _code(sp.factor_terms(mean_error))
    variance_code = _code(sp.factor_terms(variance))
    body = f"({error_code})**2" + ("" if variance == 0 else f" + {variance_code}")
    lines = [f"def {name}(a, am1, beta, sigma, theta, u):", *(f"    {line}" for line in preamble)]
    lines.append(f"    return {body}")
    return "\n".join(lines) + "\n"


def _degree(mean_error: sp.Expr, variance: sp.Expr) -> int:
    total = mean_error.subs(w, (a - 1) * u + beta) ** 2 + variance.subs(m, a * u + beta)
    return sp.Poly(sp.expand(total), u).degree()


def _family_chunks(name: str) -> tuple[list[str], str]:
    forms = region_forms(name)
    chunks = []
    breakpoints = ", ".join(_code(b) for b in DEFINITIONS[name].breakpoints)
    body = f"({breakpoints},)" if breakpoints else "()"
    chunks.append(f"def {name}_breakpoints(theta):\n    return {body}\n")
    orders, degrees, regions = [0], [], []
    for j, form in enumerate(forms):
        stem = f"{name}_r{j}"
        chunks.append(_poly_function(f"{stem}_poly", form.mean_error, form.variance))
        degrees.append(_degree(form.mean_error, form.variance))
        entries = []
        for tail in form.tails:
            tail_expr = sp.factor_terms(sp.expand(tail.slope * tail.antiderivative))
            point_expr = sum((c * J(k, x) for k, c in tail.coefficients.items()), sp.S.Zero)
            orders += [int(f.args[0]) for f in tail_expr.atoms(J) | point_expr.atoms(J)]
            i = tail.breakpoint
            chunks.append(_function(f"{stem}_b{i}_tail", "a, sigma, theta, u, tails", tail_expr))
            chunks.append(_function(f"{stem}_b{i}_point", "a, sigma, theta, u, tails", point_expr))
            entries.append(f"({i}, {tail.above}, {stem}_b{i}_tail, {stem}_b{i}_point)")
        inner = ", ".join(entries) + ("," if len(entries) == 1 else "")
        regions.append(f"({stem}_poly, ({inner}))")
    table = (
        f'    "{name}": {{\n'
        f'        "breakpoints": {name}_breakpoints,\n'
        f'        "max_tail_order": {max(orders)},\n'
        f'        "poly_degree": {max(degrees)},\n'
        f'        "regions": ({", ".join(regions)}{"," if len(regions) == 1 else ""}),\n'
        f"    }},"
    )
    return chunks, table


def _identity_chunk() -> str:
    optimum = identity_optimum()
    a_code, beta_code = (_code(sp.factor(optimum[key])) for key in ("a", "beta"))
    return (
        "def identity_optimum(p, kappa):\n"
        '    """(a, beta) minimising the identity\'s loss with sigma = kappa a."""\n'
        f"    return ({a_code}, {beta_code})\n"
    )


def _kernel_chunks() -> list[str]:
    """power_M0, power_N with every numerator written in resid = (a - 1) y + beta (computed by the caller)."""
    chunks = []
    resid = sp.Symbol("resid", real=True)
    for key, parts in power_kernel_parts().items():
        terms = []
        for factor, name in (("Phi", "dPhi"), ("phi", "dphi")):
            coefficient = parts[factor]
            if coefficient == 0:
                continue
            numerator, denominator = sp.fraction(sp.factor(coefficient))
            numerator = sp.factor_terms(sp.expand(numerator.subs(beta, resid - (a - 1) * y)))
            if numerator.has(y) or numerator.has(beta):
                raise RuntimeError(f"power_{key}: numerator not in the residual: {numerator}")
            terms.append(f"({_code(numerator)}) / ({_code(denominator)}) * {name}")
        body = " + ".join(terms)
        chunks.append(f"def power_{key}(a, sigma, resid, dPhi, dphi):\n    return {body}\n")
    return chunks


def generate() -> str:
    """The text of the generated module."""
    chunks = [HEADER]
    tables = []
    for name in DEFINITIONS:
        family_chunks, table = _family_chunks(name)
        chunks += family_chunks
        tables.append(table)
    chunks.append("FAMILIES = {\n" + "\n".join(tables) + "\n}\n")
    chunks.append(_identity_chunk())
    chunks += _kernel_chunks()
    return "\n\n".join(chunks)


def main() -> int:
    """Write the generated module."""
    TARGET.write_text(generate())
    print(f"wrote {TARGET}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
