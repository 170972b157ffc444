"""`rugtheory validate` and its pieces: grid training by m, measurement rows, the run's files, resume."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

pytest.importorskip("torch", reason="rugtheory validate needs the torch extra: pip install 'rugtheory[torch]'")

from rugtheory.gridreport import MATCH, classify, summary_markdown
from rugtheory.harness import TrainConfig, train
from rugtheory.harness.grid import grid_rows
from rugtheory.measure import measure_model

GRID = {"n": 16, "p_grid": (0.1, 0.3), "r_grid": (0.25, 0.5), "seeds": (3,)}
OPTIONS = {"steps": 120, "batch_size": 256, "samples": 20_000, "device": "cpu", "progress": False}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("grid")
    return out, grid_rows(**GRID, out=out, **OPTIONS)


def test_rows_cover_the_grid_and_equal_a_direct_training(run):
    _, rows = run
    assert [(row["p"], row["r_requested"]) for row in rows] == [(0.1, 0.25), (0.1, 0.5), (0.3, 0.25), (0.3, 0.5)]
    assert {row["m"] for row in rows} == {4, 8}
    # the grid trains each m-group as one batch: the same as a direct TrainConfig of that group
    config = TrainConfig(n_features=16, n_hidden=8, feature_probability=(0.1, 0.3), seed=3, steps=120, batch_size=256)
    direct = train(config, device="cpu", progress=False)
    for k, row in enumerate(r for r in rows if r["m"] == 8):
        again = measure_model(direct.W[k], direct.b[k], row["p"], row["r"], samples=20_000, seed=3 + 10**6)
        assert row["loss_measured"] == again.loss_measured
        assert row["ratio_to_optimum"] == pytest.approx(again.loss_measured / again.loss_meanfield_optimum, rel=1e-15)


def test_rug_rows_stand_beside_each_instance(run):
    _, rows = run
    for row in rows:
        assert row["rug_loss_measured"] > 0 and row["rug_loss_measured_se"] > 0
        assert row["rug_ratio_to_optimum"] == pytest.approx(row["rug_loss_measured"] / row["loss_meanfield_optimum"])


def test_rows_carry_the_decomposition(run):
    _, rows = run
    for row in rows:
        assert row["exact_rows"] == 16
        assert abs(row["exact_agreement_z"]) < 3  # exact(W, b) against the Monte Carlo of the same weights
        assert row["non_gaussian_gap"] == pytest.approx(row["loss_exact"] - row["loss_meanfield_own_stats"])
        assert row["suboptimal_gap"] == pytest.approx(row["loss_meanfield_own_stats"] - row["loss_meanfield_optimum"])
    assert "## Decomposition of the loss" in summary_markdown(rows, {"n": 16})


def test_report_files_are_written(run, tmp_path):
    from rugtheory.gridreport import write_report

    _, rows = run
    files = write_report(rows, {"n": 16, "command": "test", "device": "cpu", "seeds": [3]}, tmp_path)
    assert set(files) == {"results.csv", "results.json", "summary.md", "loss_vs_r.png", "heatmaps.png"}
    with open(tmp_path / "results.csv") as stream:
        table = list(csv.DictReader(stream))
    assert len(table) == 4 and float(table[0]["loss_measured"]) == rows[0]["loss_measured"]
    assert json.loads((tmp_path / "results.json").read_text())["rows"][1]["p"] == rows[1]["p"]
    assert (tmp_path / "heatmaps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resume_reuses_measured_groups(run):
    out, rows = run
    again = grid_rows(**GRID, out=out, resume=True, **OPTIONS)
    assert [row["loss_measured"] for row in again] == [row["loss_measured"] for row in rows]


@pytest.mark.parametrize("ratio,se,verdict", [
    (1.0 + 0.99 * MATCH, 0.01, "match"), (0.9, 0.01, "beats"), (0.97, 0.01, "undecided"), (1.1, 0.01, "short"),
    (1.05, 0.02, "undecided"), (None, None, "undecided"),
])
def test_classify(ratio, se, verdict):
    assert classify(ratio, se) == verdict


def test_summary_lists_every_verdict(run):
    _, rows = run
    text = summary_markdown(rows, {"n": 16, "command": "x"})
    main_table, decomposition = text.count("\n| 16 | 0."), text.count("\n| 0.")
    assert main_table == decomposition == len(rows) == 4 and "## Where the theory holds" in text


def test_cli_validate_bad_input_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "rugtheory", "validate", "--n", "1", "--p-grid", "0.1", "--r-grid",
                          "0.5", "--out", str(tmp_path)], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "n_features" in out.stderr
    out = subprocess.run([sys.executable, "-m", "rugtheory", "validate", "--n", "8", "--p-grid", "1.5", "--r-grid",
                          "0.5", "--out", str(tmp_path)], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2 and "feature_probability" in out.stderr


def test_several_n_and_points_give_one_table_with_the_exact_rug(tmp_path, capsys):
    from rugtheory.cli.main import main

    out = tmp_path / "study"
    argv = ["validate", "--n", "16,32", "--points", "0.1:0.5", "0.2:0.25", "--seeds", "0", "1", "--steps", "60",
            "--batch-size", "64", "--samples", "20000", "--exact-rows", "0", "--device", "cpu", "--no-progress",
            "--out", str(out), "--json"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    cells = [(row["n"], row["p"], row["r_requested"], row["seed"]) for row in rows]
    assert cells == [(n, p, r, s) for n in (16, 32) for p, r in ((0.1, 0.5), (0.2, 0.25)) for s in (0, 1)]
    assert sorted(folder.name for folder in (out / "runs").iterdir()) == ["n16_m4", "n16_m8", "n32_m16", "n32_m8"]
    for row in rows:  # the rug's exact finite-n loss against its own Monte Carlo, within 4 standard errors
        assert abs(row["rug_loss_exact"] - row["rug_loss_measured"]) < 4 * row["rug_loss_measured_se"], row
        assert row["rug_exact_ratio_to_optimum"] == row["rug_loss_exact"] / row["loss_meanfield_optimum"]
    header = (out / "results.csv").read_text().splitlines()[0].split(",")
    assert {"n", "rug_loss_exact", "stats_skewness_mean", "stats_ks_mean", "phase_label"} <= set(header)


@pytest.mark.parametrize("extra, needle", [
    (["--points", "0.1:2"], "point '0.1:2' is out of range"),
    (["--points", "0.1"], "is not P:R"),
    (["--points", "0.1:0.5", "--p-grid", "0.1"], "exclude each other"),
    ([], "needs --p-grid and --r-grid, or --points"),
])
def test_bad_points_are_one_line(tmp_path, capsys, extra, needle):
    from rugtheory.cli.main import main

    try:
        code = main(["validate", "--n", "16", "--out", str(tmp_path / "x"), *extra])
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err


def test_partial_results_are_written_after_each_group(tmp_path, capsys, monkeypatch):
    from rugtheory.cli.main import main
    from rugtheory.harness import grid

    seen = []
    real = grid._group_rows

    def record(*args, **kwargs):
        rows = real(*args, **kwargs)
        summary = tmp_path / "grid" / "summary.md"
        seen.append(summary.read_text() if summary.exists() else None)
        return rows

    monkeypatch.setattr(grid, "_group_rows", record)
    argv = ["validate", "--n", "16", "--points", "0.1:0.5", "0.2:0.25", "--steps", "40", "--batch-size", "64",
            "--samples", "2000", "--exact-rows", "0", "--device", "cpu", "--no-progress", "--out", str(tmp_path / "grid")]
    assert main(argv) == 0
    capsys.readouterr()
    assert seen[0] is None and "partial results: 1 of 2 cells" in seen[1]  # written after the first group
    assert "partial" not in (tmp_path / "grid" / "summary.md").read_text()  # the final report
