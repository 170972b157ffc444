"""The optimal mean-field model in mpmath, to a requested number of digits.

Newton's method on the readable closed form's tied gradient and Hessian
(``reference.tied_derivatives_mp``, adaptive working precision), started from the float64
optimum of ``solver.solve_arrays``. The float64 start is within ~1e-7 of the optimum in the
scaled variables, so Newton's quadratic convergence reaches 50 digits in a few steps; the
iteration stops when the step is below 10^-(precision/2 + 5) of each variable's natural scale
(kappa for a - 1, and 1 + |beta/kappa| in units of kappa for beta): the loss is quadratic at the
optimum, so this leaves its error below 10^-(precision + 10) relative.
"""

from __future__ import annotations

import mpmath

from .reference import tied_derivatives_mp

__all__ = ["solve_mp"]

MAX_STEPS = 30


def _kappa(p: mpmath.mpf, r: mpmath.mpf) -> mpmath.mpf:
    return mpmath.sqrt(p * (4 - 3 * p) / 12 * (1 - r) / r)


def solve_mp(p: float, r: float, delta0: float, beta0: float, precision: int) -> dict[str, mpmath.mpf]:
    """Refine (a, beta) to ``precision`` digits; returns mpf a, a_minus_one, bias, sigma, loss, loss_linear."""
    with mpmath.workdps(precision + 20):
        P, R = mpmath.mpf(p), mpmath.mpf(r)
        variance = P * (4 - 3 * P) / 12
        linear = (1 - R) * variance
        if R == 1:
            zero = mpmath.mpf(0)
            return {"a": mpmath.mpf(1), "a_minus_one": zero, "bias": zero, "sigma": zero, "loss": zero,
                    "loss_linear": linear, "gradient_norm": zero, "iterations": 0}
        k = _kappa(P, R)
        delta, beta = mpmath.mpf(delta0), mpmath.mpf(beta0)
        tolerance = mpmath.mpf(10) ** (-(precision // 2 + 6))
        steps = 0
        values = None
        for steps in range(1, MAX_STEPS + 1):
            values = tied_derivatives_mp(P, 1 + delta, beta, k, precision=precision + 15)
            g1, g2 = values["d_a"], k * values["d_beta"]
            h11, h12, h22 = values["d_aa"], k * values["d_abeta"], k * k * values["d_betabeta"]
            det = h11 * h22 - h12 * h12
            if not (det > 0 and h11 > 0):
                raise RuntimeError("the Hessian is not positive definite at the float64 optimum")
            d1 = -(h22 * g1 - h12 * g2) / det
            d2 = -(h11 * g2 - h12 * g1) / det
            delta += d1
            beta += d2 * k
            if abs(d1) <= tolerance * (k + abs(delta)) and abs(d2) <= tolerance * (1 + abs(beta / k)):
                break
        else:
            raise RuntimeError(f"Newton did not reach {precision} digits in {MAX_STEPS} steps")
        values = tied_derivatives_mp(P, 1 + delta, beta, k, precision=precision + 15)
        gradient = mpmath.sqrt(values["d_a"] ** 2 + (k * values["d_beta"]) ** 2)
        return {
            "a": 1 + delta,
            "a_minus_one": delta,
            "bias": beta,
            "sigma": k * (1 + delta),
            "loss": values["loss"],
            "loss_linear": linear,
            "gradient_norm": gradient,
            "iterations": steps,
        }
