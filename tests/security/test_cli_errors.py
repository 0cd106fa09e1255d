"""The `glassnet` command: every user mistake is one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import pickle

import pytest

import glassnet as gn
from glassnet import cli, nn
from glassnet.cli import main


def _one_line_error(capsys, argv, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1, err
    for needle in needles:
        assert needle in err, err


@pytest.fixture
def weights_only(tmp_path):
    path = tmp_path / "weights.safetensors"
    gn.save(nn.Linear(2, 2).state_dict(), path)
    return path


@pytest.mark.parametrize(
    "content, name, needle",
    [
        (b"\x00\x01garbage" * 10, "corrupt.safetensors", "corrupt.safetensors"),
        (pickle.dumps({"model": 1}), "model.safetensors", "pickle"),
    ],
)
def test_resume_from_a_bad_file_is_one_line(tmp_path, capsys, content, name, needle):
    path = tmp_path / name
    path.write_bytes(content)
    argv = ["train", "mlp-digits", "--epochs", "1", "--out", str(tmp_path / "run"), "--resume", str(path)]
    _one_line_error(capsys, argv, needle)


def test_resume_from_a_weights_only_file_is_one_line(tmp_path, capsys, weights_only):
    argv = ["train", "mlp-digits", "--epochs", "1", "--out", str(tmp_path / "run"), "--resume", str(weights_only)]
    _one_line_error(capsys, argv, "weights.safetensors", "not a glassnet checkpoint")


def test_out_pointing_at_a_file_is_one_line(tmp_path, capsys):
    existing = tmp_path / "taken.txt"
    existing.write_text("mine")
    _one_line_error(capsys, ["train", "mlp-digits", "--epochs", "1", "--out", str(existing)], "taken.txt", "is a file")
    assert existing.read_text() == "mine"


def test_negative_seed_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "mlp-digits", "--seed", "-1"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--seed" in err and "expected a whole number" in err


@pytest.mark.parametrize("where", ["folder", "proc"])
def test_report_to_an_unwritable_path_is_one_line(tmp_path, capsys, where):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    gn.train.RunDir.open(run).write_config({"recipe": "x"})
    out = tmp_path if where == "folder" else "/proc/glassnet-report.html"
    status = main(["report", str(run), "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_a_bug_prints_a_traceback_and_says_it_is_a_bug(monkeypatch, capsys):
    def broken(args):
        raise ZeroDivisionError("inside glassnet")

    monkeypatch.setattr(cli, "cmd_list", broken)
    assert main(["list"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError" in err and "bug in glassnet" in err
