"""Files of a validation run: results.csv, results.json, figures and a markdown summary.

numpy and the standard library; matplotlib is imported only to draw. Every file is written
atomically (``outputs.write_files``). A trained model is said to

* match the theory when |loss / L* - 1| <= 2% (``MATCH``);
* beat it when loss / L* < 1 - 2% by more than 2 standard errors;
* fall short when loss / L* > 1 + 2% by more than 2 standard errors;

and otherwise to be undecided at that measurement's precision.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from typing import Any

from .outputs import write_files

__all__ = ["MATCH", "RESULT_FILES", "classify", "summary_markdown", "write_report"]

MATCH = 0.02
RESULT_FILES = ("results.csv", "results.json", "summary.md", "loss_vs_r.png", "heatmaps.png")
_KEY_COLUMNS = (
    "n", "m", "p", "r", "seed", "device", "steps", "loss_measured", "loss_measured_se", "loss_meanfield_own_stats",
    "loss_meanfield_optimum", "loss_linear", "ratio_to_optimum", "ratio_to_optimum_se", "rug_loss_measured",
    "rug_loss_measured_se", "rug_ratio_to_optimum", "rug_loss_exact", "rug_loss_exact_bound",
    "rug_exact_ratio_to_optimum", "loss_exact", "loss_exact_se", "loss_exact_bound", "exact_rows",
    "exact_agreement_z", "non_gaussian_gap", "non_gaussian_relative", "suboptimal_gap", "suboptimal_relative",
    "stats_skewness_mean", "stats_ks_mean", "phase_label", "stats_dropped_fraction", "stats_dedicated_fraction",
    "seconds_train_group",
)


def classify(ratio: float | None, se: float | None) -> str:
    """'match', 'beats', 'short' or 'undecided' for a loss / L* ratio with its standard error."""
    if ratio is None or se is None or not math.isfinite(ratio):
        return "undecided"
    if abs(ratio - 1.0) <= MATCH:
        return "match"
    if ratio < 1.0 - MATCH - 2.0 * se:
        return "beats"
    if ratio > 1.0 + MATCH + 2.0 * se:
        return "short"
    return "undecided"


def _csv_text(rows: Sequence[dict[str, Any]]) -> str:
    columns = list(_KEY_COLUMNS) + sorted({key for row in rows for key in row} - set(_KEY_COLUMNS))
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: ("" if row.get(key) is None else row.get(key)) for key in columns})
    return stream.getvalue()


def summary_markdown(rows: Sequence[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The run's summary: provenance, a table per instance, and where the theory holds."""
    lines = [
        f"# Validation run: n = {meta.get('n')}",
        "",
        f"- command: `{meta.get('command')}`",
        f"- device: {meta.get('device')}; seeds: {meta.get('seeds')}; wall time: {meta.get('seconds', 0):.1f} s",
        f"- machine: {meta.get('machine')}; torch {meta.get('torch')}",
        f"- training: {meta.get('training')}",
        *([f"- **partial results: {meta['partial']}**"] if meta.get("partial") else []),
        "",
        "loss = measured on fresh data (Monte Carlo, +- one standard error); L* = mean-field optimum;",
        "own = mean-field loss of the model's own row statistics; rug = Hadamard rug at the same (n, r, p),",
        "measured like the trained models and exactly (rugtheory.finite).",
        f"Verdict: match if |loss/L* - 1| <= {MATCH:.0%}; beats / short if beyond that by more than 2 SE.",
        "",
        ("| n | p | r | loss/L* | own/L* | rug/L* | rug exact/L* | L_lin/L* | diag mean | S/a^2 / rank bound | "
         "beta mean | KS mean | dropped | verdict |"),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts: dict[str, list[str]] = {"match": [], "beats": [], "short": [], "undecided": []}
    for row in rows:
        optimum = row["loss_meanfield_optimum"]
        verdict = classify(row.get("ratio_to_optimum"), row.get("ratio_to_optimum_se"))
        verdicts[verdict].append(f"(n={row['n']}, p={row['p']:g}, r={row['r']:g})")
        rug, rug_exact = row.get("rug_ratio_to_optimum"), row.get("rug_exact_ratio_to_optimum")
        bound = row.get("stats_rank_bound_ratio")
        lines.append(
            f"| {row['n']} | {row['p']:g} | {row['r']:g} | {row['ratio_to_optimum']:.4f} +- "
            f"{row['ratio_to_optimum_se']:.4f} | {row['loss_meanfield_own_stats'] / optimum:.4f} | "
            f"{'' if rug is None else f'{rug:.4f}'} | {'' if rug_exact is None else f'{rug_exact:.4f}'} | "
            f"{row['loss_linear'] / optimum:.3f} | {row['stats_diag_mean']:.3f} | "
            f"{'' if bound is None else f'{bound:.3f}'} | {row['stats_bias_mean']:.4g} | {row['stats_ks_mean']:.3f} | "
            f"{row['stats_dropped_fraction']:.2f} | {verdict} |"
        )
    lines += _decomposition_table(rows)
    lines += ["", "## Where the theory holds", ""]
    for verdict, label in (("match", f"within {MATCH:.0%} of L*"), ("beats", "trained models beat L*"),
                           ("short", "trained models fall short of L*"), ("undecided", "undecided at this precision")):
        lines.append(f"- {label}: {', '.join(verdicts[verdict]) or 'none'}")
    return "\n".join(lines) + "\n"


def _decomposition_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """exact = L* + (own - L*) + (exact - own), per instance (rugtheory.measure.decompose); none if not computed."""
    rows = [row for row in rows if row.get("loss_exact") is not None]
    if not rows:
        return []
    lines = [
        "", "## Decomposition of the loss", "",
        "exact = exact finite-n loss of the trained (W, b) (rows: every row, or a sample with its SE);",
        "z = (exact - measured) / combined SE; own/exact > 1: the Gaussian interference of the model's own",
        "statistics over-predicts the loss (non-Gaussian gap exact - own < 0), driven by the interference's",
        "skewness; own/L* > 1: the statistics themselves are worse than the mean-field optimum's (suboptimal",
        "gap own - L* > 0); phase = the family the weights resemble (rugtheory.phases.classify).", "",
        "| p | r | exact/L* | rows | z | own/exact | skewness mean | own/L* | phase | dropped | dedicated |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        optimum, exact = row["loss_meanfield_optimum"], row["loss_exact"]
        z = row.get("exact_agreement_z")
        own = row["loss_meanfield_own_stats"]
        lines.append(
            f"| {row['p']:g} | {row['r']:g} | {exact / optimum:.4f} | {row['exact_rows']} | "
            f"{'' if z is None else f'{z:+.2f}'} | {_quotient(own, exact)} | {row['stats_skewness_mean']:+.3f} | "
            f"{_quotient(own, optimum)} | {row.get('phase_label', '')} | "
            f"{row['stats_dropped_fraction']:.2f} | {row['stats_dedicated_fraction']:.2f} |"
        )
    return lines


def _quotient(value: float, reference: float) -> str:
    return f"{value / reference:.4g}" if reference > 0 else ""


def _figures(rows: Sequence[dict[str, Any]]) -> dict[str, bytes]:
    """The PNG files of the run, by name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    written: dict[str, bytes] = {}
    ps = sorted({row["p"] for row in rows})
    rs = sorted({row["r"] for row in rows})
    fig, axes = plt.subplots(1, len(ps), figsize=(4.2 * len(ps), 3.6), squeeze=False)
    for ax, p in zip(axes[0], ps):
        sub = sorted((row for row in rows if row["p"] == p), key=lambda row: row["r"])
        r = [row["r"] for row in sub]
        ax.errorbar(r, [row["loss_measured"] for row in sub], yerr=[row["loss_measured_se"] for row in sub],
                    fmt="o", label="trained")
        if any("rug_loss_measured" in row for row in sub):
            ax.plot(r, [row.get("rug_loss_measured", np.nan) for row in sub], "s", mfc="none", label="rug")
        ax.plot(r, [row["loss_meanfield_optimum"] for row in sub], "-", label="L* (mean field)")
        ax.plot(r, [row["loss_linear"] for row in sub], "--", label="linear")
        ax.set_yscale("log")
        ax.set_xlabel("r = m/n")
        ax.set_title(f"p = {p:g}")
    axes[0][0].set_ylabel("loss per feature")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    written["loss_vs_r.png"] = _png(fig)
    plt.close(fig)

    quantities = (("ratio_to_optimum", "trained / L*"), ("stats_diag_mean", "diag mean a"),
                  ("stats_rank_bound_ratio", "(S/a^2) / ((1-r)/r)"), ("stats_bias_mean", "effective bias beta"),
                  ("stats_ks_mean", "KS distance to Gaussian"), ("stats_dropped_fraction", "dropped fraction"))
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    for ax, (key, title) in zip(axes.ravel(), quantities):
        cells: dict[tuple[int, int], list[float]] = {}
        for row in rows:
            if row.get(key) is not None:
                cells.setdefault((ps.index(row["p"]), rs.index(row["r"])), []).append(float(row[key]))
        grid = np.full((len(ps), len(rs)), np.nan)
        for cell, values in cells.items():
            grid[cell] = np.mean(values)  # the mean over seeds
        image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(rs)), [f"{r:g}" for r in rs])
        ax.set_yticks(range(len(ps)), [f"{p:g}" for p in ps])
        ax.set_xlabel("r")
        ax.set_ylabel("p")
        ax.set_title(title)
        low, high = image.get_clim()
        for (i, j), value in np.ndenumerate(grid):
            if math.isfinite(value):
                light = high > low and (value - low) / (high - low) > 0.6  # viridis is light at the top
                ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=7, color="k" if light else "w")
        fig.colorbar(image, ax=ax)
    fig.tight_layout()
    written["heatmaps.png"] = _png(fig)
    plt.close(fig)
    return written


def _png(fig) -> bytes:
    stream = io.BytesIO()
    fig.savefig(stream, format="png", dpi=110)
    return stream.getvalue()


def write_report(rows: Sequence[dict[str, Any]], meta: dict[str, Any], out: str | os.PathLike) -> list[str]:
    """Write RESULT_FILES to ``out`` (``outputs.write_files``: a temp-folder fallback if that fails)."""
    payload = {"meta": meta, "rows": list(rows)}
    files = {
        "results.csv": _csv_text(rows).encode(),
        "results.json": json.dumps(payload, indent=1, allow_nan=False, default=float).encode(),
        "summary.md": summary_markdown(rows, meta).encode(),
    }
    files.update(_figures(rows))
    write_files(out, files)
    return list(files)
