#!/usr/bin/env python
"""Benchmark: rugtheory.optimum.solve_grid on a 200 x 200 (p, r) grid against a naive baseline.

solve_grid: the vectorised solver over the outer grid
    p_values = np.geomspace(1e-30, 0.999, 200), r_values = np.linspace(1e-4, 1, 200),
timed as the median of --repeats runs after one warm-up run.

Naive baseline (measured in the same run): for K grid points drawn at random (seeded rng;
points with r == 1, where sigma = 0, are left out of the draw) each point is solved on its
own with scipy.optimize.minimize(method="Nelder-Mead") over (a, t), beta = t sigma,
sigma = kappa a, kappa^2 = (p/3 - p^2/4)(1 - r)/r, started from (a, t) = (1, -1). The loss
is evaluated by nested scipy quadrature of the definition,
rugtheory.numeric.quadrature.meanfield_loss_quad(p, a, sigma, beta). Nelder-Mead's
stopping tolerances are absolute, and the losses on this grid span ~1e-58 .. 0.1, so the
objective handed to it is the loss divided by the linear-model loss
L_lin = (1 - r)(p/3 - p^2/4) (a positive constant per point: same minimiser), with
xatol = 1e-8, fatol = 1e-12 and maxiter capped by --maxiter.

The naive seconds per point are extrapolated to all 40,000 grid points and the speed-up is
(extrapolated naive time) / (solve_grid median time). For the sampled points the relative
difference (L_naive - L_grid) / L_grid is reported; L_naive should never be below L_grid
by more than the quadrature error estimate at the naive optimum.

    python benchmarks/solve_grid.py [--points K] [--seed S] [--repeats N] [--maxiter M] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
import warnings

import numpy as np
import scipy
from scipy.optimize import minimize

# Run from a checkout without installing: put the repository root (the parent of benchmarks/) first.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rugtheory.numeric.closed_form import loss as closed_form_loss
from rugtheory.numeric.quadrature import (
    meanfield_loss_quad,
    meanfield_loss_quad_with_error,
)
from rugtheory.optimum import solve_grid

N_P = N_R = 200
P_VALUES = np.geomspace(1e-30, 0.999, N_P)
R_VALUES = np.linspace(1e-4, 1.0, N_R)
GRID_POINTS = N_P * N_R
CLOSED_FORM_RTOL = 1e-12  # float64 closed-form loss: "lower" only beyond this relative margin


def kappa(p: float, r: float) -> float:
    return float(np.sqrt((p / 3.0 - p * p / 4.0) * (1.0 - r) / r))


def time_solve_grid(repeats: int) -> tuple[object, float, float, list[float]]:
    t0 = time.perf_counter()
    grid = solve_grid(P_VALUES, R_VALUES)  # warm-up (imports, caches)
    warmup = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        grid = solve_grid(P_VALUES, R_VALUES)
        times.append(time.perf_counter() - t0)
    return grid, warmup, statistics.median(times), times


def naive_point(p: float, r: float, maxiter: int) -> dict:
    k = kappa(p, r)
    linear = (1.0 - r) * (p / 3.0 - p * p / 4.0)
    evaluations = 0

    def objective(x: np.ndarray) -> float:
        nonlocal evaluations
        evaluations += 1
        a, t = float(x[0]), float(x[1])
        sigma = k * a
        if sigma < 0.0:  # a < 0 would give a negative noise scale; reflect (loss depends on |sigma|)
            sigma = -sigma
        return meanfield_loss_quad(p, a, sigma, t * sigma) / linear

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        result = minimize(
            objective,
            x0=np.array([1.0, -1.0]),
            method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": maxiter, "maxfev": 10 * maxiter},
        )
        seconds = time.perf_counter() - t0
        a, t = float(result.x[0]), float(result.x[1])
        sigma = abs(k * a)
        loss, error = meanfield_loss_quad_with_error(p, a, sigma, t * sigma)
    return {
        "seconds": seconds,
        "a": a,
        "t": t,
        "loss": loss,
        "quad_error": error,
        # The same (a, sigma, beta) through the package's closed form: did Nelder-Mead find a
        # genuinely lower point, or only a dip in the quadrature's own error?
        "loss_closed_form": float(closed_form_loss(p, a, sigma, t * sigma)),
        "integration_warnings": len(caught),
        "nit": int(result.nit),
        "nfev": evaluations,
        "converged": bool(result.success),
        "message": str(result.message),
    }


def run(points: int, seed: int, repeats: int, maxiter: int) -> dict:
    load = list(os.getloadavg())
    grid, warmup, median, times = time_solve_grid(repeats)

    rng = np.random.default_rng(seed)
    eligible = [(i, j) for i in range(N_P) for j in range(N_R) if R_VALUES[j] < 1.0]
    chosen = rng.choice(len(eligible), size=points, replace=False)
    samples = []
    for index in chosen:
        i, j = eligible[int(index)]
        p, r = float(P_VALUES[i]), float(R_VALUES[j])
        naive = naive_point(p, r, maxiter)
        grid_loss = float(grid.loss[i, j])
        # The quadrature loss at solve_grid's own optimum: same evaluator as the naive loss.
        g_sigma = float(grid.sigma[i, j])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grid_loss_quad, grid_quad_error = meanfield_loss_quad_with_error(
                p, float(grid.a[i, j]), g_sigma, float(grid.bias[i, j])
            )
        rel = (naive["loss"] - grid_loss) / grid_loss
        lower_by = grid_loss - naive["loss"]
        samples.append(
            {
                "i": i,
                "j": j,
                "p": p,
                "r": r,
                "grid_a": float(grid.a[i, j]),
                "grid_t": float(grid.bias[i, j]) / g_sigma if g_sigma > 0 else float("nan"),
                "grid_loss": grid_loss,
                "grid_loss_quad": grid_loss_quad,
                "grid_quad_error": grid_quad_error,
                "grid_quad_rel_diff": (grid_loss_quad - grid_loss) / grid_loss,
                "naive": naive,
                "rel_diff": rel,
                "rel_diff_closed_form": (naive["loss_closed_form"] - grid_loss) / grid_loss,
                "naive_below_grid_beyond_quad_error": bool(lower_by > naive["quad_error"]),
                "naive_closed_form_below_grid": bool(
                    naive["loss_closed_form"] < grid_loss * (1.0 - CLOSED_FORM_RTOL)
                ),
            }
        )

    naive_total = sum(s["naive"]["seconds"] for s in samples)
    per_point = naive_total / len(samples)
    extrapolated = per_point * GRID_POINTS
    rels = [s["rel_diff"] for s in samples]
    return {
        "command": " ".join(shlex.quote(a) for a in ["python", *sys.argv]),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "load_average_at_start": load,
        },
        "config": {
            "grid": f"{N_P} x {N_R}",
            "p_values": "np.geomspace(1e-30, 0.999, 200)",
            "r_values": "np.linspace(1e-4, 1, 200)",
            "points": points,
            "seed": seed,
            "repeats": repeats,
            "maxiter": maxiter,
        },
        "solve_grid": {
            "warmup_seconds": warmup,
            "median_seconds": median,
            "times_seconds": times,
            "seconds_per_point": median / GRID_POINTS,
        },
        "naive": {
            "total_seconds": naive_total,
            "seconds_per_point": per_point,
            "extrapolated_seconds": extrapolated,
            "points_hit_maxiter": sum(1 for s in samples if not s["naive"]["converged"]),
        },
        "speedup": extrapolated / median,
        "samples": samples,
        "max_rel_diff": max(rels),
        "min_rel_diff": min(rels),
        "max_abs_rel_diff": max(abs(x) for x in rels),
        "max_abs_grid_quad_rel_diff": max(abs(s["grid_quad_rel_diff"]) for s in samples),
        "max_rel_diff_closed_form": max(s["rel_diff_closed_form"] for s in samples),
        "min_rel_diff_closed_form": min(s["rel_diff_closed_form"] for s in samples),
        "any_naive_below_grid_beyond_quad_error": any(
            s["naive_below_grid_beyond_quad_error"] for s in samples
        ),
        "any_naive_closed_form_below_grid": any(s["naive_closed_form_below_grid"] for s in samples),
        "integration_warnings": sum(s["naive"]["integration_warnings"] for s in samples),
    }


def summary(res: dict) -> str:
    m, c, g, n = res["machine"], res["config"], res["solve_grid"], res["naive"]
    lines = [
        "solve_grid benchmark",
        f"command    : {res['command']}",
        f"platform   : {m['platform']} ({m['processor']})",
        f"cpu_count  : {m['cpu_count']}",
        f"python     : {m['python']}   numpy {m['numpy']}   scipy {m['scipy']}",
        "load avg   : " + " ".join(f"{x:.2f}" for x in m["load_average_at_start"]) + " (1/5/15 min, at start)",
        f"grid       : {c['grid']} = {GRID_POINTS} points, p = {c['p_values']}, r = {c['r_values']}",
        (f"naive      : K = {c['points']} points, seed = {c['seed']}, Nelder-Mead over (a, t) from (1, -1),"
        f" maxiter = {c['maxiter']}, loss by meanfield_loss_quad"),
        "",
        f"solve_grid : warm-up {g['warmup_seconds']:.3f} s; runs "
        + ", ".join(f"{t:.3f}" for t in g["times_seconds"])
        + f" s; median {g['median_seconds']:.3f} s ({g['seconds_per_point'] * 1e6:.1f} us/point)",
        (f"naive      : {n['total_seconds']:.2f} s for {c['points']} points = {n['seconds_per_point']:.3f} s/point;"
        f" extrapolated to {GRID_POINTS} points: {n['extrapolated_seconds']:.0f} s"
        f" ({n['extrapolated_seconds'] / 3600:.2f} h); {n['points_hit_maxiter']} point(s) stopped at maxiter"),
        f"speed-up   : {res['speedup']:.3g}x  (extrapolated naive / solve_grid median)",
        "",
        "per point: L_grid = solve_grid loss (closed form); L_naive = quadrature loss at the Nelder-Mead optimum;",
        "  rel diff = (L_naive - L_grid)/L_grid; quad err/L = quadrature error estimate at the naive optimum, relative;",
        "  grid quad-cf = (quadrature - closed form)/L_grid at solve_grid's own optimum (the quadrature's actual error);",
        "  rel diff cf = the naive optimum re-evaluated by the closed form, (L_cf(naive) - L_grid)/L_grid",
        (f"  {'p':>10} {'r':>8} {'L_grid':>12} {'L_naive':>12} {'rel diff':>10} {'quad err/L':>10}"
        f" {'grid quad-cf':>12} {'rel diff cf':>11} {'a-1 grid':>10} {'a-1 naive':>10} {'t grid':>8} {'t naive':>8}"
        f" {'nfev':>5} {'s':>6}"),
    ]
    for s in res["samples"]:
        nv = s["naive"]
        lines.append(
            f"  {s['p']:10.3e} {s['r']:8.5f} {s['grid_loss']:12.5e} {nv['loss']:12.5e} {s['rel_diff']:10.2e}"
            f" {nv['quad_error'] / s['grid_loss']:10.1e} {s['grid_quad_rel_diff']:12.2e}"
            f" {s['rel_diff_closed_form']:11.2e} {s['grid_a'] - 1.0:10.2e} {nv['a'] - 1.0:10.2e}"
            f" {s['grid_t']:8.4f} {nv['t']:8.4f} {nv['nfev']:5d} {nv['seconds']:6.2f}"
            + ("" if nv["converged"] else "  (maxiter)")
        )
    lines += [
        "",
        f"max rel diff (L_naive - L_grid)/L_grid : {res['max_rel_diff']:.3e}",
        f"min rel diff                           : {res['min_rel_diff']:.3e}",
        f"max |grid quad-cf| (quadrature's actual error at solve_grid's optimum) : {res['max_abs_grid_quad_rel_diff']:.3e}",
        (f"naive below solve_grid by more than its quadrature error estimate: "
        f"{'YES' if res['any_naive_below_grid_beyond_quad_error'] else 'no'}"),
        (f"rel diff cf (naive optimum by closed form) : min {res['min_rel_diff_closed_form']:.3e},"
        f" max {res['max_rel_diff_closed_form']:.3e}"),
        (f"naive optimum below solve_grid by closed form (beyond {CLOSED_FORM_RTOL:g} relative): "
        f"{'YES' if res['any_naive_closed_form_below_grid'] else 'no'}"),
        f"scipy IntegrationWarnings during the naive solves: {res['integration_warnings']}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=6, help="naive baseline sample size K (default 6)")
    parser.add_argument("--seed", type=int, default=0, help="rng seed for the sample (default 0)")
    parser.add_argument("--repeats", type=int, default=3, help="timed solve_grid runs after one warm-up (default 3)")
    parser.add_argument("--maxiter", type=int, default=400, help="Nelder-Mead iteration cap (default 400)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.points < 1 or args.repeats < 1 or args.maxiter < 1:
        parser.error("--points, --repeats and --maxiter must be >= 1")
    res = run(args.points, args.seed, args.repeats, args.maxiter)
    print(json.dumps(res, indent=2) if args.json else summary(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
