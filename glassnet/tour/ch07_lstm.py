"""Chapter 7 of the tour: a character-level LSTM learns to write Shakespeare-like text."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn
from glassnet.data import CharDataset, load_text_small
from glassnet.optim.clip import clip_grad_norm_
from glassnet.tour import figure, print_table, progress

TITLE = "An LSTM writes text"
TEXT = """
A recurrent network reads a sequence one step at a time and carries a hidden state forward, so what
it saw earlier can shape what it predicts next. An LSTM adds a memory cell guarded by gates (input,
forget, output) that decide what to store, keep and reveal, which lets useful information survive
many steps. Below, an LSTM reads the bundled Shakespeare one character at a time and learns to
predict the next character. The loss is in nats per character: guessing uniformly among the ~60
characters costs about ln(60) = 4.1 nats; lower means the network has learnt spelling and style.
Then it writes: we feed each sampled character back in, sampling with a temperature below 1 to
favour likely characters.
"""


class CharLSTM(nn.Module):
    """Embedding -> LSTM -> Linear to next-character logits."""

    def __init__(self, vocab: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.lstm = nn.LSTM(32, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids: gn.Tensor, state=None):
        out, state = self.lstm(self.embed(ids), state)
        return self.head(out), state


def sample(model: CharLSTM, ds: CharDataset, prompt: str, n: int, temperature: float, seed: int) -> str:
    """Generate `n` characters after `prompt`, sampling from softmax(logits / temperature) with a fixed seed."""
    rng = numpy.random.default_rng(seed)
    model.eval()
    out = []
    with gn.no_grad():
        logits, state = model(gn.Tensor(ds.encode(prompt)[None, :]))
        last = logits.numpy()[0, -1]
        for _ in range(n):
            z = last.astype(numpy.float64) / temperature
            p = numpy.exp(z - z.max())
            p /= p.sum()
            i = int(rng.choice(len(p), p=p))
            out.append(ds.itos[i])
            logits, state = model(gn.Tensor(numpy.array([[i]], dtype=numpy.int64)), state)
            last = logits.numpy()[0, -1]
    model.train()
    return "".join(out)


def run(quick: bool = False, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Train the LSTM with Adam on random windows of the text; return loss at start and end and a sample."""
    text = load_text_small()
    block = 32 if quick else 64
    ds = CharDataset(text, block)
    hidden = 128
    steps = 60 if quick else 500
    batch = 32
    gn.manual_seed(7)
    model = CharLSTM(ds.vocab_size, hidden)
    optimizer = gn.optim.Adam(model.parameters(), lr=5e-3)
    rng = numpy.random.default_rng(7)
    data = ds.data
    n_params = sum(p.numel() for p in model.parameters())
    say(f"  text: {len(text):,} characters, {ds.vocab_size} distinct; LSTM with {hidden} hidden units, "
        f"{n_params:,} weights; {steps} Adam steps on batches of {batch} windows of {block} characters")
    losses = []
    rows = []
    report_every = max(1, steps // 6)
    bar = progress(range(steps), desc="chapter 7: LSTM")
    for step in bar:
        starts = rng.integers(0, len(data) - block - 1, batch)
        x = numpy.stack([data[s : s + block] for s in starts])
        y = numpy.stack([data[s + 1 : s + block + 1] for s in starts])
        logits, _ = model(gn.Tensor(x))
        loss = F.cross_entropy(logits.reshape(-1, ds.vocab_size), gn.Tensor(y.reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        if step == 0 or (step + 1) % report_every == 0 or step == steps - 1:
            rows.append([step + 1, losses[-1]])
            bar.set_postfix_str(f"loss {losses[-1]:.3f} nats/char")
    window = min(10, len(losses))
    initial = losses[0]
    final = sum(losses[-window:]) / window
    text_out = sample(model, ds, "ROMEO:\n", 200, temperature=0.8, seed=7)
    say(f"\n  loss fell from {initial:.3f} to {final:.3f} nats/char (uniform guessing: "
        f"{math.log(ds.vocab_size):.3f}); a sample of 200 characters at temperature 0.8, after 'ROMEO:':\n")
    for line in ("ROMEO:\n" + text_out).splitlines():
        say("    | " + line)
    say("")
    print_table(say, ["step", "loss (nats/char)"], rows)
    smooth = [sum(losses[max(0, i - 9):i + 1]) / len(losses[max(0, i - 9):i + 1]) for i in range(len(losses))]

    def curve():
        from glassnet.lens.plots import plot_curves

        fig = plot_curves({"training loss (mean of 10 steps)": smooth}, xlabel="Adam step",
                          ylabel="loss (nats per character)")
        fig.axes[0].axhline(math.log(ds.vocab_size), color="grey", linestyle=":", label="guessing uniformly")
        fig.axes[0].legend(fontsize=8)
        return fig

    return {
        "results": {"steps": steps, "hidden_size": hidden, "vocab_size": ds.vocab_size,
                    "uniform_loss": math.log(ds.vocab_size), "initial_loss": initial, "final_loss": final,
                    "sample": text_out},
        "headlines": [("uniform_loss", "guessing uniformly (nats/char)", None),
                      ("initial_loss", "loss at the first step", None),
                      ("final_loss", f"loss after {steps} steps", None)],
        "tables": [{"title": "Training loss (nats per character)", "columns": ["step", "loss"], "rows": rows}],
        "figures": [figure("the LSTM's loss while it reads", curve,
                           "below the dotted line the network knows more than the alphabet")],
        "texts": [{"title": "What it writes after 'ROMEO:' (temperature 0.8)", "text": "ROMEO:\n" + text_out}],
    }
