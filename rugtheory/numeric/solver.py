"""The optimal mean-field model L*(p, r) (THEORY.md, "Rank bound").

    L*(p, r) = min over (a, beta) of l(a, kappa a, beta; p),  kappa^2 = (p/3 - p^2/4)(1 - r)/r.

The landscape has one strict local minimum in the cases we scanned, but also the dead plateau
l = p/3 (beta -> -inf, the ReLU never fires), where the gradient is exponentially small and a
local method stalls. So the solver is multi-start: it evaluates a few physically motivated
starts (the optimal linear model a = r, beta = (1 - r) p/2; thresholded models a = 1,
beta = -t sigma), runs a safeguarded Newton iteration on the best ones with the generated
gradient and Hessian (derivations/04_gradient_hessian.md), and keeps the best result.
Everything is vectorised over points, so ``solve_grid`` costs one batched run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .closed_form import evaluate, evaluate_many

__all__ = ["OptimalGrid", "OptimalModel", "kappa", "linear_loss", "solve_arrays"]

_GRAD_HESS = ("loss", "d_a", "d_beta", "d_aa", "d_abeta", "d_betabeta")


def variance(p):
    """Var x = p/3 - p^2/4, written as p (4 - 3p)/12 so it does not cancel (THEORY.md, Data)."""
    return p * (4.0 - 3.0 * p) / 12.0


def kappa(p, r):
    """sigma / a at the rank bound: kappa^2 = Var x (1 - r)/r (THEORY.md, Rank bound)."""
    return np.sqrt(variance(p) * (1.0 - r) / r)


def linear_loss(p, r):
    """Optimal affine linear model, L_lin = (1 - r)(p/3 - p^2/4) (THEORY.md, Baselines)."""
    return (1.0 - r) * variance(p)


@dataclass(frozen=True)
class OptimalModel:
    """The optimal mean-field model at one (p, r); ``bias`` is the effective bias beta.

    ``a_minus_one`` is a - 1 to full relative precision (near p -> 0 it is ~sigma, below the
    resolution of ``a``); ``gain`` is loss_linear / loss.
    """

    p: float
    r: float
    a: float
    a_minus_one: float
    bias: float
    sigma: float
    loss: float
    loss_linear: float
    gain: float
    gradient_norm: float
    iterations: int
    precision: int | None = None
    decimal: dict[str, str] | None = None

    def to_dict(self) -> dict:
        """A JSON-ready dict (keys p, r, a, bias, sigma, loss, loss_linear, ...)."""
        out = asdict(self)
        if self.decimal is None:
            out.pop("decimal")
        if self.precision is None:
            out.pop("precision")
        return out


@dataclass(frozen=True)
class OptimalGrid:
    """``solve_grid`` output: arrays of shape (len(p_values), len(r_values))."""

    p: np.ndarray
    r: np.ndarray
    a: np.ndarray
    a_minus_one: np.ndarray
    bias: np.ndarray
    sigma: np.ndarray
    loss: np.ndarray
    loss_linear: np.ndarray

    def to_dict(self) -> dict:
        return {k: np.asarray(v).tolist() for k, v in asdict(self).items()}


def _starts(p, r, k):
    """Candidate (a, beta) starts, shape (count, N): the optimal linear model, and a small grid of
    thresholded models a in {r, sqrt(r), 1, 1.4} x t = beta/sigma in [-1.3 sqrt(2 log(1/p)) - 1, 1].

    The scan in t matters: on the side of a too-small threshold the loss is a Gaussian tail in t
    and Newton moves t by only ~1/|t| per step.
    """
    depth = np.sqrt(2.0 * np.log1p((1.0 - p) / p))
    fractions = np.linspace(0.0, 1.0, 8)
    t_grid = (-1.3 * depth - 1.0)[None, :] + fractions[:, None] * (1.3 * depth + 2.0)[None, :]
    a_values = [r, np.sqrt(r), np.ones_like(p), 1.4 * np.ones_like(p)]
    a0 = [r] + [np.broadcast_to(av, p.shape) for av in a_values for _ in range(t_grid.shape[0])]
    beta0 = [(1.0 - r) * p / 2.0] + [t * k * av for av in a_values for t in t_grid]
    return np.stack(a0), np.stack(beta0)


def _newton(p, k, delta, beta, iterations: int, tol: float, loss=None):
    """Safeguarded Newton on l(1 + delta, kappa (1 + delta), beta) in the scaled variables
    (delta/kappa, beta/kappa), both in units of the interference scale, which keeps the Hessian
    balanced at every p; delta = a - 1 is carried exactly because a - 1 ~ sigma near p -> 0."""
    n = delta.size
    done = np.zeros(n, dtype=bool)
    count = np.zeros(n, dtype=int)
    if loss is None:
        loss = evaluate("loss", p, 1.0 + delta, beta, k * (1.0 + delta), delta)
    grad_norm = np.full(n, np.inf)
    for _ in range(iterations):
        idx = np.flatnonzero(~done)
        if idx.size == 0:
            break
        pi, ki, di, bi = p[idx], k[idx], delta[idx], beta[idx]
        ai = 1.0 + di
        l0, ga, gb, haa, hab, hbb = evaluate_many(_GRAD_HESS, pi, ai, bi, ki * ai, di)
        # Scaled variables y = (delta, beta)/kappa: g~ = kappa g, H~ = kappa^2 H.
        g1, g2 = ki * ga, ki * gb
        h11, h12, h22 = ki * ki * haa, ki * ki * hab, ki * ki * hbb
        grad_norm[idx] = np.hypot(ga, ki * gb)
        # Levenberg shift where H~ is not positive definite; the small eigenvalue as det/high
        # (a difference would cancel when the eigenvalues differ by many orders).
        trace = np.abs(h11) + np.abs(h22)
        disc = np.sqrt(0.25 * (h11 - h22) ** 2 + h12**2)
        high = 0.5 * (h11 + h22) + disc
        with np.errstate(divide="ignore", invalid="ignore"):
            low = np.where(high > 0, (h11 * h22 - h12 * h12) / high, 0.5 * (h11 + h22) - disc)
        shift = np.where(low > 1e-12 * trace, 0.0, -low + 1e-6 * trace + 1e-300)
        h11s, h22s = h11 + shift, h22 + shift
        det = h11s * h22s - h12 * h12
        with np.errstate(divide="ignore", invalid="ignore"):  # det = 0 on the dead plateau: stop there
            d1 = -(h22s * g1 - h12 * g2) / det
            d2 = -(h11s * g2 - h12 * g1) / det
        decrement = -(g1 * d1 + g2 * d2)
        converged = (decrement <= tol * np.abs(l0)) | ~np.isfinite(decrement)
        done[idx[converged]] = True
        step = np.ones(idx.size)
        accepted = converged.copy()
        for _ in range(40):
            trial = ~accepted
            if not trial.any():
                break
            t = np.flatnonzero(trial)
            d_new = di[t] + step[t] * d1[t] * ki[t]
            b_new = bi[t] + step[t] * d2[t] * ki[t]
            a_new = 1.0 + d_new
            valid = a_new > 0
            l_new = np.full(t.size, np.inf)
            if valid.any():
                v = valid
                l_new[v] = evaluate("loss", pi[t][v], a_new[v], b_new[v], ki[t][v] * a_new[v], d_new[v])
            good = l_new <= l0[t] - 1e-4 * step[t] * decrement[t]
            good |= l_new < l0[t]  # accept any decrease once the Armijo test is below rounding
            gi = t[good]
            di[gi], bi[gi], l0[gi] = d_new[good], b_new[good], l_new[good]
            accepted[gi] = True
            step[t[~good]] *= 0.5
        stuck = ~accepted
        done[idx[stuck]] = True
        # Progress below rounding: the loss cannot resolve further steps.
        done[idx[l0 >= loss[idx] * (1.0 - 1e-14)]] = True
        delta[idx], beta[idx], loss[idx] = di, bi, l0
        count[idx[~converged & ~stuck]] += 1
    return delta, beta, loss, grad_norm, count


def solve_arrays(p, r, iterations: int = 60, tol: float = 1e-12):
    """Vectorised solve at paired 1-D arrays (p, r) (validated by the caller).

    Returns a dict of arrays: a, a_minus_one, bias, sigma, loss, loss_linear, gradient_norm,
    iterations.
    """
    p = np.asarray(p, dtype=float).reshape(-1)
    r = np.asarray(r, dtype=float).reshape(-1)
    full = r >= 1.0  # W = I: sigma = 0 and the loss is exactly 0; solved as r = 1/2, then replaced
    r_work = np.where(full, 0.5, r)
    k = kappa(p, r_work)
    a0, beta0 = _starts(p, r_work, k)
    count = a0.shape[0]
    flat = lambda v: np.broadcast_to(v, a0.shape).reshape(-1)
    losses = evaluate(
        "loss", flat(p), a0.reshape(-1), beta0.reshape(-1), (k * a0).reshape(-1)
    ).reshape(count, -1)
    # Refine the two best starts of each point and keep the better result.
    order = np.argsort(losses, axis=0)[:2]
    cols = np.arange(p.size)
    best = None
    for rank in range(order.shape[0]):
        pick = order[rank]
        result = _newton(
            p, k, a0[pick, cols] - 1.0, beta0[pick, cols].copy(), iterations, tol, losses[pick, cols].copy()
        )
        if best is None:
            best = result
        else:
            better = result[2] < best[2]
            best = tuple(np.where(better, new, old) for new, old in zip(result, best))
    delta, beta, loss, grad_norm, iters = best
    delta = np.where(full, 0.0, delta)
    a = 1.0 + delta
    beta = np.where(full, 0.0, beta)
    k = np.where(full, 0.0, k)
    loss = np.where(full, 0.0, loss)
    grad_norm = np.where(full, 0.0, grad_norm)
    return {
        "a": a,
        "a_minus_one": delta,
        "bias": beta,
        "sigma": k * a,
        "loss": loss,
        "loss_linear": linear_loss(p, r),
        "gradient_norm": grad_norm,
        "iterations": iters,
    }
