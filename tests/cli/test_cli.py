"""The `glassnet` command: list, info, demo, and one-line errors for user mistakes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from glassnet.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_list_shows_recipes(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("mlp-digits", "lenet-mnist", "char-lstm", "gan-ring", "tiny-gpt"):
        assert name in out
    assert "not yet available" not in out  # every recipe runs


def test_info_prints_versions_and_backend(capsys):
    import numpy

    import glassnet as gn

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert gn.__version__ in out and numpy.__version__ in out
    assert "backend  numpy, device cpu" in out
    assert "extras" in out


def test_demo_still_works(capsys):
    assert main(["demo", "--steps", "20"]) == 0
    assert "loss fell from" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["train", "no-such-recipe"], "unknown recipe"),
        (["train", "lenet-mnist", "--data", ROOT], "cannot find train-images-idx3-ubyte"),
        (["train", "mlp-digits", "--data", "/no/such/dir"], "no such directory"),
        (["train", "mlp-digits", "--resume", "/no/such/file.safetensors"], "no such run folder or checkpoint file"),
        (["tour", "--chapter", "13"], "unknown chapter 13"),
    ],
)
def test_user_mistakes_are_one_line(argv, fragment, capsys, tmp_path):
    status = main(argv + (["--out", str(tmp_path)] if argv[0] == "tour" else []))
    assert status != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert fragment in err[0] and "Traceback" not in err[0]


@pytest.mark.parametrize("argv", [["train", "mlp-digits", "--epochs", "0"], ["train", "mlp-digits", "--lr", "abc"],
                                  ["tour", "--chapter", "x"], ["frobnicate"]])
def test_bad_option_values_exit_nonzero_without_traceback(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error:" in err


def test_subprocess_error_has_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "glassnet", "train", "nope"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr


def test_train_then_report_end_to_end(tmp_path, capsys):
    run = tmp_path / "digits"
    assert main(["train", "mlp-digits", "--epochs", "2", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["report", str(run)]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == str(run / "report.html")
    page = (run / "report.html").read_text(encoding="utf-8")
    for section in ("curves", "diagnosis", "pictures", "config"):
        assert f"id='{section}'" in page
    assert "val_accuracy" in page  # the recipe's per-epoch logs (the test set, evaluated each epoch) are in the report
    assert main(["report", str(run), "--out", str(tmp_path / "copy.html")]) == 0
    assert (tmp_path / "copy.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("make, fragment", [(lambda p: p / "missing", "is not a directory"),
                                            (lambda p: p, "is not a run folder")])
def test_report_of_something_not_a_run_is_one_line(make, fragment, tmp_path, capsys):
    target = make(tmp_path)
    assert main(["report", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0] and str(target) in err[0]
    assert err[0].startswith("glassnet report: error:") and "Traceback" not in err[0]
