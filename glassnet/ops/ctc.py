"""Connectionist temporal classification (CTC): the negative log-likelihood of a label sequence summed over every
alignment of it to the input frames, by the forward-backward (alpha/beta) recursions in log space, and its gradient.

Notation, for one sample: lp[t, c] are the log-probabilities of class c at frame t (t < T), l = (l₁ … l_L) the
target labels, and l' = (blank, l₁, blank, l₂, …, l_L, blank) the extended sequence of S = 2L + 1 states. An alignment
is a path through the states that at each frame stays, moves one state on, or skips a blank between two different
labels; its probability is Π_t exp(lp[t, l'ₛ₍ₜ₎]).

    α_t(s) = log Σ over path prefixes that are at state s at frame t   (including frame t's lp)
           = lp[t, l'ₛ] + logsumexp(α_{t−1}(s), α_{t−1}(s−1), α_{t−1}(s−2) if l'ₛ ≠ blank and l'ₛ ≠ l'ₛ₋₂)
    α_0(0) = lp[0, blank],   α_0(1) = lp[0, l₁],   the other α_0 = −∞
    β_t(s) = log Σ over path suffixes from state s at frame t to the end   (also including frame t's lp)
           = lp[t, l'ₛ] + logsumexp(β_{t+1}(s), β_{t+1}(s+1), β_{t+1}(s+2) if l'ₛ ≠ blank and l'ₛ ≠ l'ₛ₊₂)
    β_{T−1}(S−1) = lp[T−1, blank],   β_{T−1}(S−2) = lp[T−1, l_L]
    loss = −log p(l | x) = −logsumexp(α_{T−1}(S−1), α_{T−1}(S−2))

α_t(s) + β_t(s) − lp[t, l'ₛ] is the log of the total probability of the paths through state s at frame t, so
γ_t(s) = exp(α_t(s) + β_t(s) − lp[t, l'ₛ] + loss) is the posterior probability of being there, and

    d loss / d lp[t, c] = − Σ_{s : l'ₛ = c} γ_t(s)                          (t < T; 0 for the padded frames t ≥ T)

PyTorch's backward returns exp(lp[t, c]) − Σ_{s : l'ₛ = c} γ_t(s): the derivative above plus softmax(x), which is
what the derivative becomes once it has gone back through the log_softmax that produces lp (the added exp(lp) sums
to 1 over c and log_softmax's backward removes exactly such a term). glassnet follows PyTorch's convention, so
gradients agree with PyTorch's for the log-probability tensor itself; through log_softmax both conventions give the
same, exact, gradient of the input (that is what the finite-difference checks compare).
"""

from __future__ import annotations

from glassnet.autograd import Function
from glassnet.backend import array_module, is_array, np, scatter_add


