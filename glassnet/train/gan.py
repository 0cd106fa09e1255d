"""Adversarial training on the Trainer: alternating discriminator/generator steps, the non-saturating and
Wasserstein (WGAN-GP) losses, and sample grids saved per epoch.

`GANTrainer(gan, opt_g, opt_d).fit(loader, epochs)` trains a `glassnet.models.GAN` (any generator with a
`latent_dim` and any discriminator returning one logit/score per sample). Each batch of real data gives
`d_steps` discriminator updates and then one generator update; everything else (callbacks, History, run folder,
checkpoints with both optimisers, resume) is the Trainer's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy

from glassnet.autograd import grad, no_grad
from glassnet.creation import rand
from glassnet.random import Generator
from glassnet.tensor import Tensor
from glassnet.train.callbacks import Callback
from glassnet.train.trainer import Trainer

LOSSES = ("non_saturating", "wgan-gp")


def gradient_penalty(discriminator: Any, real: Tensor, fake: Tensor, generator: Generator | None = None,
                     eps: Tensor | None = None) -> Tensor:
    """WGAN-GP's penalty E[(‖∇ₓ̂ D(x̂)‖₂ − 1)²] on random interpolates x̂ = ε·real + (1 − ε)·fake
    (Gulrajani et al. 2017, "Improved training of Wasserstein GANs").

    The gradient is taken with `create_graph=True`, so the penalty is itself differentiable: backpropagating it
    into D's weights is a second-order derivative, which the engine provides for every op. `eps` (shape
    (N, 1, ...)) fixes the mixing weights instead of drawing them.
    """
    if tuple(real.shape) != tuple(fake.shape):
        raise ValueError(f"gradient_penalty: real {tuple(real.shape)} and fake {tuple(fake.shape)} differ in shape")
    if eps is None:  # one mixing weight per sample, broadcast over its features
        eps = rand(real.shape[0], *([1] * (real.ndim - 1)), generator=generator, dtype=real.dtype, device=real.device)
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = discriminator(mixed)
    (g,) = grad(scores.sum(), [mixed], create_graph=True)
    norms = (g.reshape(g.shape[0], -1).square().sum(1) + 1e-12).sqrt()
    return ((norms - 1) ** 2).mean()


class GANTrainer(Trainer):
    """Train a GAN with alternating updates on the Trainer's event stream.

    Args:
        gan: a `glassnet.models.GAN` (generator + discriminator + their standard losses).
        opt_g: the generator's optimiser (over the generator's parameters).
        opt_d: the discriminator's optimiser (over the discriminator's parameters).
        loss: "non_saturating" (D: BCE on real/fake; G: −log D(G(z))) or "wgan-gp" (D: mean D(fake) − mean D(real)
            + gp_weight · gradient penalty; G: −mean D(G(z))).
        d_steps: discriminator updates per batch (WGAN-GP commonly uses 5).
        gp_weight: λ of the gradient penalty.
        callbacks: as for `Trainer`.
        run_dir: as for `Trainer`.
        config: as for `Trainer`.

    Each step logs `d_loss`, `g_loss` (and `gp` for WGAN-GP); `loss` is the generator's loss.
    """

    def __init__(self, gan: Any, opt_g: Any, opt_d: Any, loss: str = "non_saturating", d_steps: int = 1,
                 gp_weight: float = 10.0, callbacks: Any = (), run_dir: Any = None,
                 config: dict[str, Any] | None = None) -> None:
        if loss not in LOSSES:
            raise ValueError(f"GANTrainer: loss must be one of {LOSSES}, got {loss!r}")
        if not isinstance(d_steps, int) or d_steps < 1:
            raise ValueError(f"GANTrainer: d_steps must be a positive int, got {d_steps!r}")
        for name in ("generator", "discriminator", "noise"):
            if not hasattr(gan, name):
                raise TypeError(f"GANTrainer: expected a glassnet.models.GAN (with {name}), got {type(gan).__name__}")
        super().__init__(gan, None, {"g": opt_g, "d": opt_d}, callbacks=callbacks, run_dir=run_dir,
                         config={"gan_loss": loss, "d_steps": d_steps, "gp_weight": gp_weight, **(config or {})})
        self.gan, self.opt_g, self.opt_d = gan, opt_g, opt_d
        self.loss_name, self.d_steps, self.gp_weight = loss, d_steps, float(gp_weight)

    def _discriminator_loss(self, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor | None]:
        if self.loss_name == "non_saturating":
            return self.gan.discriminator_loss(real, fake), None
        d = self.gan.discriminator
        penalty = gradient_penalty(d, real, fake)
        return d(fake).mean() - d(real).mean() + self.gp_weight * penalty, penalty

    def _generator_loss(self, fake: Tensor) -> Tensor:
        if self.loss_name == "non_saturating":
            return self.gan.generator_loss(fake)
        return -self.gan.discriminator(fake).mean()

    def train_step(self, batch: Any) -> dict[str, Any]:
        """`d_steps` discriminator updates on this batch of real data, then one generator update."""
        real = batch[0] if isinstance(batch, (tuple, list)) else batch
        if not isinstance(real, Tensor):
            real = Tensor(numpy.asarray(real, dtype=numpy.float32))
        n = real.shape[0]
        for _ in range(self.d_steps):
            with no_grad():
                fake = self.gan.generator(self.gan.noise(n))
            d_loss, penalty = self._discriminator_loss(real, fake)
            self.opt_d.zero_grad()
            d_loss.backward()
            self.opt_d.step()
        g_loss = self._generator_loss(self.gan.generator(self.gan.noise(n)))
        self.opt_g.zero_grad()
        self.opt_d.zero_grad()  # D's grads from G's loss are not used: D is updated only on its own loss
        g_loss.backward()
        self.callbacks.on_after_backward(self)
        self.opt_g.step()
        out = {"loss": g_loss.detach(), "d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "output": None}
        if penalty is not None:
            out["gp"] = penalty.detach()
        return out

    def eval_step(self, batch: Any) -> dict[str, Any]:
        """Both players' losses on a batch of held-out real data (no update)."""
        real = batch[0] if isinstance(batch, (tuple, list)) else batch
        fake = self.gan.generator(self.gan.noise(real.shape[0]))
        d_loss = (self.gan.discriminator_loss(real, fake) if self.loss_name == "non_saturating"
                  else self.gan.discriminator(fake).mean() - self.gan.discriminator(real).mean())
        return {"loss": self._generator_loss(fake), "d_loss": d_loss, "output": None, "target": None}


