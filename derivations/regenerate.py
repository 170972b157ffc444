"""Run every symbolic derivation of rugtheory, print it, check it, and compare the generated code.

Usage (from the repository root):

    python derivations/regenerate.py            # derive, check, compare; exit 1 on any failure
    python derivations/regenerate.py --write    # ... and rewrite rugtheory/numeric/_generated.py
    python derivations/regenerate.py --tails    # also measure rugtheory.numeric.tails against mpmath

Each section names the document of derivations/ that it reproduces. The high-precision checks
use mpmath at 30 digits and quadrature of the definitions, never the formulas under test.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import sys
import time
from pathlib import Path

import mpmath as mp
import sympy as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "derivations"))

from rugtheory.symbolic import codegen
from rugtheory.symbolic.data import data_moments, interference_moments, p, u
from rugtheory.symbolic.functions import J, tail_step
from rugtheory.symbolic.gaussian import check_tail_identity, m, relu_moment, sigma
from rugtheory.symbolic.meanfield import a, beta, kappa, meanfield_form, tied_derivatives
from rugtheory.symbolic.stable import (
    QUANTITIES,
    REGIONS,
    check_region_identity,
    du_ds,
    inactive_forms,
    region_forms,
    s,
)

DIGITS = 30
TOLERANCE = mp.mpf("1e-20")
# (p, a, beta, kappa): split inside [0, 1], split inside with small p, all of [0, 1] in L, all in R.
POINTS = [("0.3", "0.9", "-0.2", "0.4"), ("0.01", "1.1", "-0.05", "0.06"),
          ("0.5", "0.7", "-0.9", "0.3"), ("0.2", "0.8", "0.3", "0.5")]

_failures: list[str] = []


def section(title: str) -> None:
    print(f"\n== {title}")


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"  [{'ok' if ok else 'FAIL'}] {name}{(': ' + detail) if detail else ''}")
    if not ok:
        _failures.append(name)


def show(name: str, expr: sp.Expr) -> None:
    print(f"  {name} = {sp.sstr(expr)}")


def _mp_J(k: object, x: object) -> mp.mpf:
    """J_k(x) = E[(Z - x)_+^k] by quadrature of its definition."""
    k, x = int(k), mp.mpf(x)
    if k == -1:
        return mp.npdf(x)
    return mp.quad(lambda zz: (zz - x) ** k * mp.npdf(zz), [x, x + 1, x + 8, mp.inf])


MODULES = [{"Phi": mp.ncdf, "phi": mp.npdf, "J": _mp_J}, "mpmath"]


def data_section() -> None:
    section("01_data_moments.md: rugtheory.symbolic.data")
    moments = data_moments()
    for key, value in moments.items():
        show(f"E-moment '{key}'", value)
    expected = {"mean": p / 2, "second": p / 3, "third": p / 4, "variance": p / 3 - p**2 / 4}
    check("moments are p/2, p/3, p/4, p/3 - p^2/4",
          all(sp.simplify(moments[k] - v) == 0 for k, v in expected.items()))
    inter = interference_moments()
    show("E nu", inter["mean"])
    show("Var nu", inter["variance"])
    R, S = inter["row_sum"], inter["offdiag_power"]
    check("E nu = (p/2) R and Var nu = (p/3 - p^2/4) S",
          sp.simplify(inter["mean"] - p * R / 2) == 0
          and sp.simplify(inter["variance"] - (p / 3 - p**2 / 4) * S) == 0)


def gaussian_section() -> None:
    section("02_gaussian_moments.md: rugtheory.symbolic.gaussian, rugtheory.symbolic.functions")
    for k in (0, 1, 2):
        show(f"G_{k}(m, sigma) = E[ReLU(m + sigma Z)^{k}]", relu_moment(k))
        check(f"G_{k} = sigma^{k} J_{k}(-m/sigma)", check_tail_identity(k))
    x = sp.Symbol("x", real=True)
    explicit = {k: J(k, x).rewrite(sp.erf) for k in range(-1, 5)}  # J_k integrated from its definition
    for k in range(5):
        derivative = sp.diff(explicit[k], x) + tail_step(k) * explicit[k - 1]
        check(f"dJ_{k}/ds = -{tail_step(k)} J_{k - 1}", sp.simplify(derivative) == 0)
    for k in range(4):
        difference = explicit[k + 1] - (tail_step(k) * explicit[k - 1] - x * explicit[k])
        check(f"J_{k + 1} = {tail_step(k)} J_{k - 1} - s J_{k}", sp.simplify(sp.expand(difference)) == 0)


def _definition_loss(pv: mp.mpf, av: mp.mpf, bv: mp.mpf, sv: mp.mpf) -> mp.mpf:
    """THEORY.md's mean-field loss by quadrature: the ReLU kink is split off exactly."""
    def active(uu: mp.mpf) -> mp.mpf:
        mean = av * uu + bv
        kink = -mean / sv
        on = mp.quad(lambda zz: (mean + sv * zz - uu) ** 2 * mp.npdf(zz), [kink, kink + 5, mp.inf])
        return uu**2 * mp.ncdf(kink) + on

    inactive = mp.quad(lambda zz: (bv + sv * zz) ** 2 * mp.npdf(zz), [-bv / sv, mp.inf])
    split = -bv / av
    cuts = [0, split, 1] if 0 < split < 1 else [0, 1]
    return (1 - pv) * inactive + pv * mp.quad(active, cuts)


