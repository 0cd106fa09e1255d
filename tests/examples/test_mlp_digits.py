"""The digits example reaches the accuracy the README reports."""

import importlib.util
import pathlib

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "mlp_digits.py"


def test_mlp_digits_reaches_96_percent():
    spec = importlib.util.spec_from_file_location("mlp_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.train(verbose=False)
    assert result["accuracy"] >= 0.96
    assert result["seconds"] < 60
