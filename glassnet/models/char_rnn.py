"""CharRNN: a character-level language model, embedding → recurrent stack (RNN, LSTM or GRU) → next-char logits."""

from __future__ import annotations

import numpy

from glassnet import nn
from glassnet.autograd import no_grad
from glassnet.models._utils import sample_next
from glassnet.random import Generator
from glassnet.tensor import Tensor

_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def _as_ids(ids, owner: str) -> Tensor:
    """A (batch, time) int64 Tensor from a list, array or Tensor of token ids (1-D means batch 1)."""
    arr = numpy.asarray(ids.numpy() if isinstance(ids, Tensor) else ids)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] == 0 or not numpy.issubdtype(arr.dtype, numpy.integer):
        raise ValueError(f"{owner}: expected a non-empty (batch, time) array of integer token ids, "
                         f"got shape {arr.shape} dtype {arr.dtype}")
    return Tensor(arr.astype(numpy.int64))


class CharRNN(nn.Module):
    """A character-level recurrent language model (Karpathy 2015, "The unreasonable effectiveness of RNNs";
    Graves 2013, "Generating sequences with recurrent neural networks").

    The idea it shows: a recurrent state carries everything read so far, so predicting the next character one
    step at a time and feeding each sample back in generates text. The cell is an LSTM (Hochreiter & Schmidhuber
    1997), a GRU (Cho et al. 2014) or an Elman RNN (tanh). forward(idx (batch, time), state) returns logits
    (batch, time, vocab) and the final state, which the caller passes back to continue a sequence (truncated BPTT).
    """

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_size: int = 256, num_layers: int = 1,
                 cell: str = "lstm", dropout: float = 0.0) -> None:
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"CharRNN: cell must be one of {sorted(_CELLS)}, got {cell!r}")
        self.vocab_size = vocab_size
        self.cell = cell
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = _CELLS[cell](embed_dim, hidden_size, num_layers=num_layers, batch_first=True,
                                dropout=dropout if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, idx: Tensor, state=None) -> tuple[Tensor, object]:
        """(batch, time) int ids, optional state → (logits (batch, time, vocab), state)."""
        if not isinstance(idx, Tensor) or idx.ndim != 2:
            shape = tuple(idx.shape) if isinstance(idx, Tensor) else type(idx).__name__
            raise ValueError(f"CharRNN got idx of shape {shape}; expected (batch, time) integer ids")
        h = self.embed(idx)
        out, state = self.rnn(h, state)
        return self.head(self.drop(out)), state

    def generate(self, start_ids, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 generator: Generator | None = None) -> Tensor:
        """Continue start_ids ((time,) or (batch, time) ids) by max_new_tokens sampled characters.

        Returns (batch, time + max_new_tokens) ids. temperature scales the logits (0 means greedy); top_k keeps only
        the k most likely characters at each step.
        """
        if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
            raise ValueError(f"CharRNN.generate: max_new_tokens must be a non-negative int, got {max_new_tokens!r}")
        idx = _as_ids(start_ids, "CharRNN.generate")
        if idx.numpy().min() < 0 or idx.numpy().max() >= self.vocab_size:
            raise ValueError(f"CharRNN.generate: start_ids must lie in [0, {self.vocab_size})")
        was_training = self.training
        self.eval()
        out = [idx.numpy()]
        try:
            with no_grad():
                logits, state = self(idx)
                for _ in range(max_new_tokens):
                    nxt = sample_next(logits.numpy()[:, -1, :], temperature, top_k, generator, "CharRNN")
                    nxt = nxt.astype(numpy.int64)[:, None]
                    out.append(nxt)
                    logits, state = self(Tensor(nxt), state)
        finally:
            self.train(was_training)
        return Tensor(numpy.concatenate(out, axis=1))
