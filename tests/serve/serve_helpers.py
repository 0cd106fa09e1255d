"""Helpers for the server tests: a runs folder with every kind of run, and a server on a free port."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import glassnet as gn
from glassnet.lens import Recorder
from glassnet.train import SummaryWriter, Trainer

XSS_NAME = "<img src=x onerror=alert(1)>"


def trainer_run(root: Path, name: str = "trainer", epochs: int = 3, seed: int = 0) -> Path:
    """A finished Trainer run with a Recorder (layers.jsonl with histograms), 4 batches per epoch, log_every=1."""
    gn.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    batches = [(gn.tensor(x[i : i + 16]), gn.tensor(y[i : i + 16])) for i in range(0, 64, 16)]
    model = gn.nn.Sequential(gn.nn.Linear(4, 8), gn.nn.Tanh(), gn.nn.Linear(8, 2))
    trainer = Trainer(
        model,
        gn.nn.CrossEntropyLoss(),
        gn.optim.SGD(model.parameters(), lr=0.2),
        metrics=["accuracy"],
        callbacks=[Recorder(every=2, histograms=True)],
        run_dir=root / name,
        log_every=1,
        config={"recipe": "toy"},
    )
    trainer.fit(batches, epochs=epochs, val_loader=batches[:2])
    return root / name


def writer_run(root: Path, name: str, points: int = 20, hostile: bool = False) -> Path:
    """A finished SummaryWriter run; `hostile` adds a series and a config value named like an XSS attack."""
    with SummaryWriter(root / name, config={"note": XSS_NAME} if hostile else None) as w:
        for step in range(points):
            w.add_scalar("loss", 1.0 / (step + 1), step)
        if hostile:
            w.add_scalar(XSS_NAME, 1.0, 0)
        w.add_text("note", "<script>alert(1)</script>", 0)
    return root / name


def tour_like_run(root: Path, name: str = "tour-quick") -> Path:
    """A folder as `glassnet tour` leaves it: config.json, summary.json with the chapters, PNGs in artefacts/."""
    from glassnet.train.runlog import _encode_png

    path = root / name
    (path / "artefacts").mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"tour": True, "quick": True}))
    chapters = [{"number": 1, "title": "A neuron", "status": "ran", "seconds": 1.5, "results": {"final_loss": 0.02}}]
    (path / "summary.json").write_text(json.dumps({"chapters": chapters}))
    image = np.zeros((3, 20, 30), np.float32)
    image[1] = np.linspace(0, 1, 30)
    (path / "artefacts" / "ch01_1_fit.png").write_bytes(_encode_png(image))
    return path


def dead_pid() -> int:
    """The pid of a process that has ended (its number is not reused this fast)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def crashed_run(root: Path, name: str = "crashed") -> Path:
    path = writer_run(root, name, points=5)
    status = json.loads((path / "status.json").read_text())
    status.update(status="running", pid=dead_pid(), ended=None)
    (path / "status.json").write_text(json.dumps(status))
    return path


def broken_run(root: Path, name: str = "broken") -> Path:
    path = root / name
    path.mkdir()
    (path / "config.json").write_text("{not json")
    (path / "scalars.jsonl").write_text(
        '{"tag": "loss", "step": 0, "value": 1.0}\ngarbage\n{"tag": "loss", "step": 1, '
        '"value": 0.5}\n{"tag": "loss", "st'
    )
    return path


def legacy_run(root: Path, name: str = "recipe") -> Path:
    """A run as the recipes write it: only a checkpoint whose metadata carries a list history."""
    path = root / name
    path.mkdir()
    history = [{"epoch": e + 1, "loss": 1.0 / (e + 1), "test_accuracy": 0.5 + e / 10} for e in range(4)]
    gn.save({"model": {"w": gn.zeros(2)}, "epoch": 4, "history": history}, path / "checkpoint.safetensors")
    return path


def make_runs(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    trainer_run(root)
    writer_run(root, "writer")
    writer_run(root, XSS_NAME, points=7)
    crashed_run(root)
    broken_run(root)
    legacy_run(root)
    return root


@contextlib.contextmanager
def running_server(runs: Path, **kwargs):
    handle = gn.serve(runs, port=0, block=False, quiet=True, **kwargs)
    try:
        yield handle
    finally:
        handle.stop()


def fifo(path: Path) -> None:
    os.mkfifo(path)
