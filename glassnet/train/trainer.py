"""The Trainer: `fit`, `evaluate` and `predict` for a model, a loss and an optimiser, with metrics and callbacks.

The loop, in the words of the events it emits::

    on_fit_begin
    for each epoch:            on_epoch_begin
        for each batch:        on_batch_begin → train_step (forward, loss, backward, on_after_backward, step)
                               → on_batch_end
        validation (evaluate), lr, scheduler step, history
                               on_epoch_end
    on_fit_end

A loader is anything iterable once per epoch that yields `(inputs, targets)` batches of Tensors (a DataLoader,
a list of batches). `inputs` may be a tuple, passed to the model as several arguments.

For a step the default cannot express (a GAN's alternating updates, two optimisers), subclass and override
`train_step(batch) -> dict`: every number in the returned dict is averaged over the epoch into the logs; an
"output" and "target" pair, if returned, feeds the metrics.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from glassnet import random as gn_random
from glassnet.autograd import no_grad
from glassnet.distributed import in_parallel_job
from glassnet.optim import lr_scheduler as _lrs
from glassnet.tensor import Tensor, cat
from glassnet.train.callbacks import Callback, CallbackList
from glassnet.train.checkpoint import (
    CheckpointError,
    RunDir,
    all_or_nothing,
    apply_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from glassnet.train.history import History
from glassnet.train.metrics import Mean, Metric, get_metric
from glassnet.train.progress import ProgressBar
from glassnet.train.runlog import RunLogger

_NOT_LOGGED = ("output", "target")


def _batch_size(x: Any) -> int:
    """The leading dimension of a Tensor (or of the first Tensor in a tuple); 1 when unknown."""
    while isinstance(x, (tuple, list)) and x:
        x = x[0]
    shape = getattr(x, "shape", None)
    return int(shape[0]) if shape else 1


def _split(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, dict):
        return batch["inputs"], batch.get("targets")
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    raise ValueError(
        f"Trainer: a batch should be an (inputs, targets) pair, got {type(batch).__name__}"
        + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        + "; override train_step/eval_step for other layouts"
    )


def _scalar(value: Any) -> float | None:
    if isinstance(value, Tensor):
        return float(value.item()) if value.numel() == 1 else None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class Trainer:
    """Fit a model: `Trainer(model, loss_fn, optimizer, metrics=["accuracy"]).fit(train, epochs=5, val_loader=val)`.

    Args:
        model: a Module (or any callable with train()/eval()/state_dict()).
        loss_fn: `loss_fn(output, target) -> scalar Tensor` (a loss Module or a function).
        optimizer: a glassnet.optim optimiser (None if an overridden train_step keeps its own).
        metrics: names ('accuracy', 'top5', 'f1', 'mse', 'perplexity', …), Metric objects or functions.
        callbacks: Callback objects, called in order.
        scheduler: an optim scheduler stepped once per epoch (a ReduceLROnPlateau on val_loss, else loss);
            saved in checkpoints.
        run_dir: a RunDir (or a path to one): config, history and a last-epoch checkpoint are written there.
        config: extra entries for the run's config.json (recipe, seed, hyperparameters).
        max_batch_records: how many per-batch records the History keeps.
        log_every: with a run_dir, every `log_every` steps the batch numbers, and at each epoch end its logs, are
            appended to the run folder's scalars.jsonl (`RunLogger`), which `glassnet serve` shows live.
        device: where to train ("cuda", "cpu", a `gn.device`): the model moves there now, and every batch's
            tensors on their way into a step (None: leave both where they are).
    """

    def __init__(
        self,
        model: Any,
        loss_fn: Any,
        optimizer: Any,
        metrics: Sequence[Any] = (),
        callbacks: Iterable[Callback] = (),
        scheduler: Any = None,
        run_dir: RunDir | str | os.PathLike | None = None,
        config: dict[str, Any] | None = None,
        max_batch_records: int = 10_000,
        log_every: int = 10,
        device: Any = None,
    ):
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.metric_specs = list(metrics)
        self.metrics: list[Metric] = [get_metric(m) for m in self.metric_specs]
        self._val_metrics: list[Metric] = [get_metric(m) for m in self.metric_specs if not isinstance(m, Metric)]
        if len(self._val_metrics) != len(self.metrics):  # Metric objects given: use copies of them for validation
            import copy

            self._val_metrics = [copy.deepcopy(m) for m in self.metrics]
        self.callbacks = callbacks if isinstance(callbacks, CallbackList) else CallbackList(callbacks)
        self.scheduler = scheduler
        if run_dir is not None and not isinstance(run_dir, RunDir):
            run_dir = RunDir.open(run_dir)
        self.run_dir: RunDir | None = run_dir
        if run_dir is not None:
            self.callbacks.append(RunLogger(every=log_every))
        self.config = dict(config or {})
        self.history = History(max_batch_records)
        self.stop_training = False
        self.epoch = 0
        self.epochs: int | None = None
        self.epochs_done = 0
        self.global_step = 0
        self.steps_per_epoch: int | None = None
        self._distributed: Any = None  # the DistributedFit running this trainer's fit as one rank of an MPI job
        self.device = device
        if device is not None and hasattr(model, "to"):
            model.to(device)

    # ----- steps (override for custom training) ------------------------------------------------------------
    def forward(self, inputs: Any) -> Any:
        """Run the model on a batch's inputs (a tuple is spread over several arguments)."""
        model = self.model if self._distributed is None else self._distributed.model  # DistributedDataParallel
        return model(*inputs) if isinstance(inputs, tuple) else model(inputs)

    def train_step(self, batch: Any) -> dict[str, Any]:
        """One optimisation step: zero grads, forward, loss, backward, `on_after_backward`, step.

        Returns {"loss": Tensor, "output": Tensor, "target": Tensor}; numbers in it are logged, the output/target
        pair feeds the metrics.
        """
        inputs, targets = _split(batch)
        self.optimizer.zero_grad()
        output = self.forward(inputs)
        loss = self.loss_fn(output, targets)
        loss.backward()
        self.callbacks.on_after_backward(self)
        self.optimizer.step()
        return {"loss": loss.detach(), "output": output.detach(), "target": targets}

    def eval_step(self, batch: Any) -> dict[str, Any]:
        """Forward and loss without updating (called under no_grad, with the model in eval mode)."""
        inputs, targets = _split(batch)
        output = self.forward(inputs)
        result: dict[str, Any] = {"output": output, "target": targets}
        if self.loss_fn is not None and targets is not None:
            result["loss"] = self.loss_fn(output, targets)
        return result

    # ----- accumulation ----------------------------------------------------------------------------------------
    def _accumulate(self, result: dict[str, Any], means: dict[str, Mean], metrics: list[Metric]) -> dict[str, float]:
        if not isinstance(result, dict):
            raise TypeError(f"Trainer: a step should return a dict like {{'loss': loss}}, got {type(result).__name__}")
        target = result.get("target")
        n = _batch_size(target if target is not None else result.get("output"))
        logs: dict[str, float] = {}
        for key, value in result.items():
            if key in _NOT_LOGGED:
                continue
            x = _scalar(value)
            if x is None:
                continue
            means.setdefault(key, Mean(key)).update(x, weight=n)
            logs[key] = x
        if metrics and result.get("output") is not None and target is not None:
            for m in metrics:
                m.update(result["output"], target)
        return logs

    def _epoch_logs(self, means: dict[str, Mean], metrics: list[Metric]) -> dict[str, Any]:
        logs: dict[str, Any] = {k: m.compute() for k, m in means.items()}
        for m in metrics:
            logs[m.name] = m.compute()
        if self._distributed is not None:  # one of several ranks: average over them all
            logs = self._distributed.average(logs, max((m.weight for m in means.values()), default=0.0))
        return logs

    # ----- fit / evaluate / predict --------------------------------------------------------------------------
    def fit(
        self,
        train_loader: Iterable[Any],
        epochs: int,
        val_loader: Iterable[Any] | None = None,
        initial_epoch: int = 0,
        resume_from: str | os.PathLike | RunDir | None = None,
        verbose: int = 1,
    ) -> History:
        """Train epochs `initial_epoch` … `epochs - 1` (0-based; `epochs` is the total) and return the History.

        `resume_from` (a checkpoint file or a RunDir/run folder holding checkpoints/last.safetensors) restores
        model, optimiser, scheduler, callback states, history and RNG state, and continues after the epochs it
        had completed.

        `verbose` as in Keras: 1 shows a progress bar per epoch when the output is interactive (a terminal or
        Jupyter) and one line per epoch otherwise, 2 always lines, 0 nothing (see `glassnet.train.progress`).
        A `ProgressBar` among the callbacks takes the place of the one `verbose` would add.
        """
        progress = None
        if verbose and self._distributed is None and not any(isinstance(cb, ProgressBar) for cb in self.callbacks):
            progress = ProgressBar(verbose)  # rank_zero_only: under MPI, rank 0 shows it (the inner fit adds none)
            self.callbacks.append(progress)
        try:
            if self._distributed is None and in_parallel_job():  # launched as one of several MPI ranks
                from glassnet.distributed.training import DistributedFit

                return DistributedFit(self).fit(train_loader, epochs, val_loader, initial_epoch, resume_from)
            return self._fit(train_loader, epochs, val_loader, initial_epoch, resume_from)
        finally:
            if progress is not None:
                progress.on_fit_end()  # closes a bar left open by an exception (a no-op after a normal end)
                self.callbacks.callbacks.remove(progress)

    def _fit(self, train_loader, epochs, val_loader, initial_epoch, resume_from) -> History:
        if resume_from is not None:
            initial_epoch = self.load_checkpoint(resume_from)
        self.epochs = int(epochs)
        self.epochs_done = initial_epoch
        self.stop_training = False
        try:
            self.steps_per_epoch = len(train_loader)  # type: ignore[arg-type]
        except TypeError:
            self.steps_per_epoch = None
        self.callbacks.set_trainer(self)
        if self.run_dir is not None:
            self.run_dir.write_config(self.describe(epochs=epochs, initial_epoch=initial_epoch))
        self.callbacks.on_fit_begin({})
        logs: dict[str, Any] = {}
        for epoch in range(initial_epoch, self.epochs):
            self.epoch = epoch
            logs = self._train_epoch(train_loader, epoch)
            if val_loader is not None:
                logs.update({f"val_{k}": v for k, v in self.evaluate(val_loader, _metrics=self._val_metrics).items()})
            if self.optimizer is not None and hasattr(self.optimizer, "param_groups"):
                logs["lr"] = float(self.optimizer.param_groups[0]["lr"])
            self._step_scheduler(logs)
            self.history.append_epoch(epoch, logs)
            self.callbacks.on_epoch_end(epoch, logs)
            self.epochs_done = epoch + 1
            if self.run_dir is not None:
                self.save_checkpoint(self.run_dir.last_checkpoint)
                self.run_dir.write_history(self.history)
            if self.stop_training:
                break
        self.callbacks.on_fit_end(logs)
        if self.run_dir is not None:
            self.run_dir.write_history(self.history)
        return self.history

    def _train_epoch(self, loader: Iterable[Any], epoch: int) -> dict[str, Any]:
        self.model.train()
        means: dict[str, Mean] = {}
        for m in self.metrics:
            m.reset()
        self.callbacks.on_epoch_begin(epoch, {})
        start = time.perf_counter()
        for i, batch in enumerate(loader):
            self.callbacks.on_batch_begin(i, {})
            batch_logs = self._accumulate(self.train_step(self._to_device(batch)), means, self.metrics)
            self.global_step += 1
            self.history.append_batch({"epoch": epoch, "batch": i, "step": self.global_step, **batch_logs})
            self.callbacks.on_batch_end(i, batch_logs)
            if self.stop_training:
                break
        logs = self._epoch_logs(means, self.metrics)
        logs["time"] = time.perf_counter() - start
        return logs

    def _step_scheduler(self, logs: dict[str, Any]) -> None:
        if self.scheduler is None:
            return
        if isinstance(self.scheduler, _lrs.ReduceLROnPlateau):
            value = logs.get("val_loss", logs.get("loss"))
            if value is not None:
                self.scheduler.step(value)
        else:
            self.scheduler.step()

    def evaluate(self, loader: Iterable[Any], _metrics: list[Metric] | None = None) -> dict[str, Any]:
        """Loss and metrics over `loader` (eval mode, no graph); returns {"loss": …, "accuracy": …}."""
        metrics = self.metrics if _metrics is None else _metrics
        for m in metrics:
            m.reset()
        means: dict[str, Mean] = {}
        was_training = getattr(self.model, "training", True)
        self.model.eval()
        try:
            with no_grad():
                for batch in loader:
                    self._accumulate(self.eval_step(self._to_device(batch)), means, metrics)
        finally:
            self.model.train(was_training)
        return self._epoch_logs(means, metrics)

    def predict(self, data: Tensor | Iterable[Any], batch_size: int = 256) -> Tensor:
        """The model's outputs (eval mode, no graph) for a Tensor (in batches) or a loader, concatenated."""
        if isinstance(data, Tensor):
            data = [data[i : i + batch_size] for i in range(0, data.shape[0], batch_size)]
        was_training = getattr(self.model, "training", True)
        self.model.eval()
        outputs = []
        try:
            with no_grad():
                for batch in data:
                    if isinstance(batch, (tuple, list)):
                        batch = batch[0]
                    elif isinstance(batch, dict):
                        batch = batch["inputs"]
                    outputs.append(self.forward(self._to_device(batch)))
        finally:
            self.model.train(was_training)
        if not outputs:
            raise ValueError("Trainer.predict: the data yielded no batches")
        return cat(outputs, 0) if len(outputs) > 1 else outputs[0]

    def _to_device(self, batch: Any) -> Any:
        """The batch with its tensors on the trainer's device (the batch itself when no device was given)."""
        if self.device is None:
            return batch
        if isinstance(batch, Tensor):
            return batch.to(self.device)
        if isinstance(batch, (tuple, list)):
            return type(batch)(self._to_device(b) for b in batch)
        if isinstance(batch, dict):
            return {k: self._to_device(v) for k, v in batch.items()}
        return batch

    # ----- checkpoints and records ------------------------------------------------------------------------------
    def save_checkpoint(self, path: str | os.PathLike, epoch: int | None = None) -> None:
        """Write a full checkpoint (model, optimiser, scheduler, callbacks, history, RNG) after `epoch` epochs."""
        save_checkpoint(
            path,
            self.model,
            self.optimizer,
            self.scheduler,
            epoch=self.epochs_done if epoch is None else epoch,
            history=self.history,
            extra={"callbacks": self.callbacks.state_dict(), "global_step": self.global_step},
        )

    def load_checkpoint(self, path: str | os.PathLike | RunDir) -> int:
        """Restore a full checkpoint into this trainer; returns the number of epochs it had completed."""
        if isinstance(path, RunDir):
            path = path.last_checkpoint
        elif Path(path).is_dir():
            path = RunDir.open(path).last_checkpoint
        ckpt = read_checkpoint(path)
        extra = ckpt.get("extra") or {}
        step = extra.get("global_step", 0)
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise CheckpointError(f"load_checkpoint: {path}: entry 'extra.global_step' should be a count, got {step!r}")
        with all_or_nothing(path, self.model, self.optimizer, self.scheduler, self.callbacks):
            apply_checkpoint(ckpt, self.model, self.optimizer, self.scheduler, restore_rng=True)
            self.callbacks.load_state_dict(extra.get("callbacks") or {})
        if ckpt.get("history") is not None:
            self.history = ckpt["history"]
        self.global_step = step
        self.epochs_done = ckpt["epoch"]
        return self.epochs_done

    def describe(self, **fields: Any) -> dict[str, Any]:
        """The run's configuration as plain data (written to config.json)."""
        opt = self.optimizer
        opts = opt if isinstance(opt, dict) else {"": opt} if opt is not None else {}

        def groups_of(o: Any) -> list[dict[str, Any]]:
            skip = ("params", "param_names")
            return [{k: v for k, v in g.items() if k not in skip} for g in getattr(o, "param_groups", [])]

        groups: Any = groups_of(opt) if not isinstance(opt, dict) else {k: groups_of(o) for k, o in opts.items()}
        n_params = sum(int(p.numel()) for p in self.model.parameters()) if hasattr(self.model, "parameters") else None
        return {
            **self.config,
            "model": type(self.model).__name__,
            "model_repr": repr(self.model),
            "parameters": n_params,
            "loss": type(self.loss_fn).__name__ if self.loss_fn is not None else None,
            "optimizer": (
                {k: type(o).__name__ for k, o in opts.items()}
                if isinstance(opt, dict)
                else (type(opt).__name__ if opt is not None else None)
            ),
            "param_groups": groups,
            "scheduler": type(self.scheduler).__name__ if self.scheduler is not None else None,
            "metrics": [m.name for m in self.metrics],
            "callbacks": [type(cb).__name__ for cb in self.callbacks],
            "seed": gn_random.default_generator.initial_seed,
            **fields,
        }
