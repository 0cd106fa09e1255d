"""What every recipe shares: its configuration, where its data comes from (bundled, or --data DIR), the run folder,
the fit through `glassnet.train.Trainer`, and the files a finished run leaves beside the Trainer's.

A recipe is a plain function `run(config) -> run folder`: it builds a model, loaders and a `Trainer` with callbacks,
fits, and writes model.safetensors and results.json into the run folder, where the Trainer has already written
config.json, history.json/.csv and checkpoints/last.safetensors (so `glassnet report` and `--resume` work on it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from glassnet.data import MNIST, CharDataset, Sampler, load_mnist_small, load_text_small
from glassnet.distributed import get_rank, in_parallel_job
from glassnet.files import atomic_write
from glassnet.io.weights import save
from glassnet.train import Callback, ProgressBar, RunDir, Trainer
from glassnet.train.history import _plain


class RecipeError(ValueError):
    """A user mistake with a recipe: unknown name or option, missing or malformed data, a bad checkpoint."""


@dataclass
class RecipeConfig:
    """How to run a recipe: the common options (None means the recipe's default) and recipe-specific `options`.

    `seed` seeds weights, shuffles and dropout (None: the recipe's, 0 but for gan-ring's 9); `out` is the run
    folder (default runs/RECIPE); `data` a folder with the full data set (default: the subset
    bundled in the package); `resume` a run folder or checkpoint file to continue from; `say` prints a line.
    """

    epochs: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    seed: int | None = None
    out: str | os.PathLike | None = None
    data: str | os.PathLike | None = None
    resume: str | os.PathLike | None = None
    options: dict[str, Any] = field(default_factory=dict)
    say: Callable[[str], None] = print


@dataclass(frozen=True)
class Recipe:
    """A named way to train a model: a description, its default options, and `run(config) -> run folder`."""

    name: str
    description: str
    run: Callable[[RecipeConfig], Path]
    defaults: dict[str, Any]
    extras: tuple[str, ...] = ()  # optional extras it needs (none today), for the CLI to check before training
    data_parallel: bool = True  # whether it can run as several MPI ranks (`glassnet train --ranks N`)

    def resolve(self, config: RecipeConfig) -> dict[str, Any]:
        """The recipe's defaults (seed 0 unless it names one), overridden by `config.options`, then by
        config.epochs/lr/batch_size/seed."""
        unknown = sorted(set(config.options) - set(self.defaults))
        if unknown:
            raise RecipeError(
                f"{self.name}: unknown option {', '.join(unknown)}; its options are "
                f"{', '.join(f'{k}={v}' for k, v in self.defaults.items())}"
            )
        options = {**self.defaults, **config.options}
        options.setdefault("seed", 0)
        for key in ("epochs", "lr", "batch_size", "seed"):
            if getattr(config, key) is not None:
                options[key] = getattr(config, key)
        return options

    def parse_option(self, text: str) -> tuple[str, Any]:
        """'key=value' from the command line → (key, value converted to the type of the default)."""
        key, sep, value = text.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in self.defaults:
            raise RecipeError(
                f"{self.name}: --set expects KEY=VALUE with KEY one of {', '.join(self.defaults)}; got {text!r}"
            )
        try:
            return key, _convert(value.strip(), self.defaults[key])
        except ValueError:
            kind = "number" if self.defaults[key] is None else type(self.defaults[key]).__name__
            raise RecipeError(f"{self.name}: --set {key}={value}: expected a {kind}") from None


def _convert(value: str, default: Any) -> Any:
    """A command-line string as the type of `default` (a number when the default is None; 'none' gives None)."""
    if value.lower() == "none":
        return None
    if isinstance(default, bool):
        if value.lower() not in ("true", "false", "1", "0"):
            raise ValueError(value)
        return value.lower() in ("true", "1")
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if default is None:
        try:
            return int(value)
        except ValueError:
            return float(value)
    return value


# ----- data: the bundled subsets, or the full files in --data DIR --------------------------------------------------


def default_data_dir() -> str:
    """Where the examples look for the full data sets: $GLASSNET_DATA, else ../shared/data beside the repository."""
    if os.environ.get("GLASSNET_DATA"):
        return os.environ["GLASSNET_DATA"]
    repo = Path(__file__).resolve().parents[2]
    return os.path.normpath(repo.parent / "shared" / "data")


def mnist_note(data: str | os.PathLike | None, n_train: int, n_test: int) -> str:
    """The line a recipe starts with: which MNIST it trains on."""
    if data is None:
        return (
            f"using the bundled {n_train:,}-image MNIST subset ({n_test:,} test images); "
            "pass --data DIR for the full set"
        )
    return f"using the MNIST IDX files in {data} ({n_train:,} training, {n_test:,} test images)"


def load_mnist_arrays(data: str | os.PathLike | None, recipe: str, limit: int | None = None):
    """MNIST as float32 (N, 1, 28, 28) in [0, 1] and int64 labels: (x_train, y_train, x_test, y_test) arrays.

    `data=None` gives the bundled 3,000 + 1,000 image subset; a folder gives its IDX(.gz) files. `limit` keeps
    only the first `limit` training and test images (for quick runs)."""
    if data is None:
        x_train, y_train, x_test, y_test = (t.numpy() for t in load_mnist_small())
    else:
        try:
            train, test = MNIST(data, train=True), MNIST(data, train=False)
        except (FileNotFoundError, ValueError) as e:
            raise RecipeError(f"{recipe}: {e}") from None
        x_train, y_train = (t.numpy() for t in train.tensors())
        x_test, y_test = (t.numpy() for t in test.tensors())
    if limit is not None:
        x_train, y_train, x_test, y_test = x_train[:limit], y_train[:limit], x_test[:limit], y_test[:limit]
    return x_train, y_train, x_test, y_test


def load_text(data: str | os.PathLike | None, recipe: str, valid_fraction: float = 0.1):
    """Tiny Shakespeare → (vocabulary, train ids, validation ids, note): the last 10% of the text validates.

    `data=None` gives the ~100 KB excerpt bundled in the package; a folder gives its tinyshakespeare.txt."""
    if data is None:
        text = load_text_small()
        note = (
            f"using the bundled {len(text):,}-character excerpt of tiny Shakespeare; pass --data DIR "
            "(holding tinyshakespeare.txt) for the full text"
        )
    else:
        path = Path(data) / "tinyshakespeare.txt"
        if not path.is_file():
            raise RecipeError(f"{recipe}: no tinyshakespeare.txt in {Path(data).resolve()}")
        text = path.read_text(encoding="utf-8")
        note = f"using {path} ({len(text):,} characters)"
    vocab = CharDataset(text, block_size=1)  # the vocabulary of the whole text, ids for all of it
    n_valid = int(len(vocab.data) * valid_fraction)
    return vocab, vocab.data[:-n_valid], vocab.data[-n_valid:], note


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The shuffle of epoch `epoch`: fixed by (seed, epoch), so a PyTorch twin can draw the very same order."""
    return np.random.default_rng([seed, epoch]).permutation(n)


class EpochOrderSampler(Sampler):
    """Indices in `epoch_order(seed, epoch, n)`; `set_epoch` (called by `SetEpoch`) picks the epoch."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the next iteration's order for `epoch` (0-based)."""
        self.epoch = epoch

    def __iter__(self):
        return iter(epoch_order(self.seed, self.epoch, self.n).tolist())

    def __len__(self) -> int:
        return self.n


# ----- callbacks only recipes need ----------------------------------------------------------------------------------


class SetEpoch(Callback):
    """Tell a sampler which epoch begins (`sampler.set_epoch(epoch)`, as PyTorch's samplers expect)."""

    def __init__(self, sampler: Any):
        self.sampler = sampler

    def on_epoch_begin(self, epoch, logs=None):
        self.sampler.set_epoch(epoch)


class ReseedEachEpoch(Callback):
    """`gn.manual_seed(seed · 100003 + epoch)` as each epoch begins: its dropout draws depend on (seed, epoch) only,
    as in the runs the README reports."""

    def __init__(self, seed: int):
        self.seed = seed

    def on_epoch_begin(self, epoch, logs=None):
        from glassnet.random import manual_seed

        manual_seed(self.seed * 100_003 + epoch)


class KeepGeneratorState(Callback):
    """Keep a generator's state (a loader's own shuffling generator) in the Trainer's checkpoints, so that a resumed
    run draws what the uninterrupted one would have."""

    def __init__(self, generator: Any):
        self.generator = generator

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "generator" in state:
            self.generator.set_state(state["generator"])


# ----- the run -----------------------------------------------------------------------------------------------------


def open_run(config: RecipeConfig, name: str) -> RunDir:
    """The run folder: config.out, else the run being resumed, else runs/NAME (an existing folder is reused)."""
    if config.out is not None:
        return RunDir.open(config.out)
    if config.resume is not None:
        return RunDir.open(_run_folder_of(config.resume))
    return RunDir.open(Path("runs") / name)


def _run_folder_of(path: str | os.PathLike) -> Path:
    """The run folder of a run folder, or of a checkpoint file (in its checkpoints/ or beside config.json)."""
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent.parent if folder.parent.name == "checkpoints" else folder.parent
    return folder


def progress() -> list[Callback]:
    """The progress callbacks every recipe's Trainer gets."""
    return [ProgressBar()]


def fit(trainer: Trainer, loader: Any, epochs: int, config: RecipeConfig, name: str, val_loader: Any = None):
    """`trainer.fit`, after restoring `config.resume` (a run folder or checkpoint file) if given."""
    initial_epoch = 0
    if config.resume is not None:
        other = _recipe_of(config.resume)
        if other is not None and other != name:
            raise RecipeError(f"{name}: cannot resume from {config.resume}: it is a run of {other}")
        try:
            initial_epoch = trainer.load_checkpoint(config.resume)
        except FileNotFoundError:
            raise RecipeError(
                f"{name}: --resume {config.resume}: no checkpoint there (expected a run folder "
                "with checkpoints/last.safetensors, or a checkpoint file)"
            ) from None
        except (ValueError, KeyError, TypeError, RuntimeError) as e:  # not a checkpoint, or not of this model
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise RecipeError(f"{name}: cannot resume from {config.resume}: {first}") from None
        config.say(
            f"resumed from {config.resume} after epoch {initial_epoch}"
            + (f" (nothing left to train for {epochs} epochs)" if initial_epoch >= epochs else "")
        )
    return trainer.fit(loader, epochs=epochs, val_loader=val_loader, initial_epoch=initial_epoch)


def _recipe_of(path: str | os.PathLike) -> str | None:
    """The recipe a run folder (or the folder of its checkpoints/last.safetensors) was made by, if it says."""
    folder = _run_folder_of(path)
    try:
        return RunDir.open(folder).read_config().get("recipe") if (folder / "config.json").is_file() else None
    except (OSError, ValueError, AttributeError):  # an unreadable config says nothing about the recipe
        return None


def finish(run_dir: RunDir, model: Any, results: dict[str, Any], say: Callable[[str], None]) -> Path:
    """Write model.safetensors (the weights alone) and results.json (the final figures); return the run folder.

    In a data-parallel run (`--ranks N`) only rank 0 writes, as the Trainer does."""
    path = Path(run_dir.path)
    if in_parallel_job() and get_rank() != 0:
        return path
    save(model.state_dict(), path / "model.safetensors")
    atomic_write(path / "results.json", json.dumps(_plain(results), indent=1))
    say(f"saved {path / 'model.safetensors'}; run folder {path} (see `glassnet report {path}`)")
    return path


def read_results(run_folder: str | os.PathLike) -> dict[str, Any]:
    """The results.json a recipe wrote into its run folder."""
    with open(Path(run_folder) / "results.json", encoding="utf-8") as f:
        return json.load(f)


def count_parameters(model: Any) -> int:
    """The number of trainable numbers in `model`."""
    return sum(int(p.numel()) for p in model.parameters())
