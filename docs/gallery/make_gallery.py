"""Write the picture gallery (docs/gallery/*.png): small real networks trained on bundled data, drawn with
glassnet.lens.plots.  Run from the repository root:  python docs/gallery/make_gallery.py [--out DIR]

Every picture comes from a network trained here, in about a minute on two CPU cores; docs/gallery.md shows them.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Callable

import numpy

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn
from glassnet.data import DataLoader, TensorDataset, load_digits, load_mnist_small, ring_of_gaussians, spiral
from glassnet.lens import Recorder, plots
from glassnet.models import LeNet5
from glassnet.train import EarlyStopping, Trainer
from glassnet.train.metrics import confusion_matrix

DPI = 80
OUT = os.path.dirname(os.path.abspath(__file__))
written: list[str] = []


def save(fig, name: str) -> None:
    """Write one picture as a palette PNG (64 colours keep the files small) and note its size."""
    from PIL import Image

    path = os.path.join(OUT, name)
    image = Image.open(io.BytesIO(plots.figure_to_png_bytes(fig, dpi=DPI))).convert("RGB")
    image.quantize(colors=64, method=Image.Quantize.FASTOCTREE).save(path, optimize=True)
    written.append(path)
    print(f"  {name:32s} {os.path.getsize(path) / 1024:5.1f} KB")


# ----- 2-D toy problem: decision regions and what each neuron computes -----------------------------------------------
def spiral_pictures() -> None:
    """A small tanh MLP (2-8-8-3) on a 3-arm spiral, trained by the Trainer."""
    gn.manual_seed(0)
    x, y = spiral(600, noise=0.15, n_classes=3, seed=0)
    x, y = gn.Tensor(numpy.asarray(x, numpy.float32)), gn.Tensor(numpy.asarray(y, numpy.int64))
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))
    trainer = Trainer(model, F.cross_entropy, gn.optim.Adam(model.parameters(), lr=0.02))
    trainer.fit(DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True), epochs=80)
    save(plots.plot_decision_boundary(model, x, y), "decision_boundary.png")
    save(plots.plot_neuron_activations(model, (-1.5, 1.5)), "neuron_activations.png")


# ----- overfitting on 150 digits: curves with early stopping, distributions over training ----------------------------
def digits_pictures() -> None:
    """A wide MLP on only 150 training digits overfits; EarlyStopping stops it and restores the best epoch, while a
    Recorder keeps histograms of weights, activations and gradients."""
    gn.manual_seed(6)
    x_train, y_train, x_test, y_test = load_digits()
    train = DataLoader(TensorDataset(x_train[:150], y_train[:150]), batch_size=30, shuffle=True)
    val = DataLoader(TensorDataset(x_test, y_test), batch_size=359)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    recorder = Recorder(every=5, histograms=True)
    stopper = EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
    trainer = Trainer(model, F.cross_entropy, gn.optim.Adam(model.parameters(), lr=3e-3), metrics=["accuracy"],
                      callbacks=[recorder, stopper])
    trainer.fit(train, epochs=200, val_loader=val)
    print(f"  digits: {len(trainer.history)} epochs, best epoch {stopper.best_epoch}, stopped {stopper.stopped_epoch}")
    save(plots.plot_history(trainer, metrics=("loss", "accuracy")), "history.png")
    for kind in ("weights", "activations", "gradients"):
        names = ["0.weight", "2.weight", "4.weight"] if kind != "activations" else None
        save(plots.plot_histograms(recorder.recording, kind=kind, names=names, max_panels=4),
             f"histograms_{kind}.png")


# ----- a deep sigmoid stack: gradients vanish towards the input ------------------------------------------------------
def gradient_flow_pictures() -> None:
    """Eight sigmoid layers on digits for 60 steps: the gradient norms shrink layer by layer towards the input."""
    gn.manual_seed(1)
    x_train, y_train, _, _ = load_digits()
    layers: list[nn.Module] = []
    width = 64
    for _ in range(8):
        layers += [nn.Linear(width, 32), nn.Sigmoid()]
        width = 32
    model = nn.Sequential(*layers, nn.Linear(32, 10))
    optimizer = gn.optim.SGD(model.parameters(), lr=0.1)
    recorder = Recorder(every=2).attach(model, optimizer)
    for _ in range(60):
        idx = gn.randint(0, len(x_train), (64,))
        loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
        optimizer.zero_grad()
        loss.backward()
        recorder.record_loss(loss)
        optimizer.step()
    recorder.detach()
    names = [n for n in recorder.recording.param_order if n.endswith("weight")]
    save(plots.plot_gradient_flow(recorder.recording, names=names), "gradient_flow.png")


# ----- a CNN on MNIST: filters, feature maps, confusion matrix, saliency and Grad-CAM ---------------------------------
def saliency_map(model: nn.Module, image: gn.Tensor, target: int) -> numpy.ndarray:
    """|∂ score / ∂ pixel|: how much each pixel moves the class score (plain gradient saliency via gn.grad)."""
    x = image.detach().clone().requires_grad_(True)
    (grad,) = gn.grad(model(x[None])[0, target], x)
    return numpy.abs(grad.numpy()).sum(0)


def grad_cam_map(model: nn.Module, layer: nn.Module, image: gn.Tensor, target: int) -> numpy.ndarray:
    """Grad-CAM (Selvaraju et al. 2017): the layer's channels weighted by their mean gradient, then ReLU."""
    captured: list[gn.Tensor] = []
    handle = layer.register_forward_hook(lambda mod, args, out: captured.append(out))
    try:
        score = model(image[None])[0, target]
    finally:
        handle.remove()
    (grad,) = gn.grad(score, captured[0])
    weights = grad.numpy()[0].mean(axis=(1, 2))
    return numpy.maximum((weights[:, None, None] * captured[0].detach().numpy()[0]).sum(0), 0)


