"""gan-ring: an MLP GAN learns a ring of 8 gaussians (std 0.02 on a circle of radius 2), the classic mode-collapse
test, on `GANTrainer` (non-saturating loss; or WGAN-GP with the option loss=wgan-gp).

The data are generated, so there is nothing to download or bundle. After each epoch the generator draws 1,000
points; `val_modes` counts the modes they cover and `val_within_3std` the fraction within 3 std of a mode
(`glassnet.data.mode_coverage`). Sample grids go to the run folder's artefacts/. Same setup as examples/gan_ring.py
(8/8 modes, 94.1% within 3 std after 12 epochs, README).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from glassnet import optim
from glassnet.data import DataLoader, TensorDataset, mode_coverage, ring_centers, ring_of_gaussians
from glassnet.distributed import in_parallel_job
from glassnet.models import GAN, MLPDiscriminator, MLPGenerator
from glassnet.random import Generator, manual_seed
from glassnet.recipes.common import (
    KeepGeneratorState,
    Recipe,
    RecipeConfig,
    RecipeError,
    count_parameters,
    finish,
    fit,
    open_run,
    progress,
)
from glassnet.tensor import Tensor
from glassnet.train import GANSampleGrid, GANTrainer

NAME = "gan-ring"
STD = 0.02
DEFAULTS = {"epochs": 12, "lr": 2e-3, "batch_size": 128, "steps_per_epoch": 500, "loss": "non_saturating", "seed": 9}


def coverage(gan: GAN, n: int = 1000) -> tuple[int, float, list[int]]:
    """(modes covered, fraction within 3 std of a mode, samples per mode) of `n` samples drawn with a fixed seed."""
    return mode_coverage(gan.sample(n, generator=Generator(1234)).numpy(), ring_centers(8), STD)


class RingGANTrainer(GANTrainer):
    """GANTrainer whose evaluation is the ring's mode coverage (there is no held-out data to score a GAN on)."""

    def evaluate(self, loader: Any = None, _metrics: Any = None) -> dict[str, Any]:
        modes, fraction, _ = coverage(self.gan)
        return {"modes": modes, "within_3std": fraction}


def run(config: RecipeConfig) -> Path:
    """Train; the run folder gets the Trainer's files, sample grids, model.safetensors and results.json."""
    o = RECIPE.resolve(config)
    if config.data is not None:
        raise RecipeError(f"{NAME}: generates its own 2-D data; --data does not apply")
    if in_parallel_job():  # GANTrainer's two players are not wrapped in DistributedDataParallel
        raise RecipeError(f"{NAME}: GANTrainer does not train data-parallel; run it without --ranks")
    if o["loss"] not in ("non_saturating", "wgan-gp"):
        raise RecipeError(f"{NAME}: loss must be non_saturating or wgan-gp, got {o['loss']!r}")
    config.say(
        f"{NAME}: generates its data (8 gaussians on a ring, {o['steps_per_epoch'] * o['batch_size']:,} "
        "points); no data files needed"
    )
    manual_seed(o["seed"])
    gan = GAN(MLPGenerator(latent_dim=16, hidden=128), MLPDiscriminator(hidden=128))
    betas = (0.5, 0.999) if o["loss"] == "non_saturating" else (0.0, 0.9)
    opt_g = optim.Adam(gan.generator.parameters(), lr=o["lr"], betas=betas)
    opt_d = optim.Adam(gan.discriminator.parameters(), lr=o["lr"], betas=betas)
    points = ring_of_gaussians(o["steps_per_epoch"] * o["batch_size"], std=STD, seed=o["seed"]).astype(np.float32)
    shuffle = Generator(o["seed"])  # the loader's own, as in examples/gan_ring.py; kept in the checkpoints
    loader = DataLoader(TensorDataset(Tensor(points)), batch_size=o["batch_size"], shuffle=True, generator=shuffle)
    run_dir = open_run(config, NAME)
    trainer = RingGANTrainer(
        gan,
        opt_g,
        opt_d,
        loss=o["loss"],
        d_steps=1 if o["loss"] == "non_saturating" else 5,
        callbacks=[GANSampleGrid(n=500, every=max(1, o["epochs"] // 6)), KeepGeneratorState(shuffle), *progress()],
        run_dir=run_dir,
        config={"recipe": NAME, **o},
    )
    config.say(
        f"{NAME}: {count_parameters(gan):,} parameters; epochs={o['epochs']} of {o['steps_per_epoch']} steps, "
        f"lr={o['lr']} batch_size={o['batch_size']} loss={o['loss']}; run folder {run_dir.path}"
    )
    history = fit(trainer, loader, o["epochs"], config, NAME, val_loader=())
    modes, fraction, per_mode = coverage(gan)
    config.say(
        f"{NAME}: {modes}/8 modes covered; {fraction:.1%} of 1,000 samples within 3 std of a mode; per mode {per_mode}"
    )
    return finish(
        run_dir,
        gan,
        {
            "recipe": NAME,
            "epochs": len(history),
            "modes": modes,
            "fraction_within_3std": fraction,
            "per_mode": per_mode,
        },
        config.say,
    )


RECIPE = Recipe(
    NAME, "MLP GAN learning a ring of 8 2-D gaussians (GANTrainer; generated data)", run, DEFAULTS, data_parallel=False
)