def meanfield_section() -> None:
    section("03_meanfield_loss.md: rugtheory.symbolic.meanfield.meanfield_form")
    form = meanfield_form()
    show("G_2(beta)", form.inactive)
    show("A(m)", form.A)
    show("B(m)", form.B)
    print("  l = (1 - p) G_2(beta) + p/3 + (p/a) [Q(a + beta) - Q(beta)],")
    print("  Q = A Phi(m/sigma) + B sigma phi(m/sigma)")
    dQ = sp.diff(form.antiderivative, m)
    integrand = relu_moment(2) - 2 * (m - beta) / a * relu_moment(1)
    check("dQ/dm = G_2(m) - 2 u(m) G_1(m)", sp.simplify(sp.expand((dQ - integrand).rewrite(sp.erf))) == 0)
    readable = sp.lambdify((p, a, beta, sigma), form.loss, modules=MODULES)
    with mp.workdps(17):
        for pv, av, bv, kv in POINTS[:2]:
            args = [mp.mpf(v) for v in (pv, av, bv)]
            sv = mp.mpf(kv) * args[1]
            got, ref = readable(*args, sv), _definition_loss(*args, sv)
            where = f"p={pv}, a={av}, beta={bv}, sigma={mp.nstr(sv, 3)}"
            check(f"closed form = quadrature of the definition at {where}",
                  abs(got - ref) <= mp.mpf("1e-14") * abs(ref), f"{mp.nstr(got, 17)}")


def stable_section() -> None:
    section("03_meanfield_loss.md: rugtheory.symbolic.stable (region forms)")
    check("(ReLU(y) - u)^2 = (y - u)^2 - ReLU(-y)^2 - 2u ReLU(-y)", check_region_identity())
    forms = region_forms()
    inactive = inactive_forms()
    for region in REGIONS:
        form = forms["loss", region]
        show(f"loss, region {region}: poly", form.poly)
        for k, coefficient in form.tails.items():
            show(f"loss, region {region}: coefficient of J_{k}(s)", coefficient)
        show(f"loss, region {region}: int_s^inf (tails) ds by parts", form.antiderivative)
        show(f"inactive, region {region}", inactive["loss", region])

    section("04_gradient_hessian.md: rugtheory.symbolic.meanfield.tied_derivatives vs the stable forms")
    readable = tied_derivatives()
    for key in QUANTITIES[1:]:
        print(f"  {key}: {sp.count_ops(readable[key])} operations in the readable form")
    args = (p, a, beta, sigma, u, s)
    def compile_(variables: tuple, expr: sp.Expr):
        return sp.lambdify(variables, expr, modules=MODULES)

    compiled = {
        key: tuple(compile_(args, expr) for expr in (form.poly, form.antiderivative, du_ds(key[1])))
        for key, form in forms.items()
    }
    inactive_fns = {key: compile_(args, expr) for key, expr in inactive.items()}
    readable_fns = {key: compile_((p, a, beta, kappa), expr) for key, expr in readable.items()}
    with mp.workdps(DIGITS):
        for point in POINTS:
            pv, av, bv, kv = (mp.mpf(v) for v in point)
            sv = kv * av
            split = min(max(-bv / av, mp.mpf(0)), mp.mpf(1))  # a > 0: L is [0, u_c], R is [u_c, 1]
            ends = {"L": (mp.mpf(0), split), "R": (split, mp.mpf(1))}
            worst = mp.mpf(0)
            for quantity in QUANTITIES:
                total = mp.mpf(0)
                for region, (lo, hi) in ends.items():
                    if hi <= lo:
                        continue
                    poly, anti, slope = compiled[quantity, region]
                    sign = -1 if region == "L" else 1
                    s_lo, s_hi = (max(sign * (av * e + bv) / sv, mp.mpf(0)) for e in (lo, hi))
                    total += mp.quad(lambda uu: poly(pv, av, bv, sv, uu, 0), [lo, hi])  # noqa: B023 (used at once)
                    ends_w = anti(pv, av, bv, sv, lo, s_lo) - anti(pv, av, bv, sv, hi, s_hi)
                    total += slope(pv, av, bv, sv, 0, 0) * ends_w
                region = "L" if bv <= 0 else "R"
                inact = inactive_fns[quantity, region](pv, av, bv, sv, 0, abs(bv) / sv)
                stable = (1 - pv) * inact + pv * total
                reference = readable_fns[quantity](pv, av, bv, kv)
                worst = max(worst, abs(stable - reference) / max(abs(reference), mp.mpf("1e-30")))
            check(f"stable = readable for all 6 quantities at (p, a, beta, kappa) = {point}",
                  worst <= TOLERANCE, f"worst relative difference {mp.nstr(worst, 3)}")


