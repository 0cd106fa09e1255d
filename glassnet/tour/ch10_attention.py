"""Chapter 10 of the tour: a one-layer Transformer learns to reverse digits, and we read its attention."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn
from glassnet.tour import figure, print_table, progress

TITLE = "Attention in a small Transformer"
TEXT = """
Attention lets every position of a sequence look at every other position and take a weighted
average of what it finds; the weights (which sum to 1) come from how well a "query" at one position
matches a "key" at another. Since attention by itself ignores order, a positional encoding is added
to each input so the network knows where each token sits. Below, a single Transformer encoder layer
with one attention head learns to reverse a sequence of 8 digits: output position i must copy input
position 7 - i. To do that, the attention must learn to look at exactly the mirrored position, and
we can read that straight from the attention weights.
"""

LENGTH = 8


class Reverser(nn.Module):
    """Digit embedding + sinusoidal positional encoding -> one encoder layer (1 head) -> digit logits per position."""

    def __init__(self, d_model: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, d_model)
        self.pos = nn.SinusoidalPositionalEncoding(d_model, max_len=LENGTH, batch_first=True)
        self.layer = nn.TransformerEncoderLayer(d_model, 1, dim_feedforward=64, dropout=0.0, batch_first=True)
        self.head = nn.Linear(d_model, 10)

    def forward(self, digits: gn.Tensor) -> gn.Tensor:
        return self.head(self.layer(self.pos(self.embed(digits))))


def run(quick: bool = False, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Train the reverser with Adam on random digit strings; return accuracy and the attention of one example."""
    gn.manual_seed(10)
    rng = numpy.random.default_rng(10)
    model = Reverser()
    optimizer = gn.optim.Adam(model.parameters(), lr=3e-3)
    steps = 300 if quick else 1500
    batch = 64
    test_x = rng.integers(0, 10, (1000, LENGTH))
    test_y = test_x[:, ::-1].copy()
    n_params = sum(p.numel() for p in model.parameters())
    say(f"  task: reverse {LENGTH} random digits; one encoder layer, 1 head, d_model 32, {n_params:,} weights; "
        f"{steps} Adam steps on batches of {batch}")
    rows = []
    report_every = max(1, steps // 5)

    def accuracy() -> tuple[float, float]:
        model.eval()
        with gn.no_grad():
            pred = model(gn.Tensor(test_x)).argmax(-1).numpy()
        model.train()
        return float((pred == test_y).mean()), float((pred == test_y).all(1).mean())

    bar = progress(range(steps), desc="chapter 10: attention")
    for step in bar:
        x = rng.integers(0, 10, (batch, LENGTH))
        y = x[:, ::-1].copy()
        logits = model(gn.Tensor(x))
        loss = F.cross_entropy(logits.reshape(-1, 10), gn.Tensor(y.reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (step + 1) % report_every == 0:
            digit_acc, seq_acc = accuracy()
            rows.append([step + 1, loss.item(), digit_acc, seq_acc])
            bar.set_postfix_str(f"digits right {digit_acc:.1%}")
    digit_acc, seq_acc = accuracy()
    # Read the attention for one example.
    example = test_x[:1]
    model.layer.self_attn.keep_attn_weights = True
    model.eval()
    with gn.no_grad():
        pred = model(gn.Tensor(example)).argmax(-1).numpy()[0]
    weights = model.layer.self_attn.last_attn_weights.numpy()[0, 0]  # (L, S), the one head
    model.layer.self_attn.keep_attn_weights = False
    looks_at = weights.argmax(1)
    train_columns = ["step", "loss", "digits right", "whole sequences right"]
    train_kinds = ["int", None, "percent", "percent"]
    print_table(say, train_columns, rows, train_kinds)
    mirrored = float(numpy.mean(looks_at == numpy.arange(LENGTH)[::-1]))
    attn_rows = [[i, int(pred[i]), int(looks_at[i]), int(example[0, looks_at[i]]), float(weights[i, looks_at[i]])]
                 for i in range(LENGTH)]
    attn_columns = ["output pos", "predicted digit", "attends most to input pos", "input digit there", "weight"]
    say(f"\n  one example: input {' '.join(map(str, example[0]))}  ->  output {' '.join(map(str, pred))}")
    say("  where each output position looks (the largest attention weight):")
    print_table(say, attn_columns, attn_rows, ["int", "int", "int", "int", "percent"])
    say("\n  full attention matrix (rows: output position, columns: input position):")
    print_table(say, ["out\\in"] + [str(j) for j in range(LENGTH)],
                [[i] + [f"{w:.2f}" for w in weights[i]] for i in range(LENGTH)])
    say(f"\n  {mirrored:.1%} of output positions attend most to the mirrored input position (7 - i)")

    def heatmap():
        from glassnet.lens.plots import plot_attention

        return plot_attention(weights, query_tokens=[f"{i}→{d}" for i, d in enumerate(pred)],
                              key_tokens=[f"{j}:{d}" for j, d in enumerate(example[0])])

    return {
        "results": {"steps": steps, "params": n_params, "digit_accuracy": digit_acc, "sequence_accuracy": seq_acc,
                    "attends_to_mirror_fraction": mirrored,
                    "attention_argmax": [int(j) for j in looks_at]},
        "headlines": [("digit_accuracy", "digits right", "percent"),
                      ("sequence_accuracy", "whole sequences right", "percent"),
                      ("attends_to_mirror_fraction", "positions looking at their mirror", "percent")],
        "tables": [
            {"title": "Reversing 8 digits: training", "columns": train_columns, "rows": rows, "kinds": train_kinds},
            {"title": "Which input position each output position attends to most (one example)",
             "columns": attn_columns, "rows": attn_rows, "kinds": ["int", "int", "int", "int", "percent"]},
        ],
        "figures": [figure("where each output position looks", heatmap,
                           f"one example, input {' '.join(map(str, example[0]))}: rows are output positions "
                           "(position→digit written), columns input positions (position:digit); a bright "
                           "anti-diagonal is the reversal")],
    }
