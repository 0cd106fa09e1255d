"""A character-level LSTM learns to write Shakespeare (tiny Shakespeare; the last 10% of the text validates).

    python examples/char_lstm.py                          # 3,000 steps: valid loss and a sample of generated text
    python examples/char_lstm.py --minutes 30             # a time budget: training stops when it is spent
    glassnet train char-lstm --data ../shared/data        # the same recipe as a command (an epoch is 100 steps)

Target (issue 5): validation loss at most 1.60 nats/char within 30 minutes on 2 cores. The recipe (random windows,
Adam with warm-up + cosine decay, gradient clipping, on a `Trainer`) is `glassnet/recipes/char_lstm.py`.
"""

from __future__ import annotations

import argparse

from glassnet.recipes import RecipeConfig, default_data_dir, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=default_data_dir(), help="directory holding tinyshakespeare.txt")
    parser.add_argument("--steps", type=int, default=3000, help="training steps (rounded up to 100s)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--minutes", type=float, default=None, help="stop training when this budget is spent")
    parser.add_argument("--sample", type=int, default=300, help="characters of generated text to print")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="the run folder (default runs/char-lstm)")
    args = parser.parse_args()
    per_epoch = min(100, args.steps)                    # a validation figure every 100 steps
    run("char-lstm", RecipeConfig(epochs=-(-args.steps // per_epoch), lr=args.lr, batch_size=args.batch_size,
                                  seed=args.seed, data=args.data, out=args.out,
                                  options={"steps_per_epoch": per_epoch, "seq_len": args.seq_len,
                                           "hidden_size": args.hidden, "num_layers": args.layers,
                                           "minutes": args.minutes, "sample_chars": args.sample}))


if __name__ == "__main__":
    main()
