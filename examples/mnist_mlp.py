"""An MLP (784-512-256-10, ReLU, dropout 0.2) learns MNIST (IDX files in ../shared/data): ≥ 98.0% test accuracy.

    python examples/mnist_mlp.py                         # 12 epochs, Adam 1e-3 with cosine decay, batch 128
    glassnet train mnist-mlp --data ../shared/data       # the same code as a CLI recipe

The training loop is `glassnet.recipes.train_mnist_mlp`; the model is `glassnet.recipes.mnist_mlp_model`.
"""

from __future__ import annotations

import argparse

from glassnet.recipes import default_data_dir, train_mnist_mlp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=default_data_dir(), help="directory holding the MNIST IDX(.gz) files")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training and test images")
    parser.add_argument("--out", default=None, help="save model and checkpoint here")
    args = parser.parse_args()
    result = train_mnist_mlp(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
                               data=args.data, out=args.out, limit=args.limit)
    print(f"final test accuracy {result['history'][-1]['test_accuracy']:.2%}   ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
