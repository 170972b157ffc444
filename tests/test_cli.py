"""The rugtheory command, run as a user would (a subprocess), text and JSON."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from rugtheory.numeric.reference import meanfield_loss_mp
from rugtheory.optimum import solve


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rugtheory", *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_solve_json_has_the_contract_keys_and_matches_the_api():
    out = run("solve", "--p", "0.001", "--r", "0.25", "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert {"p", "r", "a", "bias", "sigma", "loss", "loss_linear"} <= payload.keys()
    assert payload["loss"] == solve(0.001, 0.25).loss


def test_solve_with_precision_prints_digits():
    out = run("solve", "--p", "1e-30", "--r", "0.5", "--precision", "40", "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["precision"] == 40
    # The 40-digit mpmath Newton solve against the independent float64 solve (stable form).
    assert float(payload["decimal"]["loss"]) == pytest.approx(solve(1e-30, 0.5).loss, rel=1e-13)


def test_loss_json_and_text():
    out = run("loss", "--p", "0.1", "--a", "1", "--sigma", "0.2", "--bias", "-0.1", "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["loss"] == pytest.approx(float(meanfield_loss_mp(0.1, 1, 0.2, -0.1)), rel=1e-14)
    text = run("loss", "--p", "0.1", "--a", "1", "--sigma", "0.2", "--bias", "-0.1", "--method", "quadrature")
    assert text.returncode == 0 and f"{float(meanfield_loss_mp(0.1, 1, 0.2, -0.1)):.10g}"[:12] in text.stdout


def test_negative_numbers_in_scientific_notation_are_values():
    out = run("loss", "--p", "1e-30", "--a", "1", "--sigma", "1e-15", "--bias", "-1.2e-14", "--json")
    assert out.returncode == 0, out.stderr
    reference = float(meanfield_loss_mp(1e-30, 1, 1e-15, -1.2e-14))
    assert json.loads(out.stdout)["loss"] == pytest.approx(reference, rel=1e-14)


def test_derive_prints_the_closed_form():
    out = run("derive")
    assert out.returncode == 0 and "Q(m)" in out.stdout and "Phi(m/sigma)" in out.stdout
    latex = run("derive", "--latex")
    assert latex.returncode == 0 and r"\Phi" in latex.stdout


def test_report_table():
    out = run("report")
    assert out.returncode == 0, out.stderr
    assert "L_lin/L*" in out.stdout and len(out.stdout.splitlines()) >= 18 + 5
    rows = json.loads(run("report", "--json").stdout)["rows"]
    assert len(rows) == 18 and all(row["loss"] < row["loss_linear"] for row in rows)


@pytest.mark.parametrize(
    "args, name",
    [
        (("solve", "--p", "0", "--r", "0.5"), "feature_probability"),
        (("solve", "--p", "1", "--r", "0.5"), "feature_probability"),
        (("solve", "--p", "nan", "--r", "0.5"), "feature_probability"),
        (("solve", "--p", "0.1", "--r", "0"), "ratio"),
        (("solve", "--p", "0.1", "--r", "1.5"), "ratio"),
        (("solve", "--p", "abc", "--r", "0.5"), "feature_probability"),
        (("solve", "--p", "0.1", "--r", "0.5", "--precision", "5"), "precision"),
        (("loss", "--p", "0.1", "--a", "1", "--sigma", "-1", "--bias", "0"), "sigma"),
        (("loss", "--p", "0.1", "--a", "nan", "--sigma", "1", "--bias", "0"), "diag"),
        (("loss", "--p", "0.1", "--a", "1", "--sigma", "1", "--bias", "0", "--method", "magic"), "method"),
    ],
)
def test_bad_input_is_one_line_exit_2_no_traceback(args, name):
    out = run(*args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and "Traceback" not in out.stderr
    assert "valid" in lines[0]


def test_every_help_page_renders():
    """argparse formats each help string with %: a stray '%' breaks `rugtheory --help`."""
    from rugtheory.cli.main import build_parser

    parser = build_parser()
    parser.format_help()
    subparsers = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    assert {"exact", "phases", "finite", "train"} <= set(subparsers.choices)
    for name, sub in subparsers.choices.items():
        assert name in sub.format_help()
