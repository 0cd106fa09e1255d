"""When do DataLoader worker processes help? One epoch of a small MLP on the bundled MNIST subset, batch 64, with
num_workers = 0, 1, 2, for two kinds of dataset:

- "decoded + augmented": each sample is stored zlib-compressed and, when asked for, decompressed, shifted by a
  random offset, blurred and normalised in Python/NumPy (the work a real image pipeline does per sample);
- "in memory": a TensorDataset, whose batches are one fancy index (the fast path).

    python -m bench.dataloader            # about a minute on a 2-core machine
    python -m bench.dataloader --quick    # smoke test

Each setting runs `--rounds` times, alternating; the table gives the median seconds per epoch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import zlib

import numpy

import glassnet as gn
from glassnet import nn
from glassnet.data import DataLoader, Dataset, TensorDataset, load_mnist_small


class DecodedAugmented(Dataset):
    """MNIST images kept compressed; each access decodes, shifts (random, up to 2 px), blurs and normalises."""

    def __init__(self, images: numpy.ndarray, labels: numpy.ndarray):
        self.blobs = [zlib.compress(img.tobytes(), 6) for img in images]
        self.labels = labels

    def __len__(self) -> int:
        return len(self.blobs)

    def __getitem__(self, i: int):
        img = numpy.frombuffer(zlib.decompress(self.blobs[i]), dtype=numpy.float32).reshape(28, 28)
        dy, dx = numpy.random.randint(-2, 3, size=2)
        img = numpy.roll(img, (int(dy), int(dx)), axis=(0, 1))
        padded = numpy.pad(img, 1, mode="edge")
        blurred = sum(padded[a : a + 28, b : b + 28] for a in range(3) for b in range(3)) / 9.0
        return ((blurred - 0.1307) / 0.3081).reshape(784).astype(numpy.float32), int(self.labels[i])


def epoch_seconds(dataset: Dataset, workers: int) -> float:
    """Wall time of one training epoch (loading included) with `workers` worker processes."""
    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = gn.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(dataset, batch_size=64, shuffle=True, num_workers=workers)
    start = time.perf_counter()
    for x, y in loader:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="DataLoader worker processes: when they help")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    x_train, y_train, _, _ = load_mnist_small(flatten=True)
    images, labels = x_train.numpy().reshape(-1, 28, 28), y_train.numpy()
    if args.quick:
        images, labels, args.rounds = images[:256], labels[:256], 1
    datasets = {
        "decoded + augmented": DecodedAugmented(images, labels),
        "in memory (TensorDataset)": TensorDataset(gn.tensor(images.reshape(-1, 784)), gn.tensor(labels)),
    }
    settings = (0, 1, 2)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"bench.dataloader: {len(labels)} images, batch 64, {cores} cores, {gn.get_num_threads()} BLAS thread(s); "
        f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
        flush=True,
    )
    print("\n| dataset | " + " | ".join(f"num_workers={w}" for w in settings) + " |\n|---|" + "---|" * len(settings))
    for name, dataset in datasets.items():
        times: dict[int, list[float]] = {w: [] for w in settings}
        for r in range(args.rounds):
            for w in settings[r % 3 :] + settings[: r % 3]:
                times[w].append(epoch_seconds(dataset, w))
        medians = {w: statistics.median(t) for w, t in times.items()}
        cells = [f"{medians[w]:.2f} s ({medians[0] / medians[w]:.2f}x)" for w in settings]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