def codegen_section(write: bool) -> None:
    section("03_meanfield_loss.md: rugtheory.symbolic.codegen.generate() vs rugtheory/numeric/_generated.py")
    text = codegen.generate()
    current = codegen.TARGET.read_text() if codegen.TARGET.exists() else ""
    if text == current:
        check("the checked-in module equals the generated text", True, f"{len(text.splitlines())} lines")
        return
    if write:
        codegen.TARGET.write_text(text)
        print(f"  rewrote {codegen.TARGET.relative_to(ROOT)}")
        return
    diff = list(
        difflib.unified_diff(current.splitlines(), text.splitlines(), "checked-in", "generated", lineterm="")
    )
    print("\n".join("    " + line for line in diff[:40]))
    check("the checked-in module equals the generated text", False,
          f"{len(diff)} diff lines; rerun with --write")


def tails_section() -> None:
    section("02_gaussian_moments.md: accuracy of rugtheory.numeric.tails.gaussian_tails")
    import numpy as np

    from rugtheory.numeric.tails import SWITCH, gaussian_tails

    grid = np.concatenate([np.linspace(0.0, SWITCH, 61), np.linspace(SWITCH + 1e-3, 37.0, 341)])
    max_order = 4
    worst: dict[tuple[str, int], float] = {}
    with mp.workdps(DIGITS):
        for x in grid:
            values = gaussian_tails(x, max_order)
            xm = mp.mpf(float(x))
            for k in range(-1, max_order + 1):
                if k <= 0:
                    ref = mp.npdf(xm) if k == -1 else mp.ncdf(-xm)
                    got = mp.mpf(float(values[k + 1]))
                else:  # the scaled K_k = J_k / phi, which excludes phi's own conditioning (~ s^2 eps)
                    cuts = [0, 1 / (xm + 1), 10 / (xm + 1), mp.inf]
                    ref = mp.quad(lambda w: w**k * mp.exp(-xm * w - w * w / 2), cuts)  # noqa: B023 (used at once)
                    got = mp.mpf(float(values[k + 1] / values[0]))
                band = "s <= 3" if x <= SWITCH else "s > 3"
                worst[band, k] = max(worst.get((band, k), 0.0), float(abs(got - ref) / ref))
    for (band, k), err in sorted(worst.items()):
        label = "J" if k <= 0 else "K"
        print(f"  {band:7s} {label}_{k:<2d} worst relative error {err:.1e}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help="rewrite rugtheory/numeric/_generated.py if it differs"
    )
    parser.add_argument("--tails", action="store_true", help="measure the numeric tails against mpmath")
    options = parser.parse_args(argv)
    start = time.perf_counter()
    data_section()
    gaussian_section()
    meanfield_section()
    stable_section()
    codegen_section(options.write)
    if options.tails:
        tails_section()
    for script in ("asymptotics", "families", "mmse", "power_bounds", "phases", "finite_n"):  # derivations/06-14, self-checking
        section(f"derivations/{script}.py")
        module = importlib.import_module(script)
        check(f"derivations/{script}.py", module.main() == 0)
    print(f"\n{len(_failures)} failure(s) in {time.perf_counter() - start:.1f} s")
    for name in _failures:
        print(f"  FAILED: {name}")
    return 1 if _failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
