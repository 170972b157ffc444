"""Figures and fits of the n-scaling study from its results table (validation/scaling/README.md).

    python validation/scaling/figures.py [--results validation/scaling/cpu/results.csv] [--out validation/scaling]

Writes, from the rows of ``results.csv`` (one trained model per (n, p, r, seed)):

* ``trained_vs_n.png``: trained/L* against n (log axis) per (p, r), the mean over seeds with the
  seeds' spread as error bars, beside the Hadamard rug's exact finite-n loss / L* and the large-n
  phase diagram's best family / L* (``rugtheory.phases.phase_diagram``);
* ``decomposition_vs_n.png``: the non-Gaussian gap (exact - own)/exact and the suboptimal-statistics
  gap (own - L*)/L* against n;
* ``offdiag_hist.png``: the off-diagonal entries of W = W_out W_in of one trained row against the
  rug's, at the largest n in the table (read from the run's checkpoint, when it is there);
* ``fits.md`` / ``fits.json``: trained/L* = c_inf + c_1 n^(-alpha) per (p, r) by weighted least
  squares over the seed means, with the seeds' spread as weights, its n -> infinity value and the
  n where the fit comes within 2% of L*; a point with fewer than three n is not fitted and says so.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def by_point(rows: list[dict]) -> dict[tuple[float, float], dict[int, list[dict]]]:
    """(p, r requested) -> n -> the rows of the seeds."""
    points: dict = defaultdict(lambda: defaultdict(list))
    for row in rows:
        points[(float(row["p"]), float(row["r_requested"]))][int(row["n"])].append(row)
    return points


def seed_stats(rows: list[dict], key: str) -> tuple[float, float]:
    """Mean over seeds and the seeds' standard deviation (0 for one seed) of a column."""
    values = np.array([float(row[key]) for row in rows if row.get(key) not in (None, "")])
    if values.size == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


def fit_law(ns: np.ndarray, means: np.ndarray, spreads: np.ndarray) -> dict:
    """trained/L* = c_inf + c_1 n^-alpha, weighted least squares (scipy), with parameter errors."""
    from scipy.optimize import curve_fit

    if ns.size < 3:
        return {"fitted": False, "why": f"{ns.size} value(s) of n; a three-parameter law needs at least 3"}
    sigma = np.where(spreads > 0, spreads, np.maximum(1e-3 * np.abs(means), 1e-12))

    def law(n, c_inf, c_1, alpha):
        return c_inf + c_1 * n ** (-alpha)

    start = (float(means[-1]), float((means[0] - means[-1]) * ns[0] ** 0.5), 0.5)
    try:
        values, covariance = curve_fit(law, ns, means, p0=start, sigma=sigma, absolute_sigma=True, maxfev=20000)
    except (RuntimeError, ValueError) as error:
        return {"fitted": False, "why": f"the fit did not converge ({error})"}
    errors = np.sqrt(np.diag(covariance)) if np.all(np.isfinite(covariance)) else np.full(3, math.nan)
    c_inf, c_1, alpha = values
    within = None
    if abs(c_inf - 1.0) < 0.02 and alpha > 0:
        gap = 0.02 - abs(c_inf - 1.0)
        within = float((abs(c_1) / gap) ** (1.0 / alpha)) if gap > 0 else None
    return {"fitted": True, "c_inf": float(c_inf), "c_inf_se": float(errors[0]), "c_1": float(c_1),
            "alpha": float(alpha), "alpha_se": float(errors[2]), "n_within_2pct": within}


def _phase_predictions(points) -> dict[tuple[float, float], float]:
    from rugtheory.phases import phase_diagram

    out = {}
    for (p, r) in points:
        entry = phase_diagram([p], [r]).to_list()[0]
        out[(p, r)] = entry["losses"][entry["best"]] / entry["losses"]["rug"]
    return out


