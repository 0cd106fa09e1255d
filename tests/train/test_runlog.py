"""Run logs: the Trainer, the Recorder and SummaryWriter append to a run folder's JSON Lines files while training
runs; status.json tells running from finished, stopped early or cut short."""

import json
import os
import struct
import zlib

import numpy as np
import pytest
from train_helpers import mlp

import glassnet as gn
from glassnet.lens import Recorder
from glassnet.lens.report import report
from glassnet.train import EarlyStopping, RunLog, SummaryWriter, Trainer
from glassnet.train.runlog import read_jsonl


def lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def fit(tmp_path, data, epochs=3, log_every=2, callbacks=()):
    train, val = data
    model = mlp()
    trainer = Trainer(
        model,
        gn.nn.CrossEntropyLoss(),
        gn.optim.Adam(model.parameters(), lr=1e-2),
        metrics=["accuracy"],
        callbacks=list(callbacks),
        run_dir=tmp_path / "run",
        log_every=log_every,
    )
    trainer.fit(train, epochs=epochs, val_loader=val)
    return trainer, tmp_path / "run"


def test_trainer_streams_batch_losses_every_n_steps_and_each_epoch(tmp_path, data):
    trainer, run = fit(tmp_path, data, epochs=3, log_every=3)
    points = lines(run / "scalars.jsonl")
    batch = [p for p in points if p["tag"] == "batch_loss"]
    assert [p["step"] for p in batch] == list(range(3, 13, 3))  # 4 batches x 3 epochs = 12 steps
    # the fractional epoch of a batch point: epoch index + batches done / batches per epoch
    assert [p["epoch"] for p in batch] == pytest.approx([0.75, 1.5, 2.25, 3.0])
    val_loss = [p for p in points if p["tag"] == "val_loss"]
    assert [p["epoch"] for p in val_loss] == [1, 2, 3]
    assert [p["step"] for p in val_loss] == [4, 8, 12]
    assert [p["value"] for p in val_loss] == pytest.approx(trainer.history["val_loss"])
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "finished" and status["epochs"] == 3 and status["pid"] == os.getpid()
    assert status["world_size"] == 1  # one process, no MPI job
    assert status["best"]["val_loss"]["min"] == pytest.approx(min(trainer.history["val_loss"]))
    assert status["ended"] >= status["started"]


def test_early_stopping_is_recorded_as_stopped_early(tmp_path, data):
    stop = EarlyStopping(monitor="val_loss", patience=0, min_delta=10.0)  # no epoch improves by 10
    trainer, run = fit(tmp_path, data, epochs=6, callbacks=[stop])
    assert trainer.epochs_done < 6
    assert json.loads((run / "status.json").read_text())["status"] == "stopped early"


def test_recorder_appends_one_line_per_recorded_step(tmp_path, data):
    rec = Recorder(every=2, histograms=True)
    fit(tmp_path, data, epochs=2, callbacks=[rec])
    records = lines(tmp_path / "run" / "layers.jsonl")
    assert [r["step"] for r in records] == [r["step"] for r in rec.recording.records] == [0, 2, 4, 6]
    first = records[0]["params"]["0.weight"]
    assert first["grad_norm"] > 0 and set(first["weight_histogram"]) == {"counts", "edges"}
    assert len(first["weight_histogram"]["edges"]) == len(first["weight_histogram"]["counts"]) + 1


def test_a_resumed_run_keeps_its_start_and_appends(tmp_path, data):
    _, run = fit(tmp_path, data, epochs=1)
    started = json.loads((run / "status.json").read_text())["started"]
    n = len(lines(run / "scalars.jsonl"))
    fit(tmp_path, data, epochs=1)
    assert json.loads((run / "status.json").read_text())["started"] == started
    assert len(lines(run / "scalars.jsonl")) == 2 * n