class GeneratorEMA(Callback):
    """Keep an exponential moving average of the generator's weights, θ̄ ← d·θ̄ + (1 − d)·θ after every batch
    (Yazıcı et al. 2019, "The unusual effectiveness of averaging in GAN training"): the averaged generator's
    samples are usually cleaner than the last iterate's, which oscillates around the game's equilibrium.

    `with ema.applied(): gan.sample(n)` samples with the averaged weights and puts the trained ones back.
    """

    def __init__(self, decay: float = 0.999) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"GeneratorEMA: decay must be in (0, 1), got {decay!r}")
        self.decay = decay
        self.average: dict[str, numpy.ndarray] | None = None

    def _params(self) -> dict[str, Any]:
        return dict(self.trainer.model.generator.named_parameters())

    def on_fit_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.average is None:
            self.average = {k: p.data.copy() for k, p in self._params().items()}

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        d = self.decay
        for k, p in self._params().items():
            avg = self.average[k]
            avg *= d
            avg += (1 - d) * p.data

    def applied(self):
        """A context in which the generator holds the averaged weights."""
        import contextlib

        @contextlib.contextmanager
        def swap():
            if self.average is None:
                raise RuntimeError("GeneratorEMA: no average yet (it starts when fit begins)")
            params = self._params()
            trained = {k: p.data.copy() for k, p in params.items()}
            try:
                for k, p in params.items():
                    p.data[...] = self.average[k]
                yield
            finally:
                for k, p in params.items():
                    p.data[...] = trained[k]

        return swap()

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "average": dict(self.average or {})}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.decay = float(state["decay"])
        self.average = {k: numpy.array(v.numpy() if hasattr(v, "numpy") else v) for k, v in state["average"].items()}
        self.average = self.average or None


