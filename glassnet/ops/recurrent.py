"""Fused recurrent ops: a whole LSTM sequence in one graph node, its time loop and gate derivatives written by hand.

The readable reference is the gate algebra in `glassnet/nn/recurrent.py` (`_lstm_step`), recorded op by op; this
fused version gives the same numbers (tested to 1e-10 in float64) with one node instead of ~15 per timestep, and a
backward that treats the four gates as one (N, 4H) block so that each step's recurrent gradient is a single GEMM.
"""

from __future__ import annotations

from glassnet.autograd import Function, _state
from glassnet.backend import array_like, array_module, np
from glassnet.kernels import float32_kernel


class LSTMSequence(Function):
    """An LSTM layer over T steps, given the input projection gi_t = x_t W_ihᵀ + b_ih + b_hh of every step.

    Forward, for t = 1…T (gate order i, f, g, o as in PyTorch; `reverse` walks t = T…1):
        a_t = gi_t + h_{t−1} W_hhᵀ;   i, f, o = σ(a_i), σ(a_f), σ(a_o);   g = tanh(a_g)
        c_t = f ⊙ c_{t−1} + i ⊙ g;    h_t = o ⊙ tanh(c_t)
    Output: the (T + 1, N, H) stack [h_1, …, h_T, c_T] (one array, since an op has one output: the layer reads
    its outputs as y[:T], h_T as the last step's row and c_T as y[T]).

    Backward, for t = T…1, with dh_t = dL/dh_t (from the output) + dh carried from step t + 1:
        dc_t += dh_t ⊙ o ⊙ (1 − tanh² c_t)
        da_i = dc_t ⊙ g ⊙ i(1 − i);   da_f = dc_t ⊙ c_{t−1} ⊙ f(1 − f);   da_g = dc_t ⊙ i ⊙ (1 − g²)
        da_o = dh_t ⊙ tanh c_t ⊙ o(1 − o);   dc_{t−1} = dc_t ⊙ f;   dh_{t−1} = da_t W_hh
    and outside the loop dL/dgi = da (all steps),  dL/dW_hh = Σ_t da_tᵀ h_{t−1} (one GEMM),  dL/dh_0, dL/dc_0 the
    carries left after step 1. The backward is plain array code: it cannot itself be differentiated (use the
    reference layer, `LSTM(..., fused=False)`, for higher-order gradients).

    Fast path (glassnet/fast_paths.py). Reference: nn.LSTM(fused=False). With GLASSNET_KERNELS=numba, on float32,
    each step's gate math after its GEMM is one compiled pass (glassnet/kernels.py `lstm_cell_forward` and
    `lstm_cell_backward`); the loops below are their reference.
    """

    def forward(self, gi, h0, c0, w_hh, reverse=False):
        cell = float32_kernel("lstm_cell_forward", gi, h0, c0, w_hh)
        if cell is not None:
            return self._forward_kernel(cell, gi, h0, c0, w_hh, reverse)
        steps, batch, four_h = gi.shape
        hidden = four_h // 4
        self.reverse = reverse
        xp = array_module(gi)
        gates = xp.empty((steps, batch, 4, hidden), dtype=gi.dtype)  # activated i, f, g, o of every step
        out = xp.empty((steps + 1, batch, hidden), dtype=gi.dtype)
        cells = xp.empty((steps, batch, hidden), dtype=gi.dtype)
        tanh_cells = np.empty_like(cells)
        # σ(a) = 1 / (1 + e^(−a)) and tanh(a) = 2 / (1 + e^(−2a)) − 1, so all four gates are one exp between a
        # per-gate scale, numerator and shift: NumPy's float32 exp costs half its tanh (README, "Performance").
        exponent, numerator, shift = _gate_exp_constants(hidden, gi.dtype, gi)
        w_hh_t = xp.ascontiguousarray(w_hh.T)  # one 4H×H copy: a row-major right operand makes each step's GEMM faster
        written = xp.empty((batch, hidden), dtype=gi.dtype)  # i ⊙ g, reused every step
        h, c = h0, c0
        zero_start = type(h0) is np.ndarray and not h0.any()  # the usual h_0 = 0: its product is 0, no GEMM needed
        with np.errstate(over="ignore"):  # e^(−a) = ∞ for a ≪ 0: the gate is then exactly 0 (or −1)
            for t in _order(steps, reverse):
                a = gates[t].reshape(batch, four_h)
                if zero_start and h is h0:
                    a[...] = gi[t]
                else:
                    np.matmul(h, w_hh_t, out=a)
                    a += gi[t]
                a *= exponent
                np.exp(a, out=a)
                a += 1
                np.divide(numerator, a, out=a)
                a += shift
                i, f, g, o = gates[t, :, 0], gates[t, :, 1], gates[t, :, 2], gates[t, :, 3]
                c_new = cells[t]
                np.multiply(f, c, out=c_new)
                c_new += np.multiply(i, g, out=written)  # forget some, write some
                np.tanh(c_new, out=tanh_cells[t])
                np.multiply(o, tanh_cells[t], out=out[t])  # expose some
                h, c = out[t], c_new
        out[steps] = c
        self.save_for_backward(gi, h0, c0, w_hh, out)
        self.gates, self.cells, self.tanh_cells = gates, cells, tanh_cells
        return out

    def backward(self, gy):
        _refuse_double_backward("LSTMSequence", "LSTM")
        gi, h0, c0, w_hh, out = self.saved_tensors
        gates, cells, tanh_cells = self.gates, self.cells, self.tanh_cells
        steps, batch, _, hidden = gates.shape
        cell = float32_kernel("lstm_cell_backward", gy, gates, w_hh, c0)
        if cell is not None:
            return self._backward_kernel(cell, gy)
        # Each step's factors are computed on its own (N, 4, H) slice, which stays in cache, rather than as full-size
        # temporaries of all steps (on W3's shapes this backward measured 37.7 → 34.3 ms; the same bits).
        scale, shift = _gate_constants(hidden, gates.dtype, gates)
        scale_squared, shift = np.square(scale).reshape(4, hidden), shift.reshape(4, hidden)
        grad_gates = np.empty_like(gates)  # da of every step, (T, N, 4, H)
        xp = array_module(gates)
        dh = xp.empty((batch, hidden), dtype=gates.dtype)
        dh_carry = np.zeros_like(dh)
        dh_to_dc = np.empty_like(dh)
        dc = gy[steps].astype(gates.dtype)  # dL/dc_T from the c_T row of the output (astype copies)
        first = steps - 1 if self.reverse else 0
        want_h0 = self._wants_h0_grad()
        for t in _order(steps, not self.reverse):
            gate, da, tanh_cell = gates[t], grad_gates[t], tanh_cells[t]
            c_prev = c0 if t == first else cells[t + 1 if self.reverse else t - 1]
            np.subtract(gate, shift, out=da)  # d(gate)/da = scale² − (gate − shift)²: σ(1 − σ) and 1 − tanh²
            da *= da
            np.subtract(scale_squared, da, out=da)
            np.add(gy[t], dh_carry, out=dh)
            np.multiply(tanh_cell, tanh_cell, out=dh_to_dc)  # dc_t/dh_t = o ⊙ (1 − tanh² c_t), through h_t = o tanh c_t
            np.subtract(1, dh_to_dc, out=dh_to_dc)
            dh_to_dc *= gate[:, 3]
            dc += np.multiply(dh_to_dc, dh, out=dh_to_dc)
            da[:, 0] *= gate[:, 2]  # da_i, da_f, da_g = slope ⊙ (g, c_{t−1}, i) ⊙ dc;  da_o = slope ⊙ tanh c ⊙ dh
            da[:, 1] *= c_prev
            da[:, 2] *= gate[:, 0]
            da[:, :3] *= dc[:, None, :]
            da[:, 3] *= tanh_cell
            da[:, 3] *= dh
            dc *= gate[:, 1]
            if t != first or want_h0:  # dL/dh_0, the last carry, only for an h_0 that needs it
                np.matmul(da.reshape(batch, 4 * hidden), w_hh, out=dh_carry)
        h_prev = _previous(out[:steps], h0, self.reverse)
        grad_flat = grad_gates.reshape(steps * batch, 4 * hidden)
        grad_w_hh = grad_flat.T @ h_prev.reshape(steps * batch, hidden)
        return grad_gates.reshape(gi.shape), dh_carry if want_h0 else None, dc, grad_w_hh

    def _wants_h0_grad(self) -> bool:
        """Whether h_0 needs dL/dh_0 (True when called outside the graph, with no inputs recorded)."""
        return len(self.inputs) < 2 or self.input_requires_grad(1)

    def _forward_kernel(self, cell, gi, h0, c0, w_hh, reverse):
        """forward() with each step's gate math in one compiled pass (the same formulas; tanh to 3e-7)."""
        steps, batch, four_h = gi.shape
        hidden = four_h // 4
        self.reverse = reverse
        gates = np.empty((steps, batch, 4, hidden), dtype=gi.dtype)
        out = np.empty((steps + 1, batch, hidden), dtype=gi.dtype)
        cells = np.empty((steps, batch, hidden), dtype=gi.dtype)
        tanh_cells = np.empty_like(cells)
        w_hh_t = np.ascontiguousarray(w_hh.T)
        gi4 = np.ascontiguousarray(gi).reshape(steps, batch, 4, hidden)
        h, c = h0, c0
        zero_start = not h0.any()  # the usual h_0 = 0: its product is 0, no GEMM needed
        for t in _order(steps, reverse):
            if zero_start and h is h0:
                gates[t].fill(0)
            else:
                np.matmul(h, w_hh_t, out=gates[t].reshape(batch, four_h))
            cell(gates[t], gi4[t], c, cells[t], tanh_cells[t], out[t])
            h, c = out[t], cells[t]
        out[steps] = c
        self.save_for_backward(gi, h0, c0, w_hh, out)
        self.gates, self.cells, self.tanh_cells = gates, cells, tanh_cells
        return out

    def _backward_kernel(self, cell, gy):
        """backward() with each step's gate math in one compiled pass: the same float32 operations, the same bits."""
        gi, h0, c0, w_hh, out = self.saved_tensors
        gates, cells, tanh_cells = self.gates, self.cells, self.tanh_cells
        steps, batch, _, hidden = gates.shape
        grad_gates = np.empty_like(gates)
        dh_carry = np.zeros((batch, hidden), dtype=gates.dtype)
        dc = gy[steps].astype(gates.dtype)
        w_hh = np.ascontiguousarray(w_hh)
        want_h0 = self._wants_h0_grad()
        for t in _order(steps, not self.reverse):
            first = t == (steps - 1 if self.reverse else 0)
            c_prev = c0 if first else cells[t + 1 if self.reverse else t - 1]
            cell(gy[t], dh_carry, dc, gates[t], c_prev, tanh_cells[t], grad_gates[t])
            if not first or want_h0:
                np.matmul(grad_gates[t].reshape(batch, 4 * hidden), w_hh, out=dh_carry)
        h_prev = _previous(out[:steps], h0, self.reverse)
        grad_flat = grad_gates.reshape(steps * batch, 4 * hidden)
        grad_w_hh = grad_flat.T @ h_prev.reshape(steps * batch, hidden)
        return grad_gates.reshape(gi.shape), dh_carry if want_h0 else None, dc, grad_w_hh