def attribution_maps(model: nn.Module, layer: nn.Module, image: gn.Tensor, target: int):
    """Saliency and Grad-CAM from glassnet.lens.attribution, or the plain versions above where it is missing."""
    try:
        from glassnet.lens.attribution import grad_cam, saliency
    except ImportError:
        return saliency_map(model, image, target), grad_cam_map(model, layer, image, target)
    return saliency(model, image[None], target=target)[0], grad_cam(model, layer, image[None], target=target)[0]


def cnn_pictures() -> None:
    """LeNet-5 on 3,000 MNIST images for 3 epochs, then look inside it."""
    gn.manual_seed(2)
    x_train, y_train, x_test, y_test = load_mnist_small()
    model = LeNet5()
    trainer = Trainer(model, F.cross_entropy, gn.optim.Adam(model.parameters(), lr=2e-3), metrics=["accuracy"])
    trainer.fit(DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True), epochs=3)
    model.eval()
    with gn.no_grad():
        logits = model(x_test)
    accuracy = float((logits.argmax(1) == y_test).float().mean().item())
    print(f"  LeNet-5: test accuracy {accuracy:.1%} on {len(x_test)} images")
    save(plots.plot_filters(model.features[0]), "filters_conv1.png")
    save(plots.plot_filters(model.features[3]), "filters_conv2.png")
    save(plots.plot_feature_maps(model, "features.1", x_test[0]), "feature_maps.png")
    save(plots.plot_confusion_matrix(confusion_matrix(logits, y_test, 10)), "confusion_matrix.png")
    image, target = x_test[1], int(y_test[1].item())
    sal, cam = attribution_maps(model, model.features[3], image, target)
    save(plots.plot_attribution(image, sal, title=f"saliency |∂score/∂pixel| for class {target}"), "saliency.png")
    save(plots.plot_attribution(image, cam, title=f"Grad-CAM at the second conv layer, class {target}", alpha=0.55),
         "grad_cam.png")


# ----- attention: a 2-head Transformer layer learns to reverse digits ------------------------------------------------
class Reverser(nn.Module):
    """Digit embedding + sinusoidal positions → one encoder layer (2 heads) → digit logits per position."""

    def __init__(self, length: int = 8, d_model: int = 32, heads: int = 2) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, d_model)
        self.pos = nn.SinusoidalPositionalEncoding(d_model, max_len=length, batch_first=True)
        self.layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=64, dropout=0.0, batch_first=True)
        self.head = nn.Linear(d_model, 10)

    def forward(self, digits: gn.Tensor) -> gn.Tensor:
        return self.head(self.layer(self.pos(self.embed(digits))))


