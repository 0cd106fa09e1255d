"""A tiny GPT (4 layers, d_model 128, 4 heads, context 64) learns to write Shakespeare (last 10% validates).

    python examples/tiny_gpt.py                           # 4,000 steps: valid loss and a sample of generated text
    python examples/tiny_gpt.py --minutes 20              # a time budget: training stops when it is spent
    glassnet train tiny-gpt --data ../shared/data         # the same recipe as a command (an epoch is 100 steps)

Target (issue 5): validation loss at most 1.75 nats/char within 20 minutes on 2 cores. The recipe (random windows,
AdamW with warm-up + cosine decay, gradient clipping, on a `Trainer`) is `glassnet/recipes/tiny_gpt.py`.
"""

from __future__ import annotations

import argparse

from glassnet.recipes import RecipeConfig, default_data_dir, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=default_data_dir(), help="directory holding tinyshakespeare.txt")
    parser.add_argument("--steps", type=int, default=4000, help="training steps (rounded up to 100s)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--block-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--minutes", type=float, default=None, help="stop training when this budget is spent")
    parser.add_argument("--sample", type=int, default=300, help="characters of generated text to print")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="the run folder (default runs/tiny-gpt)")
    args = parser.parse_args()
    per_epoch = min(100, args.steps)                    # a validation figure every 100 steps
    run("tiny-gpt", RecipeConfig(epochs=-(-args.steps // per_epoch), lr=args.lr, batch_size=args.batch_size,
                                 seed=args.seed, data=args.data, out=args.out,
                                 options={"steps_per_epoch": per_epoch, "block_size": args.block_size,
                                          "dropout": args.dropout, "minutes": args.minutes,
                                          "sample_chars": args.sample}))


if __name__ == "__main__":
    main()
