"""Sympy functions of the Gaussian: Phi, phi and the tail family J_k.

``J(k, s) = E[(Z - s)_+^k]`` for Z ~ N(0, 1), with ``J(-1, s) = phi(s)`` and
``J(0, s) = Phi(-s)``. For s >= 0 every J_k is a small positive tail; the stable
evaluation of the loss is written entirely in them (derivations/03_meanfield_loss.md).
Their derivative rule is dJ_k/ds = -d_k J_{k-1} with d_k = k for k >= 1 and d_0 = 1.
"""

from __future__ import annotations

import sympy as sp

__all__ = ["J", "Phi", "gaussian_pdf", "phi", "tail_step", "z"]

z = sp.Symbol("z", real=True)


def gaussian_pdf(x: sp.Expr) -> sp.Expr:
    """The standard normal density as an exponential."""
    return sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi)


class Phi(sp.Function):
    """Standard normal cdf."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return phi(self.args[0])

    def _eval_rewrite_as_erf(self, x: sp.Expr, **kwargs: object) -> sp.Expr:
        return (1 + sp.erf(x / sp.sqrt(2))) / 2

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\Phi\left({printer._print(self.args[0])}\right)"


class phi(sp.Function):
    """Standard normal pdf."""

    nargs = 1

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        """phi is even: strip Abs and a leading minus sign (a canonical form)."""
        if isinstance(x, sp.Abs):
            return cls(x.args[0])
        if x.could_extract_minus_sign():
            return cls(-x)
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return -self.args[0] * phi(self.args[0])

    def _eval_rewrite_as_erf(self, x: sp.Expr, **kwargs: object) -> sp.Expr:
        return gaussian_pdf(x)

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\varphi\left({printer._print(self.args[0])}\right)"


def tail_step(k: int) -> int:
    """d_k of the rule dJ_k/ds = -d_k J_{k-1}: k for k >= 1, and 1 for k = 0."""
    return max(k, 1)


class J(sp.Function):
    """Gaussian tail moment J(k, s) = E[(Z - s)_+^k] (J(-1, s) is phi(s))."""

    nargs = 2

    def fdiff(self, argindex: int = 2) -> sp.Expr:
        if argindex != 2:
            raise sp.ArgumentIndexError(self, argindex)
        k, s = self.args
        return -tail_step(int(k)) * J(k - 1, s)

    def _eval_rewrite_as_erf(self, k: sp.Expr, s: sp.Expr, **kwargs: object) -> sp.Expr:
        """The definition, integrated by sympy (not typed in)."""
        k = int(k)
        if k == -1:
            return gaussian_pdf(s)
        t = sp.Dummy("t", real=True)
        terms = sp.expand((z - t) ** k).as_ordered_terms()
        value = sum(sp.integrate(term * gaussian_pdf(z), (z, t, sp.oo)) for term in terms)
        return sp.expand(value.subs(t, s))

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        k, s = self.args
        return rf"J_{{{printer._print(k)}}}\left({printer._print(s)}\right)"


def _gaussian_argument(exponent: sp.Expr) -> sp.Expr:
    """x with exponent = -x^2/2 (phi is even, so the sign of x is immaterial)."""
    root = sp.sqrt(sp.factor(-2 * exponent))
    return root.replace(sp.Abs, lambda y: y)


def to_phi(expr: sp.Expr) -> sp.Expr:
    """Rewrite erf, erfc and Gaussian exponentials in Phi and phi, with Phi of positive orientation."""
    expr = expr.replace(sp.erfc, lambda x: 2 - 2 * Phi(sp.sqrt(2) * x))
    expr = expr.replace(sp.erf, lambda x: 2 * Phi(sp.sqrt(2) * x) - 1)
    expr = expr.replace(
        lambda e: isinstance(e, sp.exp) and e.args[0].could_extract_minus_sign(),
        lambda e: sp.sqrt(2 * sp.pi) * phi(_gaussian_argument(e.args[0])),
    )
    return sp.expand(expr)