def _order(steps: int, reverse: bool) -> range:
    return range(steps - 1, -1, -1) if reverse else range(steps)


def _refuse_double_backward(op: str, layer: str) -> None:
    """The fused backward is written on arrays, so it cannot itself be recorded (create_graph=True)."""
    if _state.graph_backward:
        raise RuntimeError(
            f"{op}: the fused {layer}'s backward cannot be differentiated again (create_graph=True); "
            "build the layer with fused=False to record the gate equations op by op"
        )


def _previous(states, first, reverse: bool):
    """The state each step started from: [first, s_0, …, s_{T−2}] (or shifted the other way when reversed)."""
    prev = np.empty_like(states)
    if reverse:
        prev[:-1], prev[-1] = states[1:], first
    else:
        prev[1:], prev[0] = states[:-1], first
    return prev


def _per_gate(values, hidden: int, dtype, like):
    """One value per gate (i, f, g, o) repeated over its `hidden` columns: a (4H,) vector on `like`'s device."""
    return array_like(np.repeat(np.array(values, dtype=dtype), hidden), like)


def _gate_exp_constants(hidden: int, dtype, like) -> tuple:
    """Per-column exponent, numerator and shift that make each gate numerator / (1 + e^(exponent·a)) + shift: σ for
    the i, f, o gates (−1, 1, 0) and tanh for g (−2, 2, −1)."""
    return tuple(_per_gate(v, hidden, dtype, like) for v in ([-1, -1, -2, -1], [1, 1, 2, 1], [0, 0, -1, 0]))


