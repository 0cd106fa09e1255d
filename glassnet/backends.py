"""`gn.backends`: the switches of `torch.backends` that ported scripts set or ask (`torch.backends.mps.is_available()`,
`torch.backends.cudnn.deterministic = True`). glassnet has no MPS or cuDNN backend: the answers say so, and the
switches are kept as plain attributes that change nothing (glassnet's own kernels are deterministic)."""

from __future__ import annotations

from types import SimpleNamespace


def _false() -> bool:
    return False


mps = SimpleNamespace(is_available=_false, is_built=_false)
cudnn = SimpleNamespace(enabled=True, benchmark=False, deterministic=False, allow_tf32=True, is_available=_false)
cuda = SimpleNamespace(matmul=SimpleNamespace(allow_tf32=False), is_built=_false)

__all__ = ["mps", "cudnn", "cuda"]