def trained_figure(points, predictions, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted(points)
    columns = 3
    fig, axes = plt.subplots(math.ceil(len(keys) / columns), columns, figsize=(4.3 * columns, 3.4 * math.ceil(
        len(keys) / columns)), squeeze=False)
    for ax, key in zip(axes.ravel(), keys):
        ns = sorted(points[key])
        trained = [seed_stats(points[key][n], "ratio_to_optimum") for n in ns]
        rug = [seed_stats(points[key][n], "rug_exact_ratio_to_optimum")[0] for n in ns]
        ax.errorbar(ns, [m for m, _ in trained], yerr=[s for _, s in trained], fmt="o-", capsize=3,
                    label="trained / L* (seed spread)")
        ax.plot(ns, rug, "s--", mfc="none", label="Hadamard rug, exact / L*")
        ax.axhline(predictions[key], color="C2", ls=":", label="phase diagram's best / L*")
        ax.axhline(1.0, color="k", lw=0.6)
        ax.set_xscale("log", base=2)
        ax.set_title(f"p = {key[0]:g}, r = {key[1]:g}")
        ax.set_xlabel("n")
    for ax in axes.ravel()[len(keys):]:
        ax.axis("off")
    axes[0][0].set_ylabel("loss / L*")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def decomposition_figure(points, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for key in sorted(points):
        ns = sorted(points[key])
        for ax, column in zip(axes, ("non_gaussian_relative", "suboptimal_relative")):
            stats = [seed_stats(points[key][n], column) for n in ns]
            ax.errorbar(ns, [m for m, _ in stats], yerr=[s for _, s in stats], fmt="o-", capsize=3,
                        label=f"p = {key[0]:g}, r = {key[1]:g}")
    axes[0].set_title("non-Gaussian gap (exact - own) / exact")
    axes[1].set_title("suboptimal statistics (own - L*) / L*")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("n")
        ax.axhline(0.0, color="k", lw=0.6)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def histogram_figure(rows: list[dict], runs: Path, path: Path) -> str | None:
    """Off-diagonal W entries of one trained row against the rug's, at the largest n; None if no checkpoint."""
    import matplotlib.pyplot as plt

    from rugtheory.checkpoint import load_checkpoint
    from rugtheory.weights import rug_model

    largest = max(int(row["n"]) for row in rows)
    row = next(row for row in rows if int(row["n"]) == largest)
    n, m = largest, int(row["m"])
    folder = runs / f"n{n}_m{m}" / "checkpoint"
    if not (folder / "weights.safetensors").is_file():
        return None
    arrays, config = load_checkpoint(folder)
    seeds = config["train_config"]["seed"]
    probabilities = config["train_config"]["feature_probability"]
    k = next(i for i, (s, p) in enumerate(zip(seeds, probabilities)) if s == int(row["seed"]) and p == float(row["p"]))
    w_in = arrays["W_in"][k].astype(np.float64)
    w_out = arrays["W_out"][k].astype(np.float64) if "W_out" in arrays else w_in.T
    trained = (w_out[0] @ w_in)[1:]
    rug = rug_model(n, m / n, float(row["p"]), seed=0).W[0, 1:]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    edges = np.linspace(min(trained.min(), rug.min()), max(trained.max(), rug.max()), 80)
    ax.hist(trained, bins=edges, alpha=0.6, label=f"trained row 0 (seed {row['seed']})")
    ax.hist(rug, bins=edges, alpha=0.6, label="Hadamard rug row 0")
    ax.set_yscale("log")
    ax.set_xlabel("W_0j, j != 0")
    ax.set_title(f"off-diagonal entries at n = {n}, p = {float(row['p']):g}, r = {m / n:g}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"n = {n}, p = {row['p']}, m = {m}, seed {row['seed']}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(HERE / "cpu" / "results.csv"))
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    results, out = Path(args.results), Path(args.out)
    rows = read_rows(results)
    points = by_point(rows)
    predictions = _phase_predictions(points)
    trained_figure(points, predictions, out / "trained_vs_n.png")
    decomposition_figure(points, out / "decomposition_vs_n.png")
    histogram = histogram_figure(rows, results.parent / "runs", out / "offdiag_hist.png")
    fits = {}
    lines = ["# Fits of trained/L* against n (validation/scaling/figures.py)", "",
             f"From `{results}`, {len(rows)} rows. The law is c_inf + c_1 n^(-alpha), weighted by the seeds' spread.",
             "", "| p | r | n | trained/L* (mean +- seed sd) | rug exact/L* | phase diagram/L* | fit |",
             "|---|---|---|---|---|---|---|"]
    for key in sorted(points):
        ns = np.array(sorted(points[key]), dtype=float)
        stats = np.array([seed_stats(points[key][int(n)], "ratio_to_optimum") for n in ns])
        fit = fit_law(ns, stats[:, 0], stats[:, 1])
        fits[f"{key[0]:g}:{key[1]:g}"] = {"n": ns.tolist(), "mean": stats[:, 0].tolist(), "sd": stats[:, 1].tolist(),
                                          "phase_prediction": predictions[key], **fit}
        text = (f"c_inf = {fit['c_inf']:.3f} +- {fit['c_inf_se']:.3f}, alpha = {fit['alpha']:.2f}" if fit["fitted"]
                else f"not fitted: {fit['why']}")
        for n, (mean, sd) in zip(ns, stats):
            rug = seed_stats(points[key][int(n)], "rug_exact_ratio_to_optimum")[0]
            lines.append(f"| {key[0]:g} | {key[1]:g} | {int(n)} | {mean:.4f} +- {sd:.4f} | {rug:.4f} | "
                         f"{predictions[key]:.4f} | {text} |")
    lines += ["", f"Histogram: {histogram or 'no checkpoint of the largest n here'}.", ""]
    (out / "fits.md").write_text("\n".join(lines))
    (out / "fits.json").write_text(json.dumps(fits, indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