def _logsumexp(*terms):
    """log Σ exp(terms), elementwise, with −∞ (not NaN) where every term is −∞."""
    top = terms[0]
    for t in terms[1:]:
        top = np.maximum(top, t)
    safe = np.where(np.isfinite(top), top, 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        total = sum(np.exp(t - safe) for t in terms)
        return np.where(np.isneginf(top), -np.inf, np.log(total) + safe)


def _shift(a, k: int):
    """a moved k places to the right along the last axis, −∞ filling the start: out[..., s] = a[..., s − k]."""
    out = np.full_like(a, -np.inf)
    out[..., k:] = a[..., : a.shape[-1] - k]
    return out


class CtcLoss(Function):
    """loss_n = −log p(targets_n | log_probs[:, n]) for each sample n (the module docstring has the recursions).

    log_probs (T, N, C); targets (N, L_max) padded integer labels; input_lengths, target_lengths (N,) host integers.
    zero_infinity: an impossible alignment (loss = ∞) gives loss 0 and gradient 0 instead.
    """

    def forward(self, log_probs, targets=None, input_lengths=None, target_lengths=None, blank=0,
                zero_infinity=False):
        xp = array_module(log_probs)
        frames, batch, classes = log_probs.shape
        states = 2 * (targets.shape[1] if targets.ndim == 2 else 0) + 1
        # l': blank, l₁, blank, l₂, …, blank (padded samples: blank beyond their own 2L + 1 states)
        ext = xp.full((batch, states), blank, dtype=xp.int64)
        ext[:, 1::2] = targets
        valid = xp.arange(states)[None, :] < (2 * target_lengths + 1)[:, None]
        ext = xp.where(valid, ext, blank)
        skip = xp.zeros((batch, states), dtype=bool)  # may a path jump from state s − 2 to s?
        skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
        # lp_ext[t, n, s] = lp[t, n, l'ₛ], and −∞ on the padded states (so no path goes there)
        lp_ext = log_probs[:, xp.arange(batch)[:, None], ext]
        lp_ext = xp.where(valid[None], lp_ext, -xp.inf)

        alpha = xp.full((frames, batch, states), -xp.inf, dtype=log_probs.dtype)
        alpha[0, :, :2] = lp_ext[0, :, :2]
        for t in range(1, frames):
            prev = alpha[t - 1]
            alpha[t] = lp_ext[t] + _logsumexp(prev, _shift(prev, 1), xp.where(skip, _shift(prev, 2), -xp.inf))

        last = input_lengths - 1  # each sample's last frame
        rows = xp.arange(batch)
        end = 2 * target_lengths  # the last state, S − 1
        at_end = alpha[last, rows]
        log_p = _logsumexp(at_end[rows, end], xp.where(end > 0, at_end[rows, xp.maximum(end - 1, 0)], -xp.inf))
        loss = -log_p
        self.save_for_backward(log_probs)
        self.ext, self.skip, self.lp_ext, self.alpha, self.loss = ext, skip, lp_ext, alpha, loss
        self.input_lengths, self.target_lengths, self.zero_infinity = input_lengths, target_lengths, zero_infinity
        if zero_infinity:
            loss = xp.where(xp.isinf(loss), 0, loss)
        return loss

    def _beta(self):
        """β, by the backward recursion (each sample starting at its own last frame)."""
        xp = array_module(self.lp_ext)
        lp_ext, skip = self.lp_ext, self.skip
        frames, batch, states = lp_ext.shape
        rows = xp.arange(batch)
        end = 2 * self.target_lengths
        beta = xp.full((frames, batch, states), -xp.inf, dtype=lp_ext.dtype)
        skip_next = xp.zeros_like(skip)  # may a path jump from s to s + 2?  (the same test, seen from s + 2)
        skip_next[:, :-2] = skip[:, 2:]
        for t in range(frames - 1, -1, -1):
            start = self.input_lengths - 1 == t  # the samples whose last frame is t
            nxt = beta[t + 1] if t + 1 < frames else beta[t]
            following = lp_ext[t] + _logsumexp(nxt, _shift_left(nxt, 1), xp.where(skip_next, _shift_left(nxt, 2),
                                                                                  -xp.inf))
            following = xp.where((self.input_lengths - 1 > t)[:, None], following, -xp.inf)
            init = xp.full((batch, states), -xp.inf, dtype=lp_ext.dtype)  # a path ends in the last blank …
            init[rows, end] = lp_ext[t, rows, end]
            labelled = end > 0  # … or on the last label
            init[rows[labelled], end[labelled] - 1] = lp_ext[t, rows[labelled], end[labelled] - 1]
            beta[t] = xp.where(start[:, None], init, following)
        return beta

    def backward(self, gy):
        if not is_array(gy):
            raise NotImplementedError("ctc_loss: the second derivative is not implemented (as in PyTorch); "
                                      "differentiate it once, without create_graph=True")
        (log_probs,) = self.saved_tensors
        xp = array_module(log_probs)
        frames, batch, classes = log_probs.shape
        beta = self._beta()
        with np.errstate(invalid="ignore", over="ignore"):
            log_gamma = self.alpha + beta - self.lp_ext + self.loss[None, :, None]
            gamma = xp.where(xp.isneginf(self.alpha + beta), 0, xp.exp(log_gamma))  # paths through (t, s)
            occupancy = xp.zeros((frames, batch, classes), dtype=log_probs.dtype)  # Σ_{s: l'ₛ = c} γ_t(s)
            t_idx = xp.arange(frames)[:, None, None]
            n_idx = xp.arange(batch)[None, :, None]
            scatter_add(occupancy, (t_idx, n_idx, self.ext[None]), gamma)
            grad = xp.exp(log_probs) - occupancy
        # an impossible target (loss ∞): gradient 0 with zero_infinity, else NaN (PyTorch's exp(−∞ + ∞))
        grad = xp.where(xp.isinf(self.loss)[None, :, None], 0 if self.zero_infinity else xp.nan, grad)
        inside = (xp.arange(frames)[:, None] < self.input_lengths[None, :])[:, :, None]
        grad = xp.where(inside, grad, 0)  # the padded frames get no gradient
        return grad * gy[None, :, None]


def _shift_left(a, k: int):
    """a moved k places to the left along the last axis, −∞ filling the end: out[..., s] = a[..., s + k]."""
    out = np.full_like(a, -np.inf)
    out[..., : a.shape[-1] - k] = a[..., k:]
    return out
