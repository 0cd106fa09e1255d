"""Transfer learning, measured: a CNN pretrained on MNIST digits 0–4 learns digits 5–9 from 10, 50 or 100 labels each.

    python examples/transfer_mnist.py                     # full run (IDX files in ../shared/data or --data)
    python examples/transfer_mnist.py --quick             # about a minute: the bundled MNIST subset, few steps
    python examples/transfer_mnist.py --shots 1 2 5       # fewer labels still

Three ways to learn the new task, and a control, each on the same few labelled images (drawn per seed):

- frozen: the pretrained backbone (the two conv blocks) gets `requires_grad_(False)`; only a new linear head
  learns, on features computed once;
- fine-tuned: the new head first learns alone for half the steps (the backbone frozen), then the backbone is
  unfrozen and joins the optimiser as its own parameter group with a 10x smaller learning rate;
- scratch: the same network from a random initialisation, everything learning;
- random features (a control): like frozen, but the frozen backbone is randomly initialised, never trained — what
  is left of "frozen" when the pretraining is taken away.

Every method takes the same number of optimiser steps on batches of up to 50 of the few images.

Test accuracy is on every digit 5–9 of the MNIST test set (4,861 images); each setting is repeated over 3 seeds
and reported as mean ± std (over the seeds, ddof=0) in a Markdown table. The pretrained network is saved
(safetensors) in a temporary directory, not in the repository, and reused by later runs with the same settings.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable

import numpy as np

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn

OLD_DIGITS = (0, 1, 2, 3, 4)
NEW_DIGITS = (5, 6, 7, 8, 9)
METHODS = ("frozen", "fine-tuned", "scratch", "random features")
FEATURES = 16 * 7 * 7
HEAD_LR, SCRATCH_LR = 1e-2, 3e-3


def make_backbone() -> nn.Sequential:
    """The feature extractor: two conv-ReLU-pool blocks (28x28 digit → 784 features); a linear head follows."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 8 x 14 x 14
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 16 x 7 x 7
        nn.Flatten(),
    )


def make_pretraining_network() -> nn.Sequential:
    """Backbone + a 5-way head for the old digits: Sequential(backbone, head)."""
    return nn.Sequential(make_backbone(), nn.Linear(FEATURES, len(OLD_DIGITS)))


