"""Generate ``rugtheory/numeric/_generated.py`` from the stable symbolic forms.

Run ``python -m rugtheory.symbolic.codegen`` to regenerate; ``tests/test_codegen.py``
regenerates in memory and compares with the checked-in file, so the numerics can never
drift from the derivation.
"""

from __future__ import annotations

import sys
from pathlib import Path

import sympy as sp
from sympy.printing.pycode import pycode

from .data import u
from .functions import J
from .meanfield import a, beta
from .stable import QUANTITIES, REGIONS, du_ds, inactive_forms, region_forms, s

__all__ = ["TARGET", "generate", "main"]

TARGET = Path(__file__).resolve().parent.parent / "numeric" / "_generated.py"

_tails = sp.IndexedBase("tails")

HEADER = '''"""Stable mean-field loss and tied derivatives, generated from rugtheory/symbolic/stable.py.

Do not edit: run ``python -m rugtheory.symbolic.codegen``. ``tails[k + 1]`` holds J_k(s) at
the point in question (``rugtheory.numeric.tails``). For each quantity and region:

* ``poly``: the polynomial part of the integrand at u (integrated by Simpson's rule); it takes
  ``am1 = a - 1`` separately, since near p -> 0 the optimum has a - 1 ~ sigma, below float64's
  resolution of a itself;
* ``tail``: du/ds * W at an endpoint (u, s), so a region contributes tail(lo) - tail(hi);
* ``point``: the whole integrand at u, for quadrature;
* ``inactive``: the inactive part's quantity with s = |beta|/sigma.
"""

# ruff: noqa: E501
'''


def _code(expr: sp.Expr) -> str:
    expr = expr.replace(J, lambda k, arg: _tails[int(k) + 1])
    return pycode(sp.expand(expr) if expr.is_polynomial() else expr, fully_qualified_modules=False)


def _function(name: str, args: str, expr: sp.Expr) -> str:
    body = _code(sp.factor_terms(expr))
    if body == "0":
        body = "0.0 * a"
    return f"def {name}({args}):\n    return {body}\n"


def _residual_body(expr: sp.Expr) -> tuple[bool, str]:
    """Code for a polynomial in the linear residual w = (a - 1) u + beta, so squares stay squares."""
    residual = sp.Symbol("w")
    in_residual = sp.factor_terms(sp.expand(expr.subs(beta, residual - (a - 1) * u)))
    return in_residual.has(residual), _code(in_residual)


def _poly_function(name: str, poly: sp.Expr, tails: sp.Expr | None = None) -> str:
    """A polynomial part (plus, for ``point``, the tail terms) taking am1 = a - 1 exactly."""
    uses_residual, body = _residual_body(poly)
    args = "a, am1, beta, sigma, u" + (", tails" if tails is not None else "")
    lines = [f"def {name}({args}):"]
    if uses_residual:
        lines.append("    w = am1 * u + beta  # the linear residual m - u, with am1 = a - 1 given exactly")
    if tails is not None and tails != 0:
        body = f"{body} + ({_code(tails)})" if body != "0" else _code(tails)
    if body == "0":
        body = "0.0 * a"
    lines.append(f"    return {body}")
    return "\n".join(lines) + "\n"


def generate() -> str:
    """The text of the generated module."""
    forms = region_forms()
    inactive = inactive_forms()
    chunks = [HEADER]
    orders = []
    table = []
    for quantity in QUANTITIES:
        for region in REGIONS:
            form = forms[quantity, region]
            stem = f"{quantity}_{region}"
            tail = sp.simplify(du_ds(region) * form.antiderivative)
            point = sum(c * J(k, s) for k, c in form.tails.items())
            for expr in (tail, point, inactive[quantity, region]):
                orders += [int(f.args[0]) for f in expr.atoms(J)]
            chunks.append(_poly_function(f"{stem}_poly", form.poly))
            chunks.append(_function(f"{stem}_tail", "a, beta, sigma, u, tails", tail))
            chunks.append(_poly_function(f"{stem}_point", form.poly, point))
            chunks.append(_function(f"{stem}_inactive", "a, beta, sigma, tails", inactive[quantity, region]))
            table.append(
                f'    ("{quantity}", "{region}"): ({stem}_poly, {stem}_tail, {stem}_point, {stem}_inactive),'
            )
    chunks.append(f"MAX_TAIL_ORDER = {max(orders)}\n")
    chunks.append("FORMS = {\n" + "\n".join(table) + "\n}\n")
    return "\n\n".join(chunks)


def main() -> int:
    """Write the generated module."""
    TARGET.write_text(generate())
    print(f"wrote {TARGET}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
