"""Loss ops that are worth fusing: softmax cross-entropy and NLL over class indices, binary cross-entropy
on probabilities and on logits, and mean squared error (one node instead of three on small networks).

The other losses (L1, Huber, KL divergence, …) are a few Tensor ops each and live, composed, in
`glassnet.nn.functional`.
"""

from __future__ import annotations

from glassnet.autograd import Function
from glassnet.backend import array_module, is_array, np
from glassnet.ops.activation import Sigmoid, Softmax


def _on_graph(saved) -> bool:
    """True when backward is being recorded (create_graph=True): saved values then come back as Tensors."""
    return not is_array(saved)


class _ClassIndexLoss(Function):
    """What cross-entropy and NLL share: x of shape (N, C, *), integer targets of shape (N, *), per-class
    weights w, ignore_index, and the reduction (PyTorch's 'mean' divides by Σ w[target] over the
    targets that are not ignored)."""

    def _targets(self, x, target, weight, ignore_index, reduction):
        self.reduction = reduction
        self.classes = x.shape[1]
        valid = (target != ignore_index)[:, None]  # (N, 1, *), as x with the class axis kept
        self.index = np.where(valid, target[:, None], 0)  # ignored targets point at class 0, weighted 0
        if weight is None:
            self.w_t = valid.astype(x.dtype)
            self.w_b = None
        else:
            self.w_t = weight[self.index] * valid
            self.w_b = weight.reshape((1, -1) + (1,) * (x.ndim - 2))  # w broadcast along the class axis
        self.valid = valid
        if reduction == "mean":
            self.total = np.sum(self.w_t)

    def _reduce(self, loss):
        """(N, 1, *) per-position losses → the requested reduction."""
        if self.reduction == "none":
            return loss[:, 0]
        total = np.sum(loss)
        if self.reduction == "sum":
            return total
        with np.errstate(divide="ignore", invalid="ignore"):  # every target ignored: NaN, as in PyTorch
            return total / self.total

    def _upstream(self, gy):
        """dL/d(per-position loss), shaped (N, 1, *) or scalar."""
        if self.reduction == "none":
            return gy.reshape(gy.shape[:1] + (1,) + gy.shape[1:])
        if self.reduction == "mean":
            with np.errstate(divide="ignore", invalid="ignore"):
                return gy / self.total
        return gy

    def _one_hot(self, like, values):
        """A dense array of `like`'s shape holding `values` (N, 1, *) at the target classes, 0 elsewhere."""
        out = array_module(like).zeros(like.shape, dtype=like.dtype)
        np.put_along_axis(out, self.index, values, axis=1)
        return out


