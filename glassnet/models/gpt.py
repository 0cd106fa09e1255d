"""GPT: a decoder-only Transformer language model (causal self-attention, learned positions, tied embeddings)."""

from __future__ import annotations

import math

import numpy

from glassnet import nn
from glassnet.autograd import no_grad
from glassnet.models._utils import sample_next
from glassnet.nn import functional as F
from glassnet.random import Generator
from glassnet.tensor import Tensor


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t attends to positions ≤ t only (Vaswani et al. 2017).

    One Linear c_attn makes q, k, v at once; heads attend independently; c_proj mixes them back.
    """

    def __init__(self, d_model: int, n_head: int, dropout: float = 0.0) -> None:
        super().__init__()
        if d_model % n_head:
            raise ValueError(f"CausalSelfAttention: d_model={d_model} must be divisible by n_head={n_head}")
        self.n_head = n_head
        self.d_model = d_model
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)
        self.dropout = dropout
        self.resid_drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, time, d_model) → (batch, time, d_model)."""
        b, t, d = x.shape
        hd = d // self.n_head
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (z.reshape(b, t, self.n_head, hd).transpose(1, 2) for z in (q, k, v))   # (b, heads, t, hd)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(b, t, d)                                             # heads side by side
        return self.resid_drop(self.c_proj(y))


class GPTBlock(nn.Module):
    """A pre-LayerNorm Transformer block (GPT-2): x + attn(ln_1(x)), then x + mlp(ln_2(x)), MLP 4x with GELU(tanh)."""

    def __init__(self, d_model: int, n_head: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_head, dropout)
        self.ln_2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * d_model, d_model), nn.Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        """(batch, time, d_model) → (batch, time, d_model), two residual updates."""
        x = x + self.attn(self.ln_1(x))     # communicate: gather from earlier positions
        x = x + self.mlp(self.ln_2(x))      # compute: per position
        return x


class GPT(nn.Module):
    """A decoder-only Transformer language model (Radford et al. 2018 "Improving language understanding by
    generative pre-training"; 2019 "Language models are unsupervised multitask learners"), in the style of
    Karpathy's minGPT.

    The idea it shows: next-token prediction with causal self-attention. Token embedding + learned position
    embedding → n_layer pre-LayerNorm blocks → final LayerNorm → lm_head, whose weight *is* the token embedding
    matrix (weight tying, Press & Wolf 2017), so it is one Parameter, counted once. Weights start N(0, 0.02), with
    residual projections scaled by 1/√(2·n_layer) as in GPT-2.
    forward(idx, targets=None) → (logits (batch, time, vocab), mean cross-entropy or None); targets equal to -1
    are ignored.
    """

    def __init__(self, vocab_size: int, block_size: int, n_layer: int = 4, n_head: int = 4, d_model: int = 128,
                 dropout: float = 0.0) -> None:
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("block_size", block_size), ("n_layer", n_layer),
                            ("n_head", n_head), ("d_model", d_model)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GPT: {name} must be a positive int, got {value!r}")
        self.vocab_size = vocab_size
        self.block_size = block_size
        self.wte = nn.Embedding(vocab_size, d_model)
        self.wpe = nn.Embedding(block_size, d_model)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([GPTBlock(d_model, n_head, dropout) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        self._init_weights(n_layer)
        self.lm_head.weight = self.wte.weight            # weight tying: one matrix reads and writes tokens

    def _init_weights(self, n_layer: int) -> None:
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.ndim == 2:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith("c_proj.weight") or name.endswith(
                    "mlp.2.weight") else 0.02
                nn.init.normal_(p, 0.0, std)

    def _check_idx(self, idx, what: str) -> None:
        if not isinstance(idx, Tensor):
            raise TypeError(f"GPT.{what}: expected idx as a Tensor of token ids, got {type(idx).__name__}")
        if idx.ndim != 2:
            raise ValueError(f"GPT.{what}: idx of shape {tuple(idx.shape)}; expected (batch, time) token ids")
        if not numpy.issubdtype(idx.dtype, numpy.integer):
            raise ValueError(f"GPT.{what}: idx must hold integer token ids, got dtype {idx.dtype}")

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """(batch, time ≤ block_size) ids [, targets (batch, time)] → (logits (batch, time, vocab), loss or None)."""
        self._check_idx(idx, "forward")
        b, t = idx.shape
        if t > self.block_size:
            raise ValueError(f"GPT: idx of shape {tuple(idx.shape)} has {t} tokens, more than block_size="
                             f"{self.block_size}; crop the context to the last {self.block_size} tokens")
        pos = Tensor(numpy.arange(t, dtype=numpy.int64), device=self.wpe.weight.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        if not isinstance(targets, Tensor) or tuple(targets.shape) != (b, t):
            shape = tuple(targets.shape) if isinstance(targets, Tensor) else type(targets).__name__
            raise ValueError(f"GPT: targets of shape {shape}; expected {(b, t)} like idx")
        loss = F.cross_entropy(logits.reshape(b * t, self.vocab_size), targets.reshape(b * t), ignore_index=-1)
        return logits, loss

    def generate(self, idx: Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 sliding_window: bool = True, generator: Generator | None = None) -> Tensor:
        """Append max_new_tokens sampled tokens to idx (batch, time) → (batch, time + max_new_tokens).

        Each step conditions on the last block_size tokens (sliding_window=True); with sliding_window=False the whole
        sequence must fit the context, else a ValueError. temperature scales the logits (0 means greedy); top_k keeps
        only the k most likely tokens.
        """
        self._check_idx(idx, "generate")
        if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
            raise ValueError(f"GPT.generate: max_new_tokens must be a non-negative int, got {max_new_tokens!r}")
        t = idx.shape[1]
        if not sliding_window and t + max_new_tokens > self.block_size:
            raise ValueError(
                f"GPT.generate: prompt of {t} tokens + max_new_tokens={max_new_tokens} = {t + max_new_tokens} "
                f"exceeds block_size={self.block_size} and sliding_window=False; ask for at most "
                f"{max(self.block_size - t, 0)} new tokens or pass sliding_window=True")
        was_training = self.training
        self.eval()
        seq = idx.cpu().numpy().astype(numpy.int64)  # tokens are sampled on the host, one step at a time
        try:
            with no_grad():
                for _ in range(max_new_tokens):
                    context = Tensor(seq[:, -self.block_size:], device=self.wpe.weight.device)
                    logits, _ = self(context)
                    nxt = sample_next(logits[:, -1, :].cpu().numpy(), temperature, top_k, generator, "GPT")
                    seq = numpy.concatenate([seq, nxt.astype(numpy.int64)[:, None]], axis=1)
        finally:
            self.train(was_training)
        return Tensor(seq, device=idx.device)
