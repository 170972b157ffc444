"""Grid options (phases, validate): commas, spaces or both give one grid; a bad entry is one line.

Parsing only (``build_parser().parse_args``): nothing is trained or computed. The phases table
is checked on a made-up entry.
"""

from __future__ import annotations

import pytest

from rugtheory.cli.main import build_parser, main
from rugtheory.cli.phases import text
from rugtheory.phases.diagram import COMBINED, FAMILIES

VALIDATE = ["validate", "--n", "8", "--out", "unused"]
FORMS = [  # each list of tokens is the grid (0.01, 0.1, 0.3)
    ["0.01,0.1,0.3"],
    ["0.01", "0.1", "0.3"],
    ["0.01,0.1", "0.3"],
    ["0.01", " 0.1 , 0.3"],
]


def _parse(*argv: str):
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize("tokens", FORMS, ids=" ".join)
def test_phases_grid_forms_agree(tokens):
    args = _parse("phases", "--p-grid", *tokens, "--r-grid", *tokens)
    assert args.p_grid == args.r_grid == (0.01, 0.1, 0.3)


@pytest.mark.parametrize("tokens", FORMS, ids=" ".join)
def test_validate_grid_forms_agree(tokens):
    args = _parse(*VALIDATE, "--p-grid", *tokens, "--r-grid", *tokens)
    assert args.p_grid == args.r_grid == (0.01, 0.1, 0.3)


@pytest.mark.parametrize("tokens", [["1,2,5"], ["1", "2", "5"], ["1,2", "5"]], ids=" ".join)
def test_validate_seeds_forms_agree(tokens):
    args = _parse(*VALIDATE, "--p-grid", "0.1", "--r-grid", "0.5", "--seeds", *tokens)
    assert args.seeds == (1, 2, 5) and all(type(seed) is int for seed in args.seeds)


def test_defaults_are_flat_grids():
    assert _parse("phases").p_grid == (0.01, 0.1) and _parse("phases").r_grid == (0.25, 0.5, 0.75)
    assert _parse(*VALIDATE, "--p-grid", "0.1", "--r-grid", "0.5").seeds == (0,)


@pytest.mark.parametrize(("argv", "option", "name"), [
    (["phases", "--p-grid", "0.01,abc"], "--p-grid", "feature_probability (p) grid entry 'abc' is not a number"),
    (["phases", "--p-grid", "0.01,,0.1"], "--p-grid", "feature_probability (p) grid has an empty entry"),
    (["phases", "--p-grid", "0.01,"], "--p-grid", "feature_probability (p) grid has an empty entry"),
    (["phases", "--p-grid", "0.01", "1.5"], "--p-grid", "feature_probability (p) = 1.5 in the grid is out of range"),
    (["phases", "--r-grid", "0.5,nan"], "--r-grid", "ratio (r) = nan in the grid is out of range"),
    (["phases", "--r-grid", "0"], "--r-grid", "ratio (r) = 0.0 in the grid is out of range"),
    ([*VALIDATE, "--p-grid", "0.1", "x", "--r-grid", "0.5"], "--p-grid", "feature_probability (p) grid entry 'x'"),
    ([*VALIDATE, "--p-grid", "0.1", "--r-grid", "0.5,2"], "--r-grid", "ratio (r) = 2.0 in the grid is out of range"),
    ([*VALIDATE, "--p-grid", "0.1", "--r-grid", "0.5", "--seeds", "1,-1"], "--seeds", "seed = -1 in the grid"),
    ([*VALIDATE, "--p-grid", "0.1", "--r-grid", "0.5", "--seeds", "1.5"], "--seeds",
     "seed grid entry '1.5' is not an integer"),
])
def test_bad_entry_is_one_line_naming_the_parameter_and_the_form(argv, option, name, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"rugtheory {argv[0]}: error: argument {option}: {name}")
    domain = {"--p-grid": "p in (0, 1)", "--r-grid": "r in (0, 1]", "--seeds": "seed an integer >= 0"}[option]
    assert err.rstrip().endswith(f"valid: values separated by commas or spaces "
                                 f"({'0,1 or 0 1' if option == '--seeds' else '0.1,0.5 or 0.1 0.5'}), "
                                 f"each {'an integer' if option == '--seeds' else 'a number'}, {domain}")


def _entry(best: str) -> dict:
    names = FAMILIES + (COMBINED,)
    losses = {name: 0.001 * (k + 1) for k, name in enumerate(names)}
    return {"p": 0.1, "r": 0.5, "best": best, "losses": losses,
            "mix": {name: [{"member": name, "ratio": 0.5, "fraction": 1.0}] for name in names}}


def test_phases_table_shows_full_family_names_above_their_columns():
    lines = text([_entry("dedicated_dropped")]).splitlines()
    head, row = lines[1], lines[2]
    for name in FAMILIES[1:] + (COMBINED,):
        end = head.index(f" {name}") + 1 + len(name)  # the name, whole, right-aligned over its column
        assert head[end:end + 1] in ("", " ")
        assert row[end - 1] != " " and row[end:end + 1] in ("", " ")  # the value ends where its name ends
    assert " dedicated_dropped " in row  # the best family, whole
    ratios = row.split()[-len(FAMILIES[1:] + (COMBINED,)):]
    losses = _entry("x")["losses"]
    assert [float(value) for value in ratios] == pytest.approx(
        [losses[name] / losses["rug"] for name in FAMILIES[1:] + (COMBINED,)], rel=1e-3)