class CrossEntropy(_ClassIndexLoss):
    """Softmax cross-entropy over class indices, fused, with label smoothing ε:

        log p = x − logsumexp(x)                                  (along the class axis, stably)
        ℓᵢ = (1 − ε)·w[tᵢ]·(−log p[i, tᵢ]) + (ε/C)·Σ_c w_c·(−log p[i, c])      (0 where tᵢ = ignore_index)
        dℓᵢ/dx[i, c] = p[i, c]·((1 − ε)·w[tᵢ] + (ε/C)·Σ_k w_k) − (1 − ε)·w[tᵢ]·[c = tᵢ] − (ε/C)·w_c

    Fast path (glassnet/fast_paths.py). Reference: nll_loss(log_softmax(x), t).
    Fused, log p is only evaluated where the loss needs it, softmax(x) is kept from the forward, and the
    backward is the closed form above instead of the chain through log-softmax and the index pick.
    """

    def forward(self, x, target=None, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        self._targets(x, target, weight, ignore_index, reduction)
        eps, C = label_smoothing, self.classes
        self.eps = eps
        shifted = x - np.max(x, axis=1, keepdims=True)
        e = np.exp(shifted)
        s = np.sum(e, axis=1, keepdims=True)
        log_s = np.log(s)  # log p = shifted − log s, never formed whole: only where it is needed
        loss = (np.take_along_axis(shifted, self.index, axis=1) - log_s) * (-(1.0 - eps) * self.w_t)
        # dℓ/dx = p·a − b:  a per position, b the one-hot part (built in backward)
        self.a = (1.0 - eps) * self.w_t
        if eps > 0:
            w_sum = float(C) if self.w_b is None else np.sum(self.w_b)
            if not is_array(w_sum):  # a Python number on the host; on a device a 0-d array (no read-back)
                w_sum = float(w_sum)
            weighted = np.sum(shifted if self.w_b is None else shifted * self.w_b, axis=1, keepdims=True)
            loss -= (eps / C) * (weighted - w_sum * log_s) * self.valid  # Σ_c w_c·log p_c
            self.a = self.a + (eps * w_sum / C) * self.valid
        e /= s
        self.p = e  # softmax(x), kept for the backward
        self.save_for_backward(x)
        return self._reduce(loss)

    def backward(self, gy):
        (x,) = self.saved_tensors
        g = self._upstream(gy)
        eps, C = self.eps, self.classes
        if _on_graph(x):  # recorded: softmax on the graph, the one-hot part as a constant array
            b = self._one_hot(x, (1.0 - eps) * self.w_t)
            if eps > 0:
                b += (eps / C) * (self.valid if self.w_b is None else self.w_b * self.valid)
            return (Softmax.call(x, axis=1) * self.a - b) * g
        grad = self.p * (self.a * g)
        if eps > 0:
            grad -= (eps / C) * (self.valid * g if self.w_b is None else self.w_b * (self.valid * g))
        picked = np.take_along_axis(grad, self.index, axis=1)
        np.put_along_axis(grad, self.index, picked - (1.0 - eps) * self.w_t * g, axis=1)
        return grad


class NllLoss(_ClassIndexLoss):
    """Negative log-likelihood of log-probabilities x over class indices:

        ℓᵢ = −w[tᵢ]·x[i, tᵢ]   (0 where tᵢ = ignore_index);   dℓᵢ/dx[i, c] = −w[tᵢ]·[c = tᵢ]
    """

    def forward(self, x, target=None, weight=None, ignore_index=-100, reduction="mean"):
        self._targets(x, target, weight, ignore_index, reduction)
        self.save_for_backward(x)
        return self._reduce(np.take_along_axis(x, self.index, axis=1) * -self.w_t)

    def backward(self, gy):
        (x,) = self.saved_tensors
        g = self._upstream(gy)
        if _on_graph(x):  # linear in x: the gradient depends on dL/dy only
            return self._one_hot(x, -self.w_t) * g
        return self._one_hot(x, -self.w_t * g)


class BinaryCrossEntropy(Function):
    """Binary cross-entropy of probabilities x against targets t, each log clamped at −100 as in PyTorch:

        ℓ = −(t·log x + (1 − t)·log(1 − x))
        dℓ/dx = (x − t) / max(x(1 − x), 10⁻¹²),   dℓ/dt = log(1 − x) − log x
    """

    def forward(self, x, t):
        self.save_for_backward(x, t)
        log_x, log_1mx = self._logs(x)
        return -(t * log_x + (1 - t) * log_1mx)

    @staticmethod
    def _logs(x):
        with np.errstate(divide="ignore"):
            return np.maximum(np.log(x), -100.0), np.maximum(np.log1p(-x), -100.0)

    def backward(self, gy):
        x, t = self.saved_tensors
        gx = gy * (x - t) / np.maximum(x * (1 - x), 1e-12)
        gt = None
        if getattr(self.inputs[1], "requires_grad", False):
            log_x, log_1mx = self._logs(x)
            gt = gy * (log_1mx - log_x)
        return gx, gt


class BinaryCrossEntropyWithLogits(Function):
    """Binary cross-entropy of σ(x) against targets t, from the logits x, with positive-class weight pw:

        ℓ = (1 − t)·x − (1 + (pw − 1)·t)·log σ(x)          (log σ computed stably, see LogSigmoid)
        dℓ/dx = (1 + (pw − 1)·t)·σ(x) − pw·t               (= σ(x) − t without pw: no cancellation)
        dℓ/dt = −x − (pw − 1)·log σ(x)
    """

    def forward(self, x, t, pos_weight=None):
        self.pos_weight = pos_weight
        self.save_for_backward(x, t)
        log_sig = _log_sigmoid(x)
        if pos_weight is None:
            return (1 - t) * x - log_sig
        return (1 - t) * x - (1 + (pos_weight - 1) * t) * log_sig

    def backward(self, gy):
        x, t = self.saved_tensors
        pw = self.pos_weight
        sig = Sigmoid.call(x)
        gx = gy * (sig - t) if pw is None else gy * ((1 + (pw - 1) * t) * sig - pw * t)
        gt = None
        if getattr(self.inputs[1], "requires_grad", False):
            gt = -gy * x if pw is None else -gy * (x + (pw - 1) * LogSigmoid.call(x))
        return gx, gt


def _log_sigmoid(x):
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


class LogSigmoid(Function):
    """y = log σ(x) = min(x, 0) − log(1 + e^{−|x|})   (never overflows);   dL/dx = dL/dy · (1 − σ(x))"""

    def forward(self, x):
        self.save_for_backward(x)
        return _log_sigmoid(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * (1 - Sigmoid.call(x))


class MeanSquaredError(Function):
    """L = (1/n) Σ (x − t)²  (or the sum);   dL/dx = dL/dL · 2(x − t)/n,   dL/dt = −dL/dx — one node for the loss

    Fast path (glassnet/fast_paths.py). Reference: ((x - t) ** 2).mean().
    """

    def forward(self, x, t, mean=True):
        self.save_for_backward(x, t)
        self.diff = diff = x - t
        self.scale = 2.0 / diff.size if mean and diff.size else 2.0
        total = np.vdot(diff, diff) if diff.dtype.kind == "f" else (diff * diff).sum()
        return array_module(diff).asarray(total / diff.size if mean else total, diff.dtype)

    def backward(self, gy):
        x, t = self.saved_tensors
        diff = self.diff if is_array(x) else x - t  # recomputed on the graph when differentiated twice
        gx = diff * (gy * self.scale)
        return gx, -gx if self.input_requires_grad(1) else None
