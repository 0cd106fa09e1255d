"""Recurrent layers: the cells RNNCell, LSTMCell, GRUCell and the sequence layers RNN, LSTM, GRU built from them.

Everything here is tensor algebra on the public Tensor API; the gates read like the equations (PyTorch's layout):

    RNN:   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)                  (or relu)
    LSTM:  i, f, g, o = chunk4(W_ih x + b_ih + W_hh h + b_hh)         gate order i, f, g, o
           c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)                             forget some, write some
           h' = σ(o) ⊙ tanh(c')                                       expose some
    GRU:   r, z = σ(W_ir x + b_ir + W_hr h + b_hr), σ(W_iz x + b_iz + W_hz h + b_hz)
           n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
           h' = (1 − z) ⊙ n + z ⊙ h

Parameter names, shapes and the default initialisation U(±1/√hidden_size) follow `torch.nn`, so a PyTorch
state_dict loads unchanged. The sequence layers compute the input projection x W_ihᵀ + b for all timesteps in one
matmul per layer and direction, then walk the time loop with only the recurrent product h W_hhᵀ.

Variable-length batches: pass `lengths` (one per sequence) to `RNN/LSTM/GRU.forward`. Steps past a sequence's
length leave its state unchanged (a `gn.where` mask) and give zeros in the output, as PyTorch's
pack_padded_sequence / pad_packed_sequence do; the reverse direction reads each sequence backwards from its own
last real step.
"""

from __future__ import annotations

import math

import numpy

import glassnet.nn.functional as F
from glassnet.nn import init
from glassnet.nn._layer_utils import check_tensor, empty_parameter, factory_dtype, shape_str
from glassnet.nn.module import Module
from glassnet.ops.recurrent import GRUSequence, LSTMSequence
from glassnet.tensor import Tensor, cat, stack, where

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ----- one step of each cell, given the input projection gi = x W_ihᵀ + b_ih ------------------------------------
def _rnn_step(gi: Tensor, h: Tensor, w_hh_t: Tensor, b_hh: Tensor | None, relu: bool) -> Tensor:
    """h' = tanh(gi + h W_hhᵀ + b_hh)  (relu instead of tanh when asked)"""
    pre = gi + h @ w_hh_t
    if b_hh is not None:
        pre = pre + b_hh
    return pre.relu() if relu else pre.tanh()


