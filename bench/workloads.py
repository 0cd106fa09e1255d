"""The reference training workloads (see ../shared/bench/README.md), in glassnet and in PyTorch.

Each builder returns a `step()` that runs forward, loss, backward and an SGD update on a fixed batch. A workload
name is an id W0-W4, optionally with a size for the scaling tables: "W1-b512" (batch 512), "W3-t128" (sequence 128).
"""

from __future__ import annotations

import math
import sys

import numpy as np

WORKLOADS = ("W0", "W1", "W2", "W3", "W4")
SCALING = ("W1-b32", "W1-b128", "W1-b512", "W3-t32", "W3-t64", "W3-t128")
_DEFAULT_BATCH = {"W0": 100, "W1": 128, "W2": 64, "W3": 32, "W4": 16}
_DEFAULT_STEPS = {"W3": 64, "W4": 64}


def parse(workload: str) -> tuple[str, int, int | None]:
    """Split "W3-t128" into (id, batch size, sequence length); the defaults are those of ../shared/bench."""
    base, _, size = workload.partition("-")
    if base not in WORKLOADS:
        raise KeyError(f"unknown workload {workload!r}; known: {', '.join(WORKLOADS)} (sizes: W1-b512, W3-t128)")
    batch_size, steps = _DEFAULT_BATCH[base], _DEFAULT_STEPS.get(base)
    if size:
        kind, value = size[0], size[1:]
        if kind not in "bt" or not value.isdigit() or (kind == "t" and steps is None):
            raise KeyError(f"bad size {size!r} in workload {workload!r}; use -b<batch> or, for W3/W4, -t<steps>")
        batch_size, steps = (int(value), steps) if kind == "b" else (batch_size, int(value))
    return base, batch_size, steps


def batch(workload: str, seed: int = 0):
    """Fixed-seed random data shared by both systems (the same as ../shared/bench/data.py at default sizes)."""
    base, n, steps = parse(workload)
    rng = np.random.default_rng(seed)
    if base == "W0":
        x = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
        return x, (np.sin(3 * x[:, :1]) * x[:, 1:]).astype(np.float32)
    if base == "W1":
        return rng.standard_normal((n, 784)).astype(np.float32), rng.integers(0, 10, n)
    if base == "W2":
        return rng.standard_normal((n, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, n)
    if base == "W3":
        return rng.integers(0, 65, (steps, n)), rng.integers(0, 65, (steps, n))  # (T, B)
    return rng.integers(0, 65, (n, steps)), rng.integers(0, 65, (n, steps))  # W4: (B, T)


def _library(nn):
    """The top-level module (glassnet or torch) that `nn` belongs to."""
    return sys.modules[nn.__name__.partition(".")[0]]


def _char_lstm(nn, F, vocab: int = 65, embed: int = 64, hidden: int = 256):
    class CharLSTM(nn.Module):
        """W3: embedding, one LSTM layer, a linear head; cross-entropy at every step, full BPTT."""

        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(vocab, embed)
            self.lstm = nn.LSTM(embed, hidden)
            self.head = nn.Linear(hidden, vocab)

        def forward(self, x):
            h, _ = self.lstm(self.emb(x))  # (T, B, H)
            return self.head(h)

    def loss(logits, y):
        return F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))

    return CharLSTM(), loss


def _gpt(nn, F, vocab: int = 65, width: int = 128, heads: int = 4, blocks: int = 4, context: int = 64):
    lib = _library(nn)
    # Causal attention as an additive mask (−inf above the diagonal), the same algebra in both libraries.
    mask = np.triu(np.full((context, context), -np.inf, dtype=np.float32), 1)

    class Block(nn.Module):
        """Pre-LN transformer block: x + attn(LN(x)), then x + MLP(LN(x)) with a tanh-GELU MLP 4x wide."""

        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
            self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
            self.fc1, self.fc2 = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)

        def forward(self, x, causal):
            b, t, c = x.shape
            qkv = self.qkv(self.ln1(x)).reshape(b, t, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(c // heads)) + causal[:t, :t]
            y = att.softmax(-1) @ v
            x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))

    class GPT(nn.Module):
        """W4: token + position embeddings, `blocks` pre-LN blocks, a final LayerNorm and a bias-free head."""

        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocab, width), nn.Embedding(context, width)
            self.blocks = nn.ModuleList([Block() for _ in range(blocks)])
            self.lnf = nn.LayerNorm(width)
            self.lm = nn.Linear(width, vocab, bias=False)
            self.register_buffer("mask", lib.tensor(mask))

        def forward(self, idx):
            x = self.wte(idx) + self.wpe.weight[: idx.shape[1]]
            for block in self.blocks:
                x = block(x, self.mask)
            return self.lm(self.lnf(x))

    def loss(logits, y):
        return F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))

    return GPT(), loss


def build(nn, F, workload: str):
    """The model and loss of `workload`, written once for both libraries: `nn`/`F` are `glassnet.nn` and
    `glassnet.nn.functional`, or `torch.nn` and `torch.nn.functional` (the APIs are the same)."""
    base, _, steps = parse(workload)
    if base == "W0":
        return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1)), F.mse_loss
    if base == "W1":
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
        return model, F.cross_entropy
    if base == "W2":
        model = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
        )
        return model, F.cross_entropy
    if base == "W3":
        return _char_lstm(nn, F)
    return _gpt(nn, F, context=steps)


def _sgd_step(model, loss_fn, optimizer, x, y, synchronize=None):
    def step():
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
        if synchronize is not None:  # a GPU queues its kernels: a step is done when they are
            synchronize()

    return step


def glassnet_step(workload: str, device: str = "cpu", compiled: bool = False):
    """A training step of `workload` in glassnet (on `device`: "cpu", "cuda", …); with `compiled`, the same step
    through `gn.compile`."""
    import glassnet as gn
    import glassnet.nn.functional as F
    from glassnet import nn

    gn.manual_seed(0)
    x, y = (gn.tensor(a, device=device) for a in batch(workload))
    model, loss_fn = build(nn, F, workload)
    model.to(device)
    sync = gn.cuda.synchronize if device.startswith("cuda") else None
    optimizer = gn.optim.SGD(model.parameters(), lr=0.01)
    if not compiled:
        return _sgd_step(model, loss_fn, optimizer, x, y, sync)

    @gn.compile
    def step(x, y):
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
        if sync is not None:
            sync()

    return lambda: step(x, y)


def torch_step(workload: str, threads: int = 2, device: str = "cpu"):
    """The same training step in PyTorch eager (2 threads unless told otherwise)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x, y = (torch.from_numpy(a).to(device) for a in batch(workload))
    model, loss_fn = build(nn, F, workload)
    model.to(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else None
    return _sgd_step(model, loss_fn, torch.optim.SGD(model.parameters(), lr=0.01), x, y, sync)