def load_data(data: str | None, quick: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST as float32 (N, 1, 28, 28) in [0, 1] and int64 labels: the IDX files in `data`, or with `quick` the
    3,000 + 1,000 images bundled in glassnet."""
    if quick:
        from glassnet.data import load_mnist_small

        return tuple(t.numpy() for t in load_mnist_small())
    from glassnet.data import MNIST
    from glassnet.recipes import default_data_dir

    root = data or default_data_dir()
    x_train, y_train = (t.numpy() for t in MNIST(root, train=True).tensors())
    x_test, y_test = (t.numpy() for t in MNIST(root, train=False).tensors())
    return x_train, y_train, x_test, y_test


def select_digits(x: np.ndarray, y: np.ndarray, digits: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The images of the given digits, relabelled 0..len(digits)-1 in that order."""
    keep = np.isin(y, digits)
    relabel = np.full(10, -1, dtype=np.int64)
    relabel[list(digits)] = np.arange(len(digits))
    return x[keep], relabel[y[keep]]


def few_shot_indices(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """`per_class` random indices of each class in y, drawn with `seed` (the same draw for every method)."""
    rng = np.random.default_rng(seed)
    picks = [rng.choice(np.flatnonzero(y == c), size=per_class, replace=False) for c in np.unique(y)]
    return np.concatenate(picks)


def train_steps(model: nn.Module, optimizer, x: np.ndarray, y: np.ndarray, steps: int, batch_size: int,
                rng: np.random.Generator, on_step: Callable[[int], None] | None = None) -> float:
    """`steps` Adam steps of cross-entropy on random minibatches of (x, y); returns the last loss."""
    model.train()
    loss = None
    for step in range(steps):
        if on_step is not None:
            on_step(step)
        idx = rng.choice(len(x), size=min(batch_size, len(x)), replace=False)
        loss = F.cross_entropy(model(gn.Tensor(x[idx])), gn.Tensor(y[idx]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return float(loss.item()) if loss is not None else float("nan")


def predict(model: nn.Module, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Class predictions of `model` on x, in batches, without recording a graph."""
    model.eval()
    out = []
    with gn.no_grad():
        for i in range(0, len(x), batch_size):
            out.append(model(gn.Tensor(x[i:i + batch_size])).numpy().argmax(1))
    return np.concatenate(out)


def pretrain(x: np.ndarray, y: np.ndarray, epochs: int, seed: int, lr: float = 1e-3,
             batch_size: int = 128, log: Callable[[str], None] = print) -> nn.Sequential:
    """Train backbone + a 5-way head on the old digits; return that network, Sequential(backbone, head)."""
    gn.manual_seed(seed)
    model = make_pretraining_network()
    optimizer = gn.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    steps = epochs * (len(x) // batch_size)
    t0 = time.perf_counter()

    def report(step: int) -> None:
        if step % 100 == 0:
            log(f"  pretraining step {step}/{steps}   ({time.perf_counter() - t0:.0f} s)")

    train_steps(model, optimizer, x, y, steps, batch_size, rng, on_step=report)
    return model


def load_or_pretrain(checkpoint: str | None, x: np.ndarray, y: np.ndarray, epochs: int, seed: int,
                     log: Callable[[str], None] = print) -> nn.Sequential:
    """The pretrained network from `checkpoint` if that file exists, else pretrain it (and save it there)."""
    if checkpoint and os.path.isfile(checkpoint):
        model = make_pretraining_network()
        model.load_state_dict(gn.load(checkpoint))
        log(f"pretrained network loaded from {checkpoint}")
        return model
    model = pretrain(x, y, epochs, seed, log=log)
    if checkpoint:
        os.makedirs(os.path.dirname(os.path.abspath(checkpoint)), exist_ok=True)
        gn.save(model.state_dict(), checkpoint)
        log(f"pretrained network saved to {checkpoint}")
    return model


def copy_backbone(pretrained: nn.Sequential) -> nn.Sequential:
    """A fresh backbone holding a copy of the pretrained weights (each few-shot run starts from the same point)."""
    backbone = make_backbone()
    backbone.load_state_dict(pretrained.state_dict())
    return backbone


def features(backbone: nn.Module, x: np.ndarray) -> np.ndarray:
    """The backbone's output for x, computed once without a graph (what a frozen backbone gives the head)."""
    backbone.eval()
    with gn.no_grad():
        return np.concatenate([backbone(gn.Tensor(x[i:i + 1000])).numpy() for i in range(0, len(x), 1000)])


def learn_new_task(method: str, pretrained: nn.Sequential, x: np.ndarray, y: np.ndarray, x_test: np.ndarray,
                   y_test: np.ndarray, steps: int, seed: int, test_features: np.ndarray | None = None,
                   batch_size: int = 50) -> float:
    """Learn the new digits from (x, y) by `method` (one of METHODS); return test accuracy.

    `test_features` (the pretrained backbone's features of x_test) saves recomputing them for each frozen run.
    Learning rates (Adam): a new head on fixed features 1e-2; the unfrozen pretrained backbone 1e-3 (10x smaller,
    so the few labels nudge the features rather than overwrite them); a network from scratch 3e-3."""
    if method not in METHODS:
        raise ValueError(f"learn_new_task: unknown method {method!r}; expected one of {METHODS}")
    gn.manual_seed(seed)
    rng = np.random.default_rng(seed)
    head = nn.Linear(FEATURES, len(NEW_DIGITS))
    if method == "scratch":
        model = nn.Sequential(make_backbone(), head)
        train_steps(model, gn.optim.Adam(model.parameters(), lr=SCRATCH_LR), x, y, steps, batch_size, rng)
        return float((predict(model, x_test) == y_test).mean())
    backbone = make_backbone() if method == "random features" else copy_backbone(pretrained)
    backbone.requires_grad_(False)                # the pretrained features stay as they are ...
    optimizer = gn.optim.Adam(head.parameters(), lr=HEAD_LR)
    head_steps = steps // 2 if method == "fine-tuned" else steps
    train_steps(head, optimizer, features(backbone, x), y, head_steps, batch_size, rng)
    if method == "random features":
        return float((predict(head, features(backbone, x_test)) == y_test).mean())
    if method == "frozen":
        if test_features is None:
            test_features = features(backbone, x_test)
        return float((predict(head, test_features) == y_test).mean())
    backbone.requires_grad_(True)                 # ... until, with a head that fits them, they may move gently
    optimizer.add_param_group({"params": list(backbone.parameters()), "lr": HEAD_LR / 10})
    model = nn.Sequential(backbone, head)
    train_steps(model, optimizer, x, y, steps - head_steps, batch_size, rng)
    return float((predict(model, x_test) == y_test).mean())


def run_experiment(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                   shots: tuple[int, ...] = (10, 50, 100), seeds: tuple[int, ...] = (0, 1, 2),
                   pretrain_epochs: int = 1, steps: int = 100, checkpoint: str | None = None,
                   log: Callable[[str], None] = print) -> dict:
    """Pretrain on digits 0–4, then learn 5–9 from `shots` labels per class by each method over `seeds`.

    Returns {"pretrain_accuracy": float, "accuracy": {(method, shots): [one accuracy per seed]}, "seconds": ...}."""
    t0 = time.perf_counter()
    x_old, y_old = select_digits(x_train, y_train, OLD_DIGITS)
    x_old_test, y_old_test = select_digits(x_test, y_test, OLD_DIGITS)
    x_new, y_new = select_digits(x_train, y_train, NEW_DIGITS)
    x_new_test, y_new_test = select_digits(x_test, y_test, NEW_DIGITS)
    log(f"pretraining on digits 0-4: {len(x_old)} images; new task 5-9 tested on {len(x_new_test)} images")
    pretrained = load_or_pretrain(checkpoint, x_old, y_old, pretrain_epochs, seed=1234, log=log)
    pretrain_accuracy = float((predict(pretrained, x_old_test) == y_old_test).mean())
    log(f"pretrained network on digits 0-4: test accuracy {pretrain_accuracy:.2%}")
    backbone = pretrained[0]
    test_features = features(backbone, x_new_test)
    accuracy: dict[tuple[str, int], list[float]] = {}
    for n in shots:
        for seed in seeds:
            idx = few_shot_indices(y_new, n, seed)
            for method in METHODS:
                acc = learn_new_task(method, backbone, x_new[idx], y_new[idx], x_new_test, y_new_test, steps, seed,
                                     test_features=test_features)
                accuracy.setdefault((method, n), []).append(acc)
                log(f"  {n:3d} per class, seed {seed}, {method:15s}: test accuracy {acc:.2%}   "
                    f"({time.perf_counter() - t0:.0f} s)")
    return {"pretrain_accuracy": pretrain_accuracy, "accuracy": accuracy, "shots": tuple(shots),
            "seeds": tuple(seeds), "seconds": time.perf_counter() - t0}


def markdown_table(result: dict) -> str:
    """The accuracies as a Markdown table: one row per labels-per-class, one column per method (mean ± std)."""
    lines = ["| labelled images per class | " + " | ".join(METHODS) + " |",
             "|---:|" + "---:|" * len(METHODS)]
    for n in result["shots"]:
        cells = []
        for method in METHODS:
            accs = np.array(result["accuracy"][(method, n)]) * 100
            cells.append(f"{accs.mean():.1f} ± {accs.std():.1f} %")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def default_checkpoint(pretrain_epochs: int, quick: bool) -> str:
    """Where the pretrained backbone is kept between runs: the system's temporary directory."""
    name = f"backbone-0to4-{'quick' if quick else 'full'}-{pretrain_epochs}ep.safetensors"
    return os.path.join(tempfile.gettempdir(), "glassnet-transfer-mnist", name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="directory holding the MNIST IDX(.gz) files "
                        "(default $GLASSNET_DATA, else ../shared/data)")
    parser.add_argument("--quick", action="store_true", help="bundled MNIST subset, 1 seed, few steps")
    parser.add_argument("--pretrain-epochs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=100, help="optimiser steps on the new task per run")
    parser.add_argument("--shots", type=int, nargs="+", default=[10, 50, 100],
                        help="labelled images per class for the new task (default 10 50 100)")
    parser.add_argument("--seeds", type=int, default=3, help="repeats of each setting (default 3)")
    parser.add_argument("--checkpoint", default=None, help="pretrained network file (reused when it exists; "
                        "default in the system's temporary directory)")
    args = parser.parse_args()
    steps = 30 if args.quick else args.steps
    seeds = (0,) if args.quick else tuple(range(args.seeds))
    epochs = 5 if args.quick else args.pretrain_epochs
    checkpoint = args.checkpoint or default_checkpoint(epochs, args.quick)
    result = run_experiment(*load_data(args.data, args.quick), shots=tuple(args.shots), seeds=seeds,
                            pretrain_epochs=epochs, steps=steps, checkpoint=checkpoint)
    print(f"\npretrained network on digits 0-4: test accuracy {result['pretrain_accuracy']:.2%}")
    print(f"digits 5-9, test accuracy over {len(seeds)} seed(s), {steps} steps per run:\n")
    print(markdown_table(result))
    print(f"\n({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
