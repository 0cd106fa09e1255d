"""A DCGAN learns to draw MNIST digits; a LeNet-5 trained here judges whether the samples look like digits.

    python examples/dcgan_mnist.py --data ../shared/data          # MNIST IDX files (.gz) in that folder

Success (issue 5): a glassnet LeNet-5 classifies 1,000 generator samples into all 10 classes, with at least 70%
of them at confidence above 0.9. The judge is trained here (2 epochs) unless `--judge` names the weights of a
LeNet-5 trained on [0, 1] pixels, e.g. the 99% one of `examples/lenet_mnist.py --out runs/lenet-mnist`.
Sample grids per epoch go to OUT/artefacts/ (default runs/dcgan-mnist).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn
from glassnet.data import MNIST, DataLoader, TensorDataset
from glassnet.models import GAN, DCGANDiscriminator, DCGANGenerator, LeNet5
from glassnet.train import GANSampleGrid, GANTrainer, LambdaCallback, RunDir
from glassnet.train.gan import GeneratorEMA

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.environ.get("GLASSNET_DATA") or os.path.join(HERE, "..", "..", "shared", "data")


def train_judge(x: gn.Tensor, y: gn.Tensor, x_test: gn.Tensor, y_test: gn.Tensor, epochs: int = 2,
                seed: int = 0, verbose: bool = True) -> tuple[LeNet5, float]:
    """A LeNet-5 on real digits in [-1, 1] (the generator's range); returns it (in eval mode) and its test accuracy."""
    gn.manual_seed(seed)
    model = LeNet5()
    opt = gn.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True, generator=gn.Generator(seed))
    for epoch in range(epochs):
        model.train()
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        accuracy = evaluate(model, x_test, y_test)
        if verbose:
            print(f"judge LeNet-5 epoch {epoch + 1}: test accuracy {accuracy:.2%}")
    model.eval()
    return model, accuracy


def evaluate(model: nn.Module, x: gn.Tensor, y: gn.Tensor) -> float:
    """Accuracy of `model` on (x, y), in eval mode, in batches."""
    model.eval()
    correct = 0
    with gn.no_grad():
        for i in range(0, len(y), 1000):
            correct += int((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item())
    return correct / len(y)


class Rescale(nn.Module):
    """[-1, 1] (the generator's tanh range) → [0, 1] (the pixels a LeNet from examples/lenet_mnist.py learned on)."""

    def forward(self, x: gn.Tensor) -> gn.Tensor:
        return (x + 1) / 2


def judge_samples(judge: nn.Module, samples: gn.Tensor, confidence: float = 0.9) -> dict:
    """Classes the judge sees in the samples, and the fraction it classifies with probability above `confidence`."""
    with gn.no_grad():
        probs = F.softmax(judge(samples), dim=1).numpy()
    labels = probs.argmax(1)
    return {"classes": sorted(set(labels.tolist())), "per_class": np.bincount(labels, minlength=10).tolist(),
            "confident_fraction": float((probs.max(1) > confidence).mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--width", type=int, default=32, help="channels of the first conv layer (DCGAN uses 64)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/dcgan-mnist")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out up to --epochs in total")
    parser.add_argument("--lr", type=float, default=2e-4, help="both players' Adam learning rate (also on resume)")
    parser.add_argument("--judge", default=None,
                        help="weights of a LeNet-5 trained on pixels in [0, 1] (e.g. the model.safetensors that "
                             "examples/lenet_mnist.py saves) to judge with, instead of training one here")
    parser.add_argument("--ema", type=float, default=None,
                        help="judge the samples of a moving average of G's weights with this decay (e.g. 0.999)")
    args = parser.parse_args()

    x, y = MNIST(args.data, train=True).tensors()
    x_test, y_test = MNIST(args.data, train=False).tensors()
    if args.limit:
        x, y = x[: args.limit], y[: args.limit]
    x, x_test = x * 2 - 1, x_test * 2 - 1  # the generator's tanh range
    start = time.perf_counter()
    judge_path = os.path.join(args.out, "judge.safetensors")
    if args.judge is not None:  # a LeNet-5 trained on [0, 1] pixels: it sees samples and test images mapped there
        lenet = LeNet5()
        lenet.load_state_dict(gn.load(args.judge))
        judge = nn.Sequential(Rescale(), lenet).eval()
        judge_accuracy = evaluate(judge, x_test, y_test)
    elif os.path.isfile(judge_path):  # the judge of an earlier run in the same folder (e.g. before --resume)
        judge = LeNet5()
        judge.load_state_dict(gn.load(judge_path))
        judge_accuracy = evaluate(judge, x_test, y_test)
    else:
        judge, judge_accuracy = train_judge(x, y, x_test, y_test, seed=args.seed)
        os.makedirs(args.out, exist_ok=True)
        gn.save(judge.state_dict(), judge_path)

    gn.manual_seed(args.seed)
    gan = GAN(DCGANGenerator(latent_dim=64, width=args.width), DCGANDiscriminator(width=args.width))
    opt_g = gn.optim.Adam(gan.generator.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = gn.optim.Adam(gan.discriminator.parameters(), lr=args.lr, betas=(0.5, 0.999))
    loader = DataLoader(TensorDataset(x), batch_size=args.batch_size, shuffle=True, drop_last=True,
                        generator=gn.Generator(args.seed))
    eval_noise = gn.Generator(2024)

    ema = GeneratorEMA(args.ema) if args.ema else None

    def samples() -> gn.Tensor:
        if ema is None:
            return gan.sample(1000, generator=eval_noise.manual_seed(2024))
        with ema.applied():
            return gan.sample(1000, generator=eval_noise.manual_seed(2024))

    def report(epoch: int, logs: dict) -> None:
        j = judge_samples(judge, samples())
        print(f"epoch {epoch + 1}: D loss {logs['d_loss']:.3f}  G loss {logs['g_loss']:.3f}  classes seen "
              f"{len(j['classes'])}/10  confident (p > 0.9) {j['confident_fraction']:.1%}  "
              f"[{time.perf_counter() - start:.0f} s]", flush=True)

    def set_lr(logs: dict) -> None:  # after a resume has restored the optimisers' saved state
        for group in opt_g.param_groups + opt_d.param_groups:
            group["lr"] = args.lr

    trainer = GANTrainer(gan, opt_g, opt_d, run_dir=RunDir.open(args.out),
                         callbacks=[GANSampleGrid(n=64), LambdaCallback(on_fit_begin=set_lr, on_epoch_end=report)]
                         + ([ema] if ema else []))
    trainer.fit(loader, epochs=args.epochs, resume_from=args.out if args.resume else None)
    j = judge_samples(judge, samples())
    print(f"\njudge (LeNet-5) test accuracy {judge_accuracy:.2%}; of 1,000 samples: classes {j['classes']}, "
          f"per class {j['per_class']}, confident (p > 0.9) {j['confident_fraction']:.1%}; "
          f"{time.perf_counter() - start:.0f} s in all; grids in {args.out}/artefacts/")


if __name__ == "__main__":
    main()
