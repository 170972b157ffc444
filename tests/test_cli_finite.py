"""`rugtheory finite`, as a user runs it (a subprocess) and in-process for JSON and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rugtheory.cli.main import main
from rugtheory.finite import rug_exact_loss
from rugtheory.optimum import solve

KEYS = {
    "p", "r", "n", "m", "seed", "loss_meanfield_optimum", "a", "bias", "loss_exact", "loss_exact_bound",
    "relative_exact", "a_reoptimised", "bias_reoptimised", "loss_reoptimised", "relative_reoptimised",
    "loss_edgeworth", "relative_edgeworth", "edgeworth_corrections",
}


def _json(capsys, *args: str) -> dict:
    assert main(["finite", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_text_report_as_a_user_runs_it():
    command = [sys.executable, "-m", "rugtheory", "finite", "--p", "0.05", "--r", "0.5", "--n", "16"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    star = solve(0.05, 0.5)
    assert f"{star.loss:.10g}" in out.stdout
    for label in ("exact at the mean-field", "re-optimised exact", "Edgeworth l + E1 + E2", "n = 16, m = 8"):
        assert label in out.stdout
    assert "n needed" not in out.stdout  # only without --n


def test_json_with_n_matches_the_library(capsys):
    data = _json(capsys, "--p", "0.05", "--r", "0.25", "--n", "64", "--seed", "3", "--rows", "2")
    assert data.keys() >= KEYS
    assert data["loss_exact"] == rug_exact_loss(0.05, 0.25, 64, seed=3).loss
    assert data["loss_reoptimised"] <= data["loss_exact"]
    assert data["loss_meanfield_optimum"] == solve(0.05, 0.25).loss
    assert data["relative_exact"] == pytest.approx(data["loss_exact"] / data["loss_meanfield_optimum"] - 1, rel=1e-12)
    check = data["rows_check"]  # the general exact_loss on 2 rows agrees within both bounds
    assert abs(check["loss"] - data["loss_exact"]) <= check["error_bound"] + data["loss_exact_bound"] + 1e-14


def test_json_without_n_finds_the_required_n(capsys):
    data = _json(capsys, "--p", "0.5", "--r", "0.75")
    required = data["required"]
    assert data["n"] == required["n_reoptimised"]
    scan = {row["n"]: row for row in required["scan"]}
    assert abs(scan[data["n"]]["relative_reoptimised"]) <= 0.01
    assert scan[data["n"]]["relative_exact"] == pytest.approx(data["relative_exact"], rel=1e-9)
    smaller = [n for n in scan if n < data["n"]]
    assert smaller and abs(scan[max(smaller)]["relative_reoptimised"]) > 0.01


@pytest.mark.parametrize(("args", "word"), [
    (["--p", "0", "--r", "0.5", "--n", "8"], "feature_probability (p)"),
    (["--p", "1.2", "--r", "0.5", "--n", "8"], "feature_probability (p)"),
    (["--p", "nan", "--r", "0.5", "--n", "8"], "feature_probability (p)"),
    (["--p", "0.1", "--r", "0", "--n", "8"], "ratio (r)"),
    (["--p", "0.1", "--r", "1.5", "--n", "8"], "ratio (r)"),
    (["--p", "0.1", "--r", "nan", "--n", "8"], "ratio (r)"),
    (["--p", "0.1", "--r", "0.5", "--n", "12"], "n_features (n)"),
    (["--p", "0.1", "--r", "0.5", "--n", "1"], "n_features (n)"),
    (["--p", "0.1", "--r", "0.5", "--n", "eight"], "n_features (n)"),
    (["--p", "0.1", "--r", "0.5", "--n", "8", "--rows", "9"], "rows"),
    (["--p", "0.1", "--r", "0.5", "--n", "8", "--rows", "0"], "rows"),
    (["--p", "0.1", "--r", "0.5", "--rows", "2"], "rows"),
    (["--p", "0.1", "--r", "0.5", "--n", "8", "--seed", "-2"], "seed"),
    (["--p", "0.1", "--r", "1"], "ratio (r)"),
])
def test_bad_input_is_one_line_and_exit_code_2(capsys, args, word):
    try:
        code = main(["finite", *args])
    except SystemExit as stop:  # argparse's own errors
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert word in err and "valid" in err