def test_read_jsonl_skips_a_half_written_line_and_counts_bad_ones(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"a": 1}\nnot json\n{"a": 2}\n{"a": 3, "b"')
    records, offset, bad = read_jsonl(path)
    assert records == [{"a": 1}, {"a": 2}] and bad == 1
    with open(path, "ab") as f:
        f.write(b': 4}\n{"a"')
    more, offset2, bad2 = read_jsonl(path, offset)
    assert more == [{"a": 3, "b": 4}] and bad2 == 0 and offset2 > offset


def _png_pixels(data: bytes):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    idat = data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8]
    raw = zlib.decompress(idat)
    channels = {0: 1, 2: 3, 6: 4}[color]
    rows = [raw[r * (width * channels + 1) + 1 : (r + 1) * (width * channels + 1)] for r in range(height)]
    return np.frombuffer(b"".join(rows), np.uint8).reshape(height, width, channels)


def test_summary_writer_writes_what_serve_and_report_read(tmp_path):
    image = np.zeros((3, 4, 5), np.float32)
    image[0, 1, 2] = 1.0  # one red pixel at row 1, column 2
    with SummaryWriter(tmp_path / "loop", config={"lr": 0.1}) as w:
        for step in range(5):
            w.add_scalar("loss", 1.0 / (step + 1))  # steps counted per tag: 0, 1, 2, ...
            w.add_scalars("acc", {"train": 0.5 + step / 10, "test": 0.4 + step / 10}, step)
        w.add_histogram("weights", gn.randn(1000), 4)
        w.add_image("sample", image, 4)
        w.add_text("note", "<b>not html</b>", 4)
        w.flush()
        assert json.loads((tmp_path / "loop" / "status.json").read_text())["status"] == "running"
    folder = tmp_path / "loop"
    points = lines(folder / "scalars.jsonl")
    assert [p["step"] for p in points if p["tag"] == "loss"] == [0, 1, 2, 3, 4]
    assert {p["tag"] for p in points} == {"loss", "acc/train", "acc/test"}
    hist = lines(folder / "histograms.jsonl")[0]
    assert sum(hist["counts"]) == 1000 and len(hist["edges"]) == 31
    pixels = _png_pixels((folder / "artefacts" / "sample_000004.png").read_bytes())
    assert pixels.shape == (4, 5, 3) and tuple(pixels[1, 2]) == (255, 0, 0) and pixels.sum() == 255
    assert lines(folder / "text.jsonl")[0]["text"] == "<b>not html</b>"
    assert json.loads((folder / "config.json").read_text()) == {"writer": "SummaryWriter", "lr": 0.1}
    assert json.loads((folder / "status.json").read_text())["status"] == "finished"
    html = report(folder).read_text()
    assert "acc/train" in html and "scalars.jsonl" in html
    with pytest.raises(RuntimeError, match="closed"):
        w.add_scalar("loss", 1.0)


def test_summary_writer_refuses_bad_values(tmp_path):
    with SummaryWriter(tmp_path / "w") as w:
        with pytest.raises(TypeError, match="'loss' should be a number"):
            w.add_scalar("loss", "high")
        with pytest.raises(ValueError, match="dataformats"):
            w.add_image("img", np.zeros((4, 5)), dataformats="CHW")
        with pytest.raises(ValueError, match="no finite values"):
            w.add_histogram("h", np.array([np.nan]))
    assert not (tmp_path / "w" / "scalars.jsonl").exists()


def test_one_writer_per_folder_and_process(tmp_path):
    a, b = RunLog.open(tmp_path / "r"), RunLog.open(tmp_path / "r")
    assert a is b
    a.scalar("x", 1.0, 0)
    a.close()
    b.scalar("x", 2.0, 1)  # still open: b holds a share
    b.close()
    assert [p["value"] for p in lines(tmp_path / "r" / "scalars.jsonl")] == [1.0, 2.0]
    assert RunLog.open(tmp_path / "r") is not a
