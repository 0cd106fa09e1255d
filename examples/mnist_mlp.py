"""An MLP (784-512-256-10, ReLU, dropout 0.2) learns MNIST (IDX files in ../shared/data): ≥ 98.0% test accuracy.

    python examples/mnist_mlp.py                         # 12 epochs, Adam 1e-3 with cosine decay, batch 128
    glassnet train mnist-mlp --data ../shared/data       # the same recipe from the command line

The recipe is `glassnet/recipes/mnist_mlp.py` (a `Trainer` with callbacks); this script runs it on the full data.
"""

from __future__ import annotations

import argparse

from glassnet.recipes import RecipeConfig, default_data_dir, read_results, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=default_data_dir(), help="directory holding the MNIST IDX(.gz) files")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training and test images")
    parser.add_argument("--out", default=None, help="the run folder (default runs/mnist-mlp)")
    args = parser.parse_args()
    folder = run("mnist-mlp", RecipeConfig(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                                           seed=args.seed, data=args.data, out=args.out,
                                           options={"limit": args.limit}))
    results = read_results(folder)
    print(f"final test accuracy {results['test_accuracy']:.2%}   ({results['train_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
