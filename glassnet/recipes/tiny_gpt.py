"""tiny-gpt: a GPT (4 layers, d_model 128, 4 heads, context 64) writes Shakespeare: AdamW (weight decay 0.1 on
matrices), warm-up + cosine lr, gradient clipping at 1.

An epoch is `steps_per_epoch` (100) steps; the validation loss is the mean over non-overlapping 64-character windows
of the validation text (1.556 nats/char on the full text after 4,000 steps, README).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from glassnet import optim
from glassnet.models.gpt import GPT
from glassnet.random import manual_seed
from glassnet.recipes.common import Recipe, RecipeConfig, load_text
from glassnet.recipes.text import train_text_model, windows

NAME = "tiny-gpt"
DEFAULTS = {
    "epochs": 40,
    "lr": 2e-3,
    "batch_size": 32,
    "steps_per_epoch": 100,
    "block_size": 64,
    "n_layer": 4,
    "n_head": 4,
    "d_model": 128,
    "dropout": 0.0,
    "minutes": None,
    "eval_chars": 40_000,
    "sample_chars": 300,
}


def run(config: RecipeConfig) -> Path:
    """Train; the run folder gets the Trainer's files, model.safetensors, results.json and artefacts/sample.txt."""
    o = RECIPE.resolve(config)
    vocab, train_ids, _, note = load_text(config.data, NAME)
    config.say(f"{NAME}: {note}")
    manual_seed(o["seed"])  # weights, dropout and the training windows
    model = GPT(vocab.vocab_size, o["block_size"], o["n_layer"], o["n_head"], o["d_model"], o["dropout"])
    decay = [p for _, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for _, p in model.named_parameters() if p.ndim < 2]
    optimizer = optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=o["lr"],
        betas=(0.9, 0.99),
    )
    return train_text_model(
        NAME,
        model,
        optimizer,
        config,
        o,
        vocab,
        train_ids,
        note,
        window=o["block_size"],
        warmup=100,
        carry_state=False,
        valid_batches=partial(windows, block_size=o["block_size"]),
    )


RECIPE = Recipe(
    NAME,
    "a GPT (4 layers, d_model 128, 4 heads, context 64) on tiny Shakespeare (an epoch is 100 steps)",
    run,
    DEFAULTS,
)
