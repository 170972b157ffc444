"""Bad inputs to the loss API raise ParameterError (a ValueError) with a one-line message.

The message must name the parameter and its valid range, taken from the declarations in
rugtheory/parameters.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rugtheory.errors import ParameterError
from rugtheory.numeric.loss import METHODS, estimate_loss, meanfield_loss
from rugtheory.numeric.reference import meanfield_loss_mp, tied_derivatives_mp

GOOD = {"p": 0.1, "a": 1.0, "sigma": 0.2, "bias": -0.1}

BAD = [
    ("p", 0.0, ("feature_probability", "p in (0, 1)")),
    ("p", 1.0, ("feature_probability", "p in (0, 1)")),
    ("p", -0.1, ("feature_probability", "p in (0, 1)")),
    ("p", math.nan, ("feature_probability", "p in (0, 1)")),
    ("p", 1.5, ("feature_probability", "p in (0, 1)")),
    ("sigma", -0.01, ("sigma", "sigma >= 0")),
    ("sigma", math.inf, ("sigma", "sigma >= 0")),
    ("a", math.nan, ("diag", "a a finite real number")),
    ("bias", math.inf, ("bias", "beta a finite real number")),
    ("p", "often", ("feature_probability", "p in (0, 1)")),
]


def _assert_one_line(error: pytest.ExceptionInfo, *fragments: str) -> None:
    message = str(error.value)
    assert "\n" not in message and message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name,value,fragments", BAD, ids=[f"{name}={value!r}" for name, value, _ in BAD])
@pytest.mark.parametrize("entry", (meanfield_loss, estimate_loss), ids=("meanfield_loss", "estimate_loss"))
def test_out_of_domain_is_refused(entry, name, value, fragments, method):
    arguments = dict(GOOD, **{name: value})
    with pytest.raises(ValueError) as error:
        entry(**arguments, method=method)
    assert isinstance(error.value, ParameterError)
    _assert_one_line(error, *fragments)


@pytest.mark.parametrize("entry", (meanfield_loss, estimate_loss))
@pytest.mark.parametrize("method", ("x", "Closed_Form", "", None))
def test_unknown_method_is_refused(entry, method):
    with pytest.raises(ParameterError) as error:
        entry(**GOOD, method=method)
    _assert_one_line(
        error, f"method = {method!r} is unknown; valid: closed_form, quadrature, mpmath, monte_carlo"
    )


@pytest.mark.parametrize(
    "keyword,value,fragment",
    [
        ("precision", 15, "precision an integer in [16, 1000]"),
        ("precision", 20.5, "precision an integer in [16, 1000]"),
        ("samples", 10, "samples an integer >= 100"),
        ("seed", -1, "seed an integer >= 0"),
        ("seed", 1.5, "seed an integer >= 0"),
    ],
)
def test_method_options_are_validated(keyword, value, fragment):
    with pytest.raises(ParameterError) as error:
        meanfield_loss(**GOOD, method="mpmath", **{keyword: value})
    _assert_one_line(error, keyword, fragment)


def test_reference_refuses_low_precision():
    with pytest.raises(ParameterError) as error:
        meanfield_loss_mp(0.1, 1.0, 0.2, -0.1, precision=15)
    _assert_one_line(error, "precision", "[16, 1000]")


@pytest.mark.parametrize(
    "a,kappa,name", [(0.0, 0.1, "diag (a)"), (-1.0, 0.1, "diag (a)"), (1.0, 0.0, "kappa")]
)
def test_tied_derivatives_need_positive_a_and_kappa(a, kappa, name):
    with pytest.raises(ParameterError) as error:
        tied_derivatives_mp(0.1, a, -0.1, kappa, precision=20)
    _assert_one_line(error, name, "> 0")


@pytest.mark.parametrize("method", [m for m in METHODS if m != "closed_form"])
def test_arrays_only_for_closed_form(method):
    with pytest.raises(ParameterError) as error:
        meanfield_loss(np.array([0.1, 0.2]), 1.0, 0.2, -0.1, method=method)
    _assert_one_line(error, method, "closed_form")


def test_array_with_one_bad_element_names_it():
    with pytest.raises(ParameterError) as error:
        meanfield_loss(np.array([0.1, 0.2, 1.2]), 1.0, 0.2, -0.1)
    _assert_one_line(error, "feature_probability", "1.2", "p in (0, 1)")
