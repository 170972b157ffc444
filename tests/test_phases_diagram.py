"""Phase diagram, optima, mixtures, high-sparsity constants and the CLI (derivations/12_phases.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import optimize

from rugtheory import solve
from rugtheory.cli.main import main
from rugtheory.measure import monte_carlo_loss
from rugtheory.phases import antipodal_optimum, group_optimum, group_row_loss, pair_optimum, rank_one_pair
from rugtheory.phases.diagram import COMBINED, FAMILIES, envelope, phase_diagram
from rugtheory.phases.kgon import kgon_optimum, kgon_partners
from rugtheory.phases.mixture import dropped_loss
from rugtheory.phases.scaling import leading_order, pair_leading
from rugtheory.phases.simplex import simplex_optimum, simplex_partners

P = 0.1  # one p for the diagram tests: its family optima are computed once per process (cached)


def test_envelope_against_brute_force():
    rng = np.random.default_rng(2)
    x = np.concatenate([[0.0, 1.0], rng.random(12)])
    y = np.concatenate([[1.0, 0.0], rng.random(12)])
    for r in np.linspace(0.05, 0.95, 19):
        value, mix = envelope(x, y, r)
        # every two-point combination straddling r, and every point at r, is no better
        brute = min([((x[j] - r) * y[i] + (r - x[i]) * y[j]) / (x[j] - x[i])
                     for i in range(x.size) for j in range(x.size) if x[i] < r < x[j]])
        assert value == pytest.approx(brute, rel=1e-12)
        assert sum(w for _, w in mix) == pytest.approx(1.0)
        assert sum(w * x[i] for i, w in mix) == pytest.approx(r)


def test_group_optimum_beats_a_scan():
    best = kgon_optimum(P, 5)
    a, b = np.meshgrid(np.linspace(0.5, 2.0, 61), np.linspace(-0.8, 0.2, 81))
    scan = group_row_loss(P, a, b, kgon_partners(5))
    assert best.loss <= scan.min() * (1 + 1e-9)


def test_free_bias_sign_beats_the_nonpositive_bias_optima_and_is_real():
    # the pair optima of antipodal.py / pairs.py keep bias <= 0; a small positive bias does better
    best = rank_one_pair(P)
    assert best.loss < pair_optimum(P).loss < antipodal_optimum(P).loss
    free = group_optimum(0.3, [-1.0])
    assert free.bias > 0 and free.loss < antipodal_optimum(0.3).loss * (1 - 1e-3)
    # the improvement is seen by a simulated network of antipodal pairs, not only by the formula
    W = np.kron(np.eye(32), free.a * np.array([[1.0, -1.0], [-1.0, 1.0]]))
    estimate = monte_carlo_loss(W, np.full(64, free.bias), 0.3, samples=200_000, seed=9)
    assert abs(estimate.loss - free.loss) < 3 * estimate.standard_error


def test_diagram_entries_are_consistent():
    rs = (0.1, 0.25, 0.4, 0.5, 0.75, 0.9)
    diagram = phase_diagram([P], rs)
    for point, r in zip(diagram.points, rs):
        losses = point.losses
        assert losses["rug"] == pytest.approx(solve(P, r).loss, rel=1e-12)
        assert point.best == min(FAMILIES, key=lambda name: losses[name])
        assert losses["mixture"] <= losses["rug"] * (1 + 1e-12)
        assert losses[COMBINED] <= min(losses[name] for name in FAMILIES) * (1 + 1e-12)
        assert losses["dedicated_dropped"] == pytest.approx((1 - r) * dropped_loss(P), rel=1e-12)
        for family, parts in point.mix.items():  # each mix is a valid split of the features and the rank budget
            assert sum(part["fraction"] for part in parts) == pytest.approx(1.0)
            assert sum(part["fraction"] * part["ratio"] for part in parts) == pytest.approx(r)
            assert all(part["fraction"] > 0 for part in parts), family
    at_half = diagram.points[3]
    assert at_half.losses["pairs"] == pytest.approx(rank_one_pair(P).loss, rel=1e-12)


def test_high_sparsity_constants():
    # hand-typed independent checks: D(c) = c^2/3 - c^3/6 (c < 1), 1/3 - 1/(6c) (c >= 1)
    D = lambda c: c * c / 3 - c**3 / 6 if c < 1 else 1 / 3 - 1 / (6 * c)
    for k in (3, 4, 7, 12):
        assert leading_order(simplex_partners(k)).constant == pytest.approx((2 * k - 3) / (6 * (k - 1) ** 2), rel=1e-12)
    numeric = optimize.minimize_scalar(lambda g: (D(g) + D(1 / g)) / 2, bounds=(1, 10), method="bounded")
    assert pair_leading() == pytest.approx(numeric.fun, rel=1e-9) and pair_leading() == pytest.approx(25 / 162)
    assert leading_order(kgon_partners(3)).order == 2 and leading_order(kgon_partners(5)).order == 1
    # the exact optimum approaches C p^order with a relative correction O(p)
    p = 1e-5
    for exact, lead in ((kgon_optimum(p, 5), leading_order(kgon_partners(5))),
                        (kgon_optimum(p, 8), leading_order(kgon_partners(8))),
                        (simplex_optimum(p, 4), leading_order(simplex_partners(4))),
                        (rank_one_pair(p), None)):
        order, constant = (2, pair_leading()) if lead is None else (lead.order, lead.constant)
        assert abs(exact.loss / p**order / constant - 1) < 100 * p


def _run(capsys, *argv):
    code = main(["phases", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_json_and_text(capsys):
    code, out, _ = _run(capsys, "--p-grid", str(P), "--r-grid", "0.4,0.5", "--json")
    assert code == 0
    entries = json.loads(out)
    assert [(e["p"], e["r"]) for e in entries] == [(P, 0.4), (P, 0.5)]
    for entry in entries:
        assert set(entry) >= {"p", "r", "best", "losses"} and entry["best"] in entry["losses"]
        assert set(FAMILIES) <= set(entry["losses"])
    code, out, _ = _run(capsys, "--p-grid", str(P), "--r-grid", "0.5")
    assert code == 0 and "pairs" in out and "mix:" in out


@pytest.mark.parametrize("argv,word", [
    (("--p-grid", "0"), "feature_probability"), (("--p-grid", "1"), "feature_probability"),
    (("--r-grid", "1.5"), "ratio"), (("--r-grid", "0"), "ratio"), (("--r-grid", ""), "ratio"),
    (("--p-grid", "0.1,x"), "feature_probability"), (("--p-grid", "1e-9"), "feature_probability"),
])
def test_cli_bad_input(capsys, argv, word):
    try:
        code = main(["phases", *argv])
    except SystemExit as error:  # argparse's own errors (unparsable, empty) exit inside main
        code = error.code
    err = capsys.readouterr().err
    assert code == 2
    assert word in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_png(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="--png needs matplotlib, in the torch extra: pip install 'rugtheory[torch]'")
    path = tmp_path / "diagram.png"
    code, _, _ = _run(capsys, "--p-grid", str(P), "--r-grid", "0.5", "--png", str(path))
    assert code == 0 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rug_beside_pairs_limit():
    # hand-typed: min over rho of (1 - rho)/(rho (1/2 - rho)) by a grid, against the sympy minimum 6 + 4 sqrt 2
    import sympy as sp

    from rugtheory.symbolic.phases import rug_pair_limit

    rho_star, h_min, ratio = rug_pair_limit()
    grid = np.linspace(1e-4, 0.5 - 1e-4, 200_001)
    h = (1 - grid) / (grid * (0.5 - grid))
    assert float(h_min) == pytest.approx(h.min(), rel=1e-8)
    assert float(rho_star) == pytest.approx(grid[np.argmin(h)], abs=1e-5)
    r = min(ratio.free_symbols, key=str)
    assert float(ratio.subs(r, 0.4)) == pytest.approx(0.1 * h.min() * 0.4 / 0.6, rel=1e-8)
    assert sp.simplify(ratio.subs(r, 1 - sp.sqrt(2) / 2) - 1) == 0  # continuous with the pure rug at rho*