def _lstm_step(gi: Tensor, h: Tensor, c: Tensor, w_hh_t: Tensor, b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    """(h', c') from the gates i, f, g, o = chunk4(gi + h W_hhᵀ + b_hh)"""
    gates = gi + h @ w_hh_t
    if b_hh is not None:
        gates = gates + b_hh
    i, f, g, o = gates.chunk(4, dim=-1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()  # forget some, write some
    h = o.sigmoid() * c.tanh()  # expose some
    return h, c


def _gru_step(gi: Tensor, h: Tensor, w_hh_t: Tensor, b_hh: Tensor | None) -> Tensor:
    """h' = (1 − z) n + z h with r, z = σ(…), n = tanh(gi_n + r (h W_hnᵀ + b_hn))"""
    gh = h @ w_hh_t
    if b_hh is not None:
        gh = gh + b_hh
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = (i_r + h_r).sigmoid()  # reset: how much of the past feeds the candidate
    z = (i_z + h_z).sigmoid()  # update: how much of the old state to keep
    n = (i_n + r * h_n).tanh()  # the candidate state
    return (1 - z) * n + z * h


def _lengths_array(lengths, batch: int, steps: int, name: str, got: tuple) -> numpy.ndarray:
    """Check `lengths` (list, array or Tensor of ints, one per sequence, each in 1..steps) and return it as int64."""
    arr = lengths.cpu().numpy() if isinstance(lengths, Tensor) else numpy.asarray(lengths)  # host values, as in torch
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or arr.shape[0] != batch:
        raise ValueError(
            f"{name} got lengths of shape {shape_str(arr.shape)} for input of shape {shape_str(got)}; "
            f"expected one length per sequence, shape ({batch},)"
        )
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: lengths must be integers, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 1 or arr.max() > steps):
        raise ValueError(
            f"{name} got lengths {arr.tolist()} for input of shape {shape_str(got)}; "
            f"each length must be between 1 and the sequence length {steps}"
        )
    return arr.astype(numpy.int64)


# ----- cells ----------------------------------------------------------------------------------------------------
class _CellBase(Module):
    """Parameters shared by the cells: weight_ih (G·H, I), weight_hh (G·H, H), bias_ih and bias_hh (G·H,)."""

    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        dtype = factory_dtype(dtype, device)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        g = self._gates * hidden_size
        self.weight_ih = empty_parameter(g, input_size, dtype=dtype)
        self.weight_hh = empty_parameter(g, hidden_size, dtype=dtype)
        if bias:
            self.bias_ih = empty_parameter(g, dtype=dtype)
            self.bias_hh = empty_parameter(g, dtype=dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(±1/√hidden_size), as in PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _name(self) -> str:
        return f"{type(self).__name__}({self.input_size}→{self.hidden_size})"

    def _check(self, input: Tensor, hx: Tensor | None) -> tuple[Tensor, Tensor, bool]:
        """Check shapes; return (input as (N, I), hx as (N, H) or zeros, whether the input was unbatched)."""
        name = self._name()
        check_tensor(input, name)
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"{name} got input of shape {shape_str(input.shape)}; "
                f"expected (batch, {self.input_size}) or unbatched ({self.input_size},)"
            )
        unbatched = input.ndim == 1
        if unbatched:
            input = input.unsqueeze(0)
        expected = (self.hidden_size,) if unbatched else (input.shape[0], self.hidden_size)
        if hx is None:
            hx = Tensor(numpy.zeros((input.shape[0], self.hidden_size), dtype=input.dtype), device=input.device)
        else:
            check_tensor(hx, name)
            if hx.shape != expected:
                raise ValueError(
                    f"{name} got hidden state of shape {shape_str(hx.shape)} for input of shape "
                    f"{shape_str(input.shape[1:] if unbatched else input.shape)}; expected {shape_str(expected)}"
                )
            if unbatched:
                hx = hx.unsqueeze(0)
        return input, hx, unbatched

    def _gi(self, x: Tensor) -> Tensor:
        gi = x @ self.weight_ih.T
        return gi + self.bias_ih if self.bias_ih is not None else gi

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        nl = getattr(self, "nonlinearity", "tanh")
        if nl != "tanh":
            s += f", nonlinearity={nl!r}"
        return s


class RNNCell(_CellBase):
    """An Elman cell: h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) (or relu); input (N, I) or (I,), h (N, H) or (H,)."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", device=None,
        dtype=None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)"""
        x, h, unbatched = self._check(input, hx)
        h = _rnn_step(self._gi(x), h, self.weight_hh.T, self.bias_hh, self.nonlinearity == "relu")
        return h.squeeze(0) if unbatched else h


class LSTMCell(_CellBase):
    """A long short-term memory cell (Hochreiter & Schmidhuber, 1997): forward(x, (h, c)) → (h', c'); gates i,f,g,o."""

    _gates = 4

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """i, f, g, o = chunk4(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh);  c' = σ(f) c + σ(i) tanh(g);  h' = σ(o) tanh(c')"""
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError(f"{self._name()}: hx must be a pair (h, c), got {type(hx).__name__}")
        x, h, unbatched = self._check(input, None if hx is None else hx[0])
        _, c, _ = self._check(input, None if hx is None else hx[1])
        h, c = _lstm_step(self._gi(x), h, c, self.weight_hh.T, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(_CellBase):
    """A gated recurrent unit (Cho et al., 2014): h' = (1 − z) n + z h with gates r, z and candidate n."""

    _gates = 3

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """r, z = σ(…);  n = tanh(W_in x + b_in + r (W_hn h + b_hn));  h' = (1 − z) n + z h"""
        x, h, unbatched = self._check(input, hx)
        h = _gru_step(self._gi(x), h, self.weight_hh.T, self.bias_hh)
        return h.squeeze(0) if unbatched else h


# ----- sequence layers --------------------------------------------------------------------------------------------
class _RNNBase(Module):
    """The stack of layers (and directions) shared by RNN, LSTM and GRU, with PyTorch's parameter names."""

    def __init__(
        self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
        batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None,
    ) -> None:
        super().__init__()
        dtype = factory_dtype(dtype, device)
        kind = type(self).__name__
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"{kind}: num_layers must be a positive integer, got {num_layers!r}")
        if not isinstance(hidden_size, int) or hidden_size < 1:
            raise ValueError(f"{kind}: hidden_size must be a positive integer, got {hidden_size!r}")
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"{kind}: dropout must be a probability between 0 and 1, got {dropout}")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        g = _GATES[mode] * hidden_size
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * self.num_directions
            for suffix in self._suffixes(layer):
                setattr(self, f"weight_ih{suffix}", empty_parameter(g, layer_in, dtype=dtype))
                setattr(self, f"weight_hh{suffix}", empty_parameter(g, hidden_size, dtype=dtype))
                if bias:
                    setattr(self, f"bias_ih{suffix}", empty_parameter(g, dtype=dtype))
                    setattr(self, f"bias_hh{suffix}", empty_parameter(g, dtype=dtype))
        self.reset_parameters()

    def _suffixes(self, layer: int) -> list[str]:
        return [f"_l{layer}", f"_l{layer}_reverse"][: self.num_directions]

    def reset_parameters(self) -> None:
        """Every weight and bias from U(±1/√hidden_size), as in PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _name(self) -> str:
        s = f"{type(self).__name__}({self.input_size}→{self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bidirectional:
            s += ", bidirectional"
        if self.batch_first:
            s += ", batch_first"
        return s + ")"

    # -- shape checks --
    def _check_input(self, input: Tensor) -> tuple[Tensor, bool]:
        """Return the input as (seq, batch, features) and whether it was unbatched (seq, features)."""
        name = self._name()
        check_tensor(input, name)
        if input.ndim not in (2, 3) or input.shape[-1] != self.input_size:
            layout = "(batch, seq" if self.batch_first else "(seq, batch"
            raise ValueError(
                f"{name} got input of shape {shape_str(input.shape)}; expected {layout}, {self.input_size}) "
                f"or unbatched (seq, {self.input_size})"
            )
        if input.ndim == 2:
            return input.unsqueeze(1), True
        return (input.transpose(0, 1) if self.batch_first else input), False

    def _check_state(self, state, batch: int, unbatched: bool, what: str, dtype, device=None) -> Tensor:
        """Return the initial state `what` as (layers·directions, batch, hidden), zeros when None."""
        lead = self.num_layers * self.num_directions
        if state is None:
            return Tensor(numpy.zeros((lead, batch, self.hidden_size), dtype=dtype), device=device)
        name = self._name()
        check_tensor(state, name)
        expected = (lead, self.hidden_size) if unbatched else (lead, batch, self.hidden_size)
        if state.shape != expected:
            raise ValueError(
                f"{name} got {what} of shape {shape_str(state.shape)}; expected {shape_str(expected)} "
                f"(num_layers·num_directions, {'' if unbatched else 'batch, '}hidden_size)"
            )
        return state.unsqueeze(1) if unbatched else state

    # -- the time loop --
    def _run_direction(self, x: Tensor, state: tuple, suffix: str, reverse: bool, masks: list | None):
        """Run one layer in one direction over x (T, N, I); return the outputs (T, N, H) and the final state."""
        w_ih = getattr(self, f"weight_ih{suffix}")
        w_hh = getattr(self, f"weight_hh{suffix}")  # read once: a parametrized weight is computed on every read
        w_hh_t = w_hh.T
        b_ih = getattr(self, f"bias_ih{suffix}", None)
        b_hh = getattr(self, f"bias_hh{suffix}", None)
        steps, batch = x.shape[0], x.shape[1]
        if self.mode == "LSTM" and self.fused and masks is None:
            return self._run_fused_lstm(x, state, w_ih, w_hh, b_ih, b_hh, reverse)
        if self.mode == "GRU" and self.fused and masks is None:
            return self._run_fused_gru(x, state, w_ih, w_hh, b_ih, b_hh, reverse)
        # The input projection of every timestep at once: (T·N, I) @ (I, G·H).
        gi_all = x.reshape(steps * batch, x.shape[2]) @ w_ih.T
        if b_ih is not None:
            if self.mode == "GRU":
                gi_all = gi_all + b_ih
            else:  # b_hh only ever adds to the same pre-activation: fold it in once
                gi_all = gi_all + (b_ih + b_hh)
                b_hh = None
        gi_all = gi_all.reshape(steps, batch, -1)
        # Slice per step through blocks of about √T steps: each slice's backward writes a zero-padded copy of the
        # whole tensor it was cut from, so cutting from blocks keeps the backward near O(T·√T·N·G), not O(T²·N·G).
        block = max(1, math.isqrt(steps))
        blocks = gi_all.split(block, dim=0)
        outputs = [None] * steps
        for t in reversed(range(steps)) if reverse else range(steps):
            gi = blocks[t // block][t % block]
            if self.mode == "LSTM":
                new = _lstm_step(gi, state[0], state[1], w_hh_t, b_hh)
            elif self.mode == "GRU":
                new = (_gru_step(gi, state[0], w_hh_t, b_hh),)
            else:
                new = (_rnn_step(gi, state[0], w_hh_t, b_hh, self.mode == "RNN_RELU"),)
            if masks is None:
                state = new
                outputs[t] = new[0]
            else:  # past its length a sequence keeps its state and outputs zeros
                m = masks[t]
                state = tuple(where(m, n, s) for n, s in zip(new, state))
                outputs[t] = where(m, new[0], 0.0)
        return stack(outputs), state

    def _run_fused_lstm(self, x: Tensor, state: tuple, w_ih, w_hh, b_ih, b_hh, reverse: bool):
        """The same LSTM direction through one LSTMSequence node (ops/recurrent.py): the gates above, fused."""
        steps, batch = x.shape[0], x.shape[1]
        bias = None if b_ih is None else b_ih + b_hh
        gi_all = F.linear(x.reshape(steps * batch, x.shape[2]), w_ih, bias).reshape(steps, batch, -1)
        y = LSTMSequence.apply(gi_all, state[0], state[1], w_hh, reverse=reverse)  # [h_1, …, h_T, c_T]
        return y[:steps], (y[0] if reverse else y[steps - 1], y[steps])

    def _run_fused_gru(self, x: Tensor, state: tuple, w_ih, w_hh, b_ih, b_hh, reverse: bool):
        """The same GRU direction through one GRUSequence node (ops/recurrent.py): the gates above, fused."""
        steps, batch = x.shape[0], x.shape[1]
        gi_all = F.linear(x.reshape(steps * batch, x.shape[2]), w_ih, b_ih).reshape(steps, batch, -1)
        hidden_bias = () if b_hh is None else (b_hh,)
        y = GRUSequence.apply(gi_all, state[0], w_hh, *hidden_bias, reverse=reverse)  # [h_1, …, h_T]
        return y, (y[0] if reverse else y[steps - 1],)

    def _forward(self, input: Tensor, hx: tuple, lengths) -> tuple[Tensor, tuple, bool]:
        x, unbatched = self._check_input(input)
        steps, batch = x.shape[0], x.shape[1]
        names = ("h_0", "c_0") if self.mode == "LSTM" else ("hx",)
        states = [self._check_state(s, batch, unbatched, n, x.dtype, x.device) for s, n in zip(hx, names)]
        masks = None
        if lengths is not None:
            lens = _lengths_array(lengths, batch, steps, self._name(), input.shape)
            valid = numpy.arange(steps)[:, None] < lens[None, :]  # (T, N): is step t real for sequence n?
            masks = [Tensor(valid[t][:, None], device=x.device) for t in range(steps)]
        finals = [[] for _ in states]
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = F.dropout(x, self.dropout, True)
            outs = []
            for d, suffix in enumerate(self._suffixes(layer)):
                k = layer * self.num_directions + d
                out, final = self._run_direction(x, tuple(s[k] for s in states), suffix, d == 1, masks)
                outs.append(out)
                for acc, f in zip(finals, final):
                    acc.append(f)
            x = outs[0] if len(outs) == 1 else cat(outs, dim=-1)
        output = x.squeeze(1) if unbatched else (x.transpose(0, 1) if self.batch_first else x)
        finals = [stack(f) for f in finals]
        if unbatched:
            finals = [f.squeeze(1) for f in finals]
        return output, tuple(finals), unbatched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(_RNNBase):
    """A multi-layer Elman RNN: h_t = tanh(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh) (or relu), layer by layer.

    forward(input, hx=None, lengths=None) → (output, h_n): input (seq, batch, input_size) — (batch, seq, …) with
    batch_first — or unbatched (seq, input_size); output (…, num_directions·hidden_size); h_n
    (num_layers·num_directions, batch, hidden_size).
    """

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh", bias: bool = True,
        batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(
            "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers, bias,
            batch_first, dropout, bidirectional, device, dtype,
        )

    def forward(self, input: Tensor, hx: Tensor | None = None, lengths=None) -> tuple[Tensor, Tensor]:
        """(output, h_n); `lengths` (one int per sequence) masks the padded steps."""
        output, (h_n,), _ = self._forward(input, (hx,), lengths)
        return output, h_n


class LSTM(_RNNBase):
    """A multi-layer LSTM (gates i, f, g, o as in LSTMCell), PyTorch's parameters weight_ih_l0, …, _reverse.

    forward(input, (h_0, c_0)=None, lengths=None) → (output, (h_n, c_n)), shapes as in `RNN`.
    With fused=True (the default) each layer and direction runs as one `LSTMSequence` node whose backward is
    written by hand (the W3 benchmark's training step: 103 → 56 ms of CPU); fused=False records the gate equations
    of `LSTMCell` op by op (the readable reference, needed for create_graph=True). Batches with `lengths` always
    take the reference path.
    """

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True, batch_first: bool = False,
        dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None, fused: bool = True,
    ) -> None:
        self.fused = fused
        super().__init__(
            "LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype
        )

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None, lengths=None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """(output, (h_n, c_n)); `lengths` (one int per sequence) masks the padded steps."""
        if hx is None:
            hx = (None, None)
        elif not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise ValueError(f"{self._name()}: hx must be a pair (h_0, c_0), got {type(hx).__name__}")
        output, (h_n, c_n), _ = self._forward(input, tuple(hx), lengths)
        return output, (h_n, c_n)


class GRU(_RNNBase):
    """A multi-layer GRU (gates r, z, n as in GRUCell), PyTorch's parameters weight_ih_l0, …, _reverse.

    forward(input, hx=None, lengths=None) → (output, h_n), shapes as in `RNN`.
    fused=True runs each layer and direction as one `GRUSequence` node (ops/recurrent.py; forward + backward of
    GRU(64→256) over 64 steps of 32: 89 → 44 ms of CPU), the default; fused=False records the gate equations of
    `GRUCell` op by op (the reference implementation, and needed for create_graph=True).
    `lengths` always takes the reference path.
    """

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True, batch_first: bool = False,
        dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None, fused: bool = True,
    ) -> None:
        self.fused = fused
        super().__init__(
            "GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype
        )

    def forward(self, input: Tensor, hx: Tensor | None = None, lengths=None) -> tuple[Tensor, Tensor]:
        """(output, h_n); `lengths` (one int per sequence) masks the padded steps."""
        output, (h_n,), _ = self._forward(input, (hx,), lengths)
        return output, h_n
