"""What the tiny-Shakespeare recipes share: random training windows from a DataLoader, a per-batch warm-up + cosine
learning rate (`lr_scheduler.SequentialLR`), gradient clipping after backward, a validation loss in nats/char after
every epoch, an optional time budget, and a sample of generated text at the end.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

import glassnet.nn.functional as F
from glassnet import optim
from glassnet.data import CharDataset, DataLoader, RandomSampler
from glassnet.random import Generator
from glassnet.recipes.common import RecipeConfig, count_parameters, finish, fit, open_run, progress
from glassnet.tensor import Tensor
from glassnet.train import Callback, LambdaCallback, LearningRateScheduler, Trainer


def next_char_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy (nats/char) of (B, T, V) logits against (B, T) next-character ids."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


class TextTrainer(Trainer):
    """A Trainer for next-character models whose output is (logits, extra): a CharRNN's (logits, state), a GPT's
    (logits, loss). With `carry_state`, evaluation reads its batches as consecutive chunks of the same streams and
    passes the recurrent state from one chunk to the next; the validation loss is averaged over characters."""

    def __init__(self, model: Any, optimizer: Any, carry_state: bool = False, **kwargs: Any):
        super().__init__(model, next_char_loss, optimizer, **kwargs)
        self.carry_state = carry_state
        self._state: Any = None
        self._evaluating = False

    def forward(self, inputs: Any) -> Tensor:
        # through Trainer.forward, which calls the DistributedDataParallel wrapper in a data-parallel run
        if self._evaluating and self.carry_state:
            logits, self._state = super().forward((inputs, self._state))
            return logits
        return super().forward(inputs)[0]

    def eval_step(self, batch: Any) -> dict[str, Any]:
        inputs, targets = batch
        logits = self.forward(inputs)
        return {"loss": self.loss_fn(logits, targets), "target": targets.reshape(-1)}  # weight: characters

    def evaluate(self, loader: Any, _metrics: Any = None) -> dict[str, Any]:
        self._evaluating, self._state = True, None
        try:
            return super().evaluate(loader, _metrics)
        finally:
            self._evaluating, self._state = False, None


class InOrder:
    """Batches that must be read in order, all of them, by whoever evaluates: a recurrent state flows from one to
    the next. (A data-parallel fit splits a plain list of batches among its ranks; it leaves this whole.)"""

    def __init__(self, batches: list[tuple[Tensor, Tensor]]):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def stream_chunks(ids: np.ndarray, streams: int = 32, length: int = 200) -> InOrder:
    """`ids` cut into `streams` contiguous streams, read `length` characters at a time: (x, y) batches in order."""
    per = (len(ids) - 1) // streams
    x = ids[: streams * per].reshape(streams, per)
    y = ids[1 : streams * per + 1].reshape(streams, per)
    return InOrder([(Tensor(x[:, i : i + length]), Tensor(y[:, i : i + length])) for i in range(0, per, length)])


def windows(ids: np.ndarray, block_size: int, batch_size: int = 64) -> list[tuple[Tensor, Tensor]]:
    """`ids` as non-overlapping `block_size` windows and their next-character targets, in batches."""
    n = (len(ids) - 1) // block_size
    x = ids[: n * block_size].reshape(n, block_size)
    y = ids[1 : n * block_size + 1].reshape(n, block_size)
    return [(Tensor(x[i : i + batch_size]), Tensor(y[i : i + batch_size])) for i in range(0, n, batch_size)]


def warmup_cosine(optimizer: Any, total_steps: int, warmup: int, floor: float = 0.1) -> optim.lr_scheduler.LRScheduler:
    """Linear warm-up to the lr over `warmup` steps ((k + 1)/warmup · lr at step k), then a cosine decay to
    floor · lr at `total_steps`; stepped once per batch. Short runs warm up over a tenth of their steps."""
    lrs = optim.lr_scheduler
    warmup = max(1, min(warmup, total_steps // 10))
    base = optimizer.param_groups[0]["lr"]
    rise = lrs.LinearLR(optimizer, start_factor=1.0 / warmup, end_factor=1.0, total_iters=max(1, warmup - 1))
    decay = lrs.CosineAnnealingLR(optimizer, T_max=max(1, total_steps - warmup), eta_min=floor * base)
    return lrs.SequentialLR(optimizer, [rise, decay], milestones=[warmup])


class TimeBudget(Callback):
    """Stop training after the batch that passes `minutes` (the epoch still validates and is checkpointed)."""

    def __init__(self, minutes: float, say: Any = print):
        self.seconds, self.say, self.start = 60.0 * minutes, say, 0.0

    def on_fit_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_batch_end(self, batch, logs=None):
        if time.perf_counter() - self.start > self.seconds:
            self.trainer.stop_training = True
            self.say(f"time budget of {self.seconds / 60:g} minutes reached after {self.trainer.global_step} steps")


def train_text_model(
    name: str,
    model: Any,
    optimizer: Any,
    config: RecipeConfig,
    o: dict[str, Any],
    vocab: CharDataset,
    train_ids: np.ndarray,
    note: str,
    window: int,
    warmup: int,
    carry_state: bool,
    valid_batches: Any,
) -> Path:
    """Fit a next-character model on random `window`-long windows; validate with `valid_batches(ids)`."""
    steps, total = o["steps_per_epoch"], o["epochs"] * o["steps_per_epoch"]
    train = CharDataset(vocab.text[: len(train_ids)], window, chars=vocab.chars)
    sampler = RandomSampler(train, replacement=True, num_samples=steps * o["batch_size"])
    loader = DataLoader(train, batch_size=o["batch_size"], sampler=sampler)
    valid_ids = vocab.data[len(train_ids) :]
    eval_ids = valid_ids if o["eval_chars"] is None else valid_ids[: o["eval_chars"]]
    callbacks = [
        LearningRateScheduler(warmup_cosine(optimizer, total, warmup), per_batch=True),
        LambdaCallback(on_after_backward=lambda t: optim.clip_grad_norm_(t.model.parameters(), 1.0)),
        *progress(),
    ]
    if o["minutes"] is not None:
        callbacks.append(TimeBudget(o["minutes"], config.say))
    run_dir = open_run(config, name)
    trainer = TextTrainer(
        model,
        optimizer,
        carry_state=carry_state,
        callbacks=callbacks,
        run_dir=run_dir,
        config={"recipe": name, "data": note, **o},
    )
    config.say(
        f"{name}: {count_parameters(model):,} parameters, {total} steps ({o['epochs']} epochs of {steps})"
        + ("" if o["minutes"] is None else f" or {o['minutes']} minutes, whichever comes first")
        + f"; lr={o['lr']} batch_size={o['batch_size']}; run folder {run_dir.path}"
    )
    history = fit(trainer, loader, o["epochs"], config, name, val_loader=valid_batches(eval_ids))
    valid = trainer.evaluate(valid_batches(valid_ids))["loss"]
    config.say(
        f"{name}: final validation loss {valid:.3f} nats/char on all {len(valid_ids):,} validation characters "
        f"after {trainer.global_step} steps"
    )
    start = "ROMEO:\n" if set("ROMEO:\n") <= set(vocab.chars) else vocab.text[0]  # a text without those letters
    prompt = Tensor(vocab.encode(start)[None, :])
    sample = vocab.decode(model.generate(prompt, o["sample_chars"], temperature=0.8, generator=Generator(0))[0])
    (Path(run_dir.artefacts) / "sample.txt").write_text(sample, encoding="utf-8")
    config.say("sample (temperature 0.8):\n" + sample)
    results = {
        "recipe": name,
        "epochs": len(history),
        "steps": trainer.global_step,
        "valid_loss": valid,
        "valid_chars": len(valid_ids),
        "train_seconds": sum(history["time"]),
        "sample": sample,
        "vocabulary": "".join(vocab.chars),
    }
    return finish(run_dir, model, results, config.say)