def attention_pictures() -> None:
    """Train the reverser for 500 Adam steps, then read both heads' attention for one example."""
    gn.manual_seed(3)
    rng = numpy.random.default_rng(3)
    model = Reverser()
    optimizer = gn.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(500):
        digits = rng.integers(0, 10, (64, 8))
        loss = F.cross_entropy(model(gn.Tensor(digits)).reshape(-1, 10), gn.Tensor(digits[:, ::-1].reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    example = rng.integers(0, 10, (1, 8))
    model.eval()
    model.layer.self_attn.keep_attn_weights = True
    with gn.no_grad():
        predicted = model(gn.Tensor(example)).argmax(-1).numpy()[0]
    weights = model.layer.self_attn.last_attn_weights.numpy()[0]  # (heads, L, S)
    model.layer.self_attn.keep_attn_weights = False
    print(f"  reverser: loss {loss.item():.3f}; {example[0].tolist()} -> {predicted.tolist()}")
    queries = [f"out{i}→{d}" for i, d in enumerate(predicted)]
    keys = [f"{d}" for d in example[0]]
    save(plots.plot_attention(weights, queries, keys), "attention.png")


# ----- GANs: samples over training --------------------------------------------------------------------------------
def gan_step(gen: nn.Module, disc: nn.Module, opt_g, opt_d, real: gn.Tensor, noise_dim: int) -> None:
    """One alternating step: the discriminator on real vs fake, then the generator (non-saturating loss)."""
    n = len(real)
    ones, zeros = gn.ones(n, 1), gn.zeros(n, 1)
    fake = gen(gn.randn(n, noise_dim))
    d_loss = (F.binary_cross_entropy_with_logits(disc(real), ones)
              + F.binary_cross_entropy_with_logits(disc(fake.detach()), zeros))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = F.binary_cross_entropy_with_logits(disc(gen(gn.randn(n, noise_dim))), ones)
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()


def mlp(sizes: list[int], activation: Callable[[], nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def gan_pictures() -> None:
    """A GAN on a ring of 8 gaussians (points over steps) and one on 8x8 digits (an image grid over steps)."""
    gn.manual_seed(4)
    noise_dim = 16
    gen, disc = mlp([noise_dim, 64, 64, 2], nn.ReLU), mlp([2, 64, 64, 1], lambda: nn.LeakyReLU(0.2))
    opt_g = gn.optim.Adam(gen.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = gn.optim.Adam(disc.parameters(), lr=2e-3, betas=(0.5, 0.999))
    real_all = numpy.asarray(ring_of_gaussians(1500 * 128, n_modes=8, std=0.02, seed=4), numpy.float32)
    fixed = gn.randn(600, noise_dim, generator=gn.Generator(7))
    snapshots = {}
    for step in range(1501):
        if step in (0, 200, 600, 1500):
            with gn.no_grad():
                snapshots[step] = gen(fixed).numpy()
        if step < 1500:
            gan_step(gen, disc, opt_g, opt_d, gn.Tensor(real_all[step * 128:(step + 1) * 128]), noise_dim)
    save(plots.plot_sample_grids_over_epochs(snapshots, label="step"), "gan_ring_over_steps.png")

    gn.manual_seed(5)
    x_train, _, _, _ = load_digits()
    real_digits = x_train.numpy() * 2 - 1  # to the generator's tanh range
    gen = nn.Sequential(mlp([noise_dim, 128, 128, 64], nn.ReLU), nn.Tanh())
    disc = mlp([64, 128, 1], lambda: nn.LeakyReLU(0.2))
    opt_g = gn.optim.Adam(gen.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = gn.optim.Adam(disc.parameters(), lr=1e-3, betas=(0.5, 0.999))
    fixed = gn.randn(32, noise_dim, generator=gn.Generator(8))
    grids = {}
    rng = numpy.random.default_rng(5)
    for step in range(1501):
        if step in (0, 300, 1500):
            with gn.no_grad():
                grids[step] = gen(fixed).numpy()
        if step < 1500:
            gan_step(gen, disc, opt_g, opt_d, gn.Tensor(real_digits[rng.integers(0, len(real_digits), 64)]),
                     noise_dim)
    save(plots.plot_sample_grids_over_epochs(grids, nrow=8, label="step"), "gan_digits_over_steps.png")
    save(plots.plot_sample_grid(grids[1500], nrow=8, title="GAN digits after 1,500 steps"), "gan_digits.png")


# ----- optimisers on the Rosenbrock valley -----------------------------------------------------------------------
def optimizer_pictures() -> None:
    fig = plots.plot_optimizer_paths()
    for run in fig.optimizer_paths.values():
        steps = len(run['loss']) - 1
        print(f"  {run['label']:20s} lr {run['lr']:<6g} loss after {steps} steps {run['loss'][-1]:.4f}")
    save(fig, "optimizer_paths.png")


SECTIONS = {"spiral": spiral_pictures, "digits": digits_pictures, "gradient_flow": gradient_flow_pictures,
            "cnn": cnn_pictures, "attention": attention_pictures, "gan": gan_pictures, "optimizers": optimizer_pictures}


def main(argv: list[str] | None = None) -> int:
    global OUT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=OUT, help="folder for the PNGs (default: next to this script)")
    parser.add_argument("--only", nargs="*", choices=sorted(SECTIONS), help="draw only these sections")
    args = parser.parse_args(argv)
    OUT = args.out
    os.makedirs(OUT, exist_ok=True)
    start = time.perf_counter()
    for name, section in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        t = time.perf_counter()
        print(f"{name}:")
        section()
        print(f"  ({time.perf_counter() - t:.1f} s)")
    total = sum(os.path.getsize(p) for p in written)
    print(f"{len(written)} pictures, {total / 1024:.0f} KB, {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
