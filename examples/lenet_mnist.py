"""LeNet-5 learns MNIST (the IDX files in ../shared/data): ≥ 99.0% test accuracy; LeCun et al. (1998) report 99.05%.

    python examples/lenet_mnist.py                       # 12 epochs, Adam 1.5e-3 with cosine decay, batch 128
    python examples/lenet_mnist_torch.py                 # the same recipe in PyTorch, for comparison
    glassnet train lenet-mnist --data ../shared/data     # the same recipe from the command line

The recipe is `glassnet/recipes/lenet_mnist.py` (a `Trainer` with callbacks); this script runs it on the full data.
"""

from __future__ import annotations

import argparse

from glassnet.recipes import RecipeConfig, default_data_dir, read_results, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=default_data_dir(), help="directory holding the MNIST IDX(.gz) files")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1.5e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training and test images")
    parser.add_argument("--out", default=None, help="the run folder (default runs/lenet-mnist)")
    args = parser.parse_args()
    folder = run("lenet-mnist", RecipeConfig(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                                             seed=args.seed, data=args.data, out=args.out,
                                             options={"limit": args.limit}))
    results = read_results(folder)
    print(f"final test accuracy {results['test_accuracy']:.2%}   ({results['train_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
