"""Does the large-n phase diagram predict what training finds? Trained models against the structured phases.

Reads the recorded validation runs (``validation/cpu_n*/results.json``, written by ``rugtheory
validate``; each row has the trained model's measured and exact losses, its decomposition and the
family its weights resemble, ``rugtheory.phases.classify``), computes the phase diagram at the
same (p, r) (``rugtheory.phases.phase_diagram``: every family's exact large-n optimum, the rug's
L*, and the combined envelope of all families), and writes ``validation/phases_vs_training.md``
(atomically): per trained model the family it resembles, the family the diagram predicts, and
the trained loss against both.

    python validation/phases_vs_training.py [runs ...]   # default: every validation/cpu_n*/ folder
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rugtheory.checkpoint import write_atomic
from rugtheory.phases import phase_diagram

OUT = ROOT / "validation" / "phases_vs_training.md"
LOSS_MATCH = 0.05  # the predicted family's large-n loss "predicts" a trained loss within 5% (finite n: derivations/14)

# the classifier's row families and the diagram's families that contain them
_MATCHES = {"pairs": {"pairs"}, "kgon": {"kgon"}, "simplex": {"simplex"}, "frame": {"frame"},
            "rug": {"rug", "mixture"}, "dedicated": {"dedicated_dropped"}, "dropped": {"dedicated_dropped"}}


def trained_rows(folders: list[Path]) -> list[dict]:
    rows = []
    for folder in folders:
        record = json.loads((folder / "results.json").read_text())
        for row in record["rows"]:
            rows.append({**row, "run": folder.name})
    return rows


def _fractions(row: dict) -> str:
    shares = {key[len("phase_fraction_"):]: value for key, value in row.items() if key.startswith("phase_fraction_")}
    return ", ".join(f"{name} {share:.2f}" for name, share in sorted(shares.items(), key=lambda kv: -kv[1]) if share > 0)


def compare(rows: list[dict]) -> list[dict]:
    table = []
    for row in rows:
        point = phase_diagram([row["p"]], [row["r"]]).points[0]
        losses = point.losses
        trained = row.get("loss_exact", row["loss_measured"])
        label = row.get("phase_label", "?")
        table.append({
            "run": row["run"], "n": row["n"], "p": row["p"], "r": row["r"], "trained_over_rug": trained / losses["rug"],
            "label": label, "fractions": _fractions(row), "predicted": point.best,
            "predicted_over_rug": losses[point.best] / losses["rug"],
            "combined_over_rug": losses["combined"] / losses["rug"],
            "trained_over_predicted": trained / losses[point.best],
            "trained_over_combined": trained / losses["combined"],
            "agrees": point.best in _MATCHES.get(label, set()),
            "loss_agrees": abs(trained / losses[point.best] - 1.0) <= LOSS_MATCH,
            "non_gaussian": row.get("non_gaussian_relative"), "suboptimal": row.get("suboptimal_relative"),
            "mix": "; ".join(f"{m['member']} {m['fraction']:.2f}" for m in point.mix["combined"]),
        })
    return table


def markdown(table: list[dict], folders: list[Path], seconds: float) -> str:
    command = "python validation/phases_vs_training.py" + "".join(f" {f.relative_to(ROOT)}" for f in folders)
    lines = [
        "# Trained models against the large-n phase diagram",
        "",
        f"Command: `{command}` (deterministic: no sampling here; the trained rows come from the runs' results.json).",
        f"Machine: {platform.machine()} {platform.system()}, Python {platform.python_version()}, CPU; {seconds:.0f} s.",
        "",
        "trained = the exact finite-n loss of the trained (W, b); rug = L*(p, r); resembles = the label of",
        "`rugtheory.phases.classify` (row fractions after it); predicted = the family with the lowest large-n",
        "loss (`rugtheory phases`); combined = the envelope of all families together (its mix is listed).",
        "",
        ("| run | p | r | trained/rug | resembles | predicted | predicted/rug | combined/rug | trained/predicted | "
        "family agrees | loss within 5% |"),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in table:
        lines.append(
            f"| {row['run']} | {row['p']:g} | {row['r']:g} | {row['trained_over_rug']:.3f} | {row['label']} "
            f"({row['fractions']}) | {row['predicted']} | {row['predicted_over_rug']:.3f} | "
            f"{row['combined_over_rug']:.3f} | {row['trained_over_predicted']:.3f} | {'yes' if row['agrees'] else 'no'} | "
            f"{'yes' if row['loss_agrees'] else 'no'} |"
        )
    lines += ["", "Combined envelope at each point:", ""]
    lines += [f"- {row['run']}, p = {row['p']:g}, r = {row['r']:g}: {row['mix']}" for row in table]
    agree = sum(row["agrees"] for row in table)
    both = sum(row["agrees"] and row["loss_agrees"] for row in table)
    lines += ["", f"The predicted family is the one training found in {agree} of {len(table)} models; in {both} of them",
              f"its large-n loss is also within {LOSS_MATCH:.0%} of the trained model's exact loss."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    folders = [Path(a).resolve() for a in argv] or sorted((ROOT / "validation").glob("cpu_n*"))
    started = time.perf_counter()
    table = compare(trained_rows(folders))
    text = markdown(table, folders, time.perf_counter() - started)
    write_atomic(OUT, text.encode())
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
