"""The generated numerics are exactly what the symbolic derivation produces today."""

from rugtheory.symbolic.codegen import TARGET, generate


def test_generated_module_is_up_to_date():
    assert TARGET.read_text() == generate(), "run `python -m rugtheory.symbolic.codegen`"
