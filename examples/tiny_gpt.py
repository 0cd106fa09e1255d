"""A tiny GPT (4 layers, d_model 128, 4 heads, context 64) learns to write Shakespeare (last 10% validates).

    python examples/tiny_gpt.py                           # 4,000 steps: valid loss and a sample of generated text
    python examples/tiny_gpt.py --minutes 20              # a time budget: the lr schedule ends when it does
    glassnet train tiny-gpt --data ../shared/data         # the same code as a CLI recipe (an epoch is 100 steps)

Target (issue 5): validation loss at most 1.75 nats/char within 20 minutes on 2 cores. The training loop (random
windows, AdamW with warm-up + cosine decay, gradient clipping) is `glassnet.recipes.train_tiny_gpt`.
"""

from __future__ import annotations

import argparse

from glassnet.recipes import default_data_dir, train_tiny_gpt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=default_data_dir(), help="directory holding tinyshakespeare.txt")
    parser.add_argument("--steps", type=int, default=4000, help="training steps (rounded up to 100s)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--block-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--minutes", type=float, default=None, help="stop after the epoch that passes this budget")
    parser.add_argument("--sample", type=int, default=300, help="characters of generated text to print")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="save model and checkpoint here")
    args = parser.parse_args()
    per_epoch = min(100, args.steps)                    # a validation figure every 100 steps
    train_tiny_gpt(epochs=-(-args.steps // per_epoch), steps_per_epoch=per_epoch, lr=args.lr,
                   batch_size=args.batch_size, block_size=args.block_size, dropout=args.dropout, seed=args.seed,
                   data=args.data, out=args.out, minutes=args.minutes,
                   sample_chars=args.sample)


if __name__ == "__main__":
    main()
