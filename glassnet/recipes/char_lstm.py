"""char-lstm: a character LSTM (CharRNN) writes Shakespeare: Adam, warm-up + cosine lr, gradient clipping at 1.

An epoch is `steps_per_epoch` (100) steps on random 100-character windows; the validation loss (nats/char, the
state carried along the text) after each is taken on the first `eval_chars` validation characters, and at the end
on all of them (1.529 on the full text after 3,000 steps, README).
"""

from __future__ import annotations

from pathlib import Path

from glassnet import optim
from glassnet.models.char_rnn import CharRNN
from glassnet.random import manual_seed
from glassnet.recipes.common import Recipe, RecipeConfig, load_text
from glassnet.recipes.text import stream_chunks, train_text_model

NAME = "char-lstm"
DEFAULTS = {
    "epochs": 30,
    "lr": 2e-3,
    "batch_size": 64,
    "steps_per_epoch": 100,
    "seq_len": 100,
    "hidden_size": 256,
    "embed_dim": 64,
    "num_layers": 1,
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
    model = CharRNN(vocab.vocab_size, o["embed_dim"], o["hidden_size"], o["num_layers"])
    optimizer = optim.Adam(model.parameters(), lr=o["lr"])
    return train_text_model(
        NAME,
        model,
        optimizer,
        config,
        o,
        vocab,
        train_ids,
        note,
        window=o["seq_len"],
        warmup=50,
        carry_state=True,
        valid_batches=stream_chunks,
    )


RECIPE = Recipe(NAME, "character LSTM on tiny Shakespeare (an epoch is 100 steps)", run, DEFAULTS)