def tile_images(images: numpy.ndarray, nrow: int = 8, pad: int = 1) -> numpy.ndarray:
    """(N, C, H, W) or (N, H, W) images → one (rows·(H+pad), nrow·(W+pad)) grey or RGB grid in [0, 1]."""
    a = numpy.asarray(images, dtype=numpy.float32)
    if a.ndim == 4:
        a = a[:, 0] if a.shape[1] == 1 else a.transpose(0, 2, 3, 1)
    if a.ndim not in (3, 4) or len(a) == 0:
        raise ValueError(f"tile_images: expected (N, C, H, W) or (N, H, W) images, got shape {numpy.shape(images)}")
    lo, hi = float(a.min()), float(a.max())
    a = (a - lo) / (hi - lo) if hi > lo else numpy.zeros_like(a)
    n, h, w = a.shape[:3]
    rows = -(-n // nrow)
    grid = numpy.ones((rows * (h + pad) + pad, nrow * (w + pad) + pad) + a.shape[3:], dtype=numpy.float32)
    for i in range(n):
        r, c = divmod(i, nrow)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = a[i]
    return grid


class GANSampleGrid(Callback):
    """Save the generator's samples for a fixed noise batch at the end of every `every` epochs.

    Writes `samples-epoch{E:03d}.npy` (plain arrays, no pickle) and, when matplotlib is installed, a PNG beside it:
    a tiled grid for images, a scatter plot for 2-D points. The folder defaults to the run's artefacts/.
    The arrays are also kept in `self.samples` ({epoch: array}) for plots of samples over epochs.
    """

    def __init__(self, folder: str | os.PathLike | None = None, n: int = 64, every: int = 1, seed: int = 0,
                 nrow: int = 8, keep: bool = True) -> None:
        if n < 1 or every < 1:
            raise ValueError(f"GANSampleGrid: n and every must be positive, got n={n}, every={every}")
        self.folder = None if folder is None else Path(folder)
        self.n, self.every, self.seed, self.nrow, self.keep = n, every, seed, nrow, keep
        self.samples: dict[int, numpy.ndarray] = {}
        self.written: list[Path] = []

    def _target(self) -> Path | None:
        if self.folder is not None:
            return self.folder
        run_dir = getattr(self.trainer, "run_dir", None)
        return None if run_dir is None else Path(run_dir.artefacts)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if (epoch + 1) % self.every:
            return
        gan = self.trainer.model
        points = gan.sample(self.n, generator=Generator(self.seed)).numpy()
        if self.keep:
            self.samples[epoch] = points
        folder = self._target()
        if folder is None:
            return
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"samples-epoch{epoch:03d}"
        numpy.save(f"{stem}.npy", points, allow_pickle=False)
        self.written.append(Path(f"{stem}.npy"))
        png = _save_png(points, f"{stem}.png", self.nrow, f"epoch {epoch}")
        if png is not None:
            self.written.append(png)


def _save_png(points: numpy.ndarray, path: str, nrow: int, title: str) -> Path | None:
    """Write samples as a PNG (image grid or 2-D scatter); None when matplotlib is not installed."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.image import imsave
    except ImportError:
        return None
    if points.ndim == 2 and points.shape[1] == 2:
        fig = Figure(figsize=(3, 3), dpi=80)
        ax = fig.add_subplot()
        ax.scatter(points[:, 0], points[:, 1], s=4)
        ax.set_title(title)
        ax.set_aspect("equal")
        fig.savefig(path)
    else:
        imsave(path, tile_images(points, nrow), cmap="gray")
    return Path(path)


__all__ = ["GANSampleGrid", "GANTrainer", "GeneratorEMA", "LOSSES", "gradient_penalty", "tile_images"]
