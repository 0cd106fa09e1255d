"""The lenet-mnist recipe in PyTorch, for a side-by-side comparison with glassnet (torch is a test-only dependency).

    python examples/lenet_mnist_torch.py                 # same data order, initial weights and hyper-parameters

Same as `examples/lenet_mnist.py`: LeNet-5 (ReLU, max-pooling) starting from glassnet's initial weights for the
seed, Adam 1.5e-3 with cosine decay over the epochs, batch 128, and the same shuffle each epoch
(`glassnet.recipes.epoch_order`). Only the arithmetic differs, so the two accuracies should be close.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from glassnet.recipes import default_data_dir, epoch_order, load_mnist_arrays


def torch_lenet(seed: int):
    """A torch LeNet-5 with glassnet's parameter names, holding glassnet's LeNet5 initial weights for `seed`."""
    import torch
    from torch import nn

    import glassnet as gn
    from glassnet.models.lenet import LeNet5

    model = nn.Module()
    model.features = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                                   nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
    model.classifier = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                                     nn.Linear(84, 10))
    model.forward = lambda x: model.classifier(model.features(x))
    gn.manual_seed(seed)
    state = {k: torch.from_numpy(v.numpy().copy()) for k, v in LeNet5().state_dict().items()}
    model.load_state_dict(state)
    return model


def train(epochs: int = 12, lr: float = 1.5e-3, batch_size: int = 128, seed: int = 0, data: str | None = None,
          limit: int | None = None, verbose: bool = True) -> dict:
    """Train the torch twin; return the per-epoch history (loss, test accuracy) and the seconds taken."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    x_train, y_train, x_test, y_test = (torch.from_numpy(a) for a in load_mnist_arrays(data, "lenet-mnist-torch",
                                                                                        limit))
    model = torch_lenet(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    history, start = [], time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order, total = torch.from_numpy(epoch_order(seed, epoch, len(x_train))), 0.0
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        schedule.step()
        model.eval()
        with torch.no_grad():
            accuracy = float(np.mean([(model(x_test[i : i + 1000]).argmax(1) == y_test[i : i + 1000]).float().mean()
                                      for i in range(0, len(x_test), 1000)]))
        history.append({"epoch": epoch + 1, "loss": total / len(order), "test_accuracy": accuracy})
        if verbose:
            print(f"epoch {epoch + 1:3d}/{epochs}   loss {total / len(order):.4f}   test acc {accuracy:.2%}   "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    return {"history": history, "seconds": time.perf_counter() - start, "model": model}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=default_data_dir(), help="directory holding the MNIST IDX(.gz) files")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1.5e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training and test images")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    result = train(args.epochs, args.lr, args.batch_size, args.seed, args.data, args.limit)
    print(f"final test accuracy {result['history'][-1]['test_accuracy']:.2%}   ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