def _gate_constants(hidden: int, dtype, like) -> tuple:
    """Per-column scale and shift with gate = scale·tanh(scale·a) + shift (σ(a) = ½ tanh(a/2) + ½ for i, f, o), so
    that d(gate)/da = scale² − (gate − shift)² for all four gates at once (the backward's slope)."""
    return _per_gate([0.5, 0.5, 1.0, 0.5], hidden, dtype, like), _per_gate([0.5, 0.5, 0.0, 0.5], hidden, dtype, like)


class GRUSequence(Function):
    """A GRU layer over T steps, given the input projection gi_t = x_t W_ihᵀ + b_ih of every step (gates r, z, n).

    Forward, for t = 1…T (`reverse` walks t = T…1), with gh_t = h_{t−1} W_hhᵀ + b_hh split as (gh_r, gh_z, gh_n):
        r = σ(gi_r + gh_r);   z = σ(gi_z + gh_z);   n = tanh(gi_n + r ⊙ gh_n);   h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
    Output: the (T, N, H) stack of h_t.

    Backward, for t = T…1, with dh = dL/dh_t (from the output) + dh carried from step t + 1:
        da_n = dh ⊙ (1 − z) ⊙ (1 − n²);   da_z = dh ⊙ (h_{t−1} − n) ⊙ z(1 − z);   da_r = da_n ⊙ gh_n ⊙ r(1 − r)
        dgi_t = (da_r, da_z, da_n);   dgh_t = (da_r, da_z, da_n ⊙ r);   dh_{t−1} = dh ⊙ z + dgh_t W_hh
    and outside the loop dL/dW_hh = Σ_t dgh_tᵀ h_{t−1} (one GEMM), dL/db_hh = Σ_t dgh_t. Like LSTMSequence, the
    backward is array code and cannot be differentiated again (use `GRU(..., fused=False)` for that).

    Fast path (glassnet/fast_paths.py). Reference: nn.GRU(fused=False).
    """

    def forward(self, gi, h0, w_hh, b_hh=None, reverse=False):
        steps, batch, three_h = gi.shape
        hidden = three_h // 3
        self.reverse = reverse
        xp = array_module(gi)
        gates = xp.empty((steps, batch, 3, hidden), dtype=gi.dtype)  # r, z, n of every step
        hidden_n = xp.empty((steps, batch, hidden), dtype=gi.dtype)  # gh_n, needed for dL/dr
        out = xp.empty((steps, batch, hidden), dtype=gi.dtype)
        w_hh_t = xp.ascontiguousarray(w_hh.T)
        gh = xp.empty((batch, three_h), dtype=gi.dtype)
        h = h0
        for t in _order(steps, reverse):
            np.matmul(h, w_hh_t, out=gh)
            if b_hh is not None:
                gh += b_hh
            rz = gates[t, :, :2].reshape(batch, 2 * hidden)
            np.add(gi[t, :, : 2 * hidden], gh[:, : 2 * hidden], out=rz)
            _sigmoid_(rz)
            r, z, n = gates[t, :, 0], gates[t, :, 1], gates[t, :, 2]
            hidden_n[t] = gh[:, 2 * hidden:]
            np.multiply(r, hidden_n[t], out=n)
            n += gi[t, :, 2 * hidden:]
            np.tanh(n, out=n)  # the candidate state
            np.subtract(h, n, out=out[t])
            out[t] *= z
            out[t] += n  # h_t = n + z ⊙ (h_{t−1} − n)
            h = out[t]
        self.save_for_backward(gi, h0, w_hh, b_hh, out)
        self.gates, self.hidden_n = gates, hidden_n
        return out

    def backward(self, gy):
        _refuse_double_backward("GRUSequence", "GRU")
        gi, h0, w_hh, b_hh, out = self.saved_tensors
        gates, hidden_n = self.gates, self.hidden_n
        steps, batch, _, hidden = gates.shape
        h_prev = _previous(out, h0, self.reverse)
        r, z, n = gates[:, :, 0], gates[:, :, 1], gates[:, :, 2]
        dh_to_an = (1 - z) * (1 - n * n)  # da_n/dh
        dh_to_az = (h_prev - n) * z * (1 - z)  # da_z/dh
        an_to_ar = hidden_n * r * (1 - r)  # da_r/da_n
        grad_gi = np.empty_like(gates)  # (da_r, da_z, da_n) of every step
        xp = array_module(gates)
        grad_gh_n = xp.empty((steps, batch, hidden), dtype=gates.dtype)  # da_n ⊙ r
        dh = xp.empty((batch, hidden), dtype=gates.dtype)
        carry = np.zeros_like(dh)
        grad_gh = xp.empty((batch, 3 * hidden), dtype=gates.dtype)
        for t in _order(steps, not self.reverse):
            np.add(gy[t], carry, out=dh)
            da = grad_gi[t]
            np.multiply(dh, dh_to_an[t], out=da[:, 2])
            np.multiply(dh, dh_to_az[t], out=da[:, 1])
            np.multiply(da[:, 2], an_to_ar[t], out=da[:, 0])
            np.multiply(da[:, 2], r[t], out=grad_gh_n[t])
            grad_gh[:, : 2 * hidden] = da[:, :2].reshape(batch, 2 * hidden)
            grad_gh[:, 2 * hidden:] = grad_gh_n[t]
            np.matmul(grad_gh, w_hh, out=carry)
            carry += np.multiply(dh, z[t], out=dh)
        grad_gh_all = np.concatenate([grad_gi[:, :, :2].reshape(steps, batch, 2 * hidden), grad_gh_n], axis=2)
        grad_gh_flat = grad_gh_all.reshape(steps * batch, 3 * hidden)
        grad_w_hh = grad_gh_flat.T @ h_prev.reshape(steps * batch, hidden)
        grad_b_hh = grad_gh_flat.sum(axis=0) if b_hh is not None else None
        return grad_gi.reshape(gi.shape), carry, grad_w_hh, grad_b_hh


def _sigmoid_(a):
    """σ(a) = 1 / (1 + e^(−a)) in place (NumPy's float32 exp costs half its tanh; e^(−a) = ∞ gives σ = 0 exactly)."""
    np.negative(a, out=a)
    with np.errstate(over="ignore"):
        np.exp(a, out=a)
    a += 1
    return np.divide(1, a, out=a)  # (NumPy's divide is vectorised, its reciprocal is not)
