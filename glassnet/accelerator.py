"""`gn.accelerator`: PyTorch's device-neutral spelling (`torch.accelerator`), as the official examples now write it:
`device = gn.accelerator.current_accelerator() if gn.accelerator.is_available() else gn.device("cpu")`."""

from __future__ import annotations

from glassnet import backend, cuda


def is_available() -> bool:
    """True when an accelerator (a CUDA GPU through CuPy) is usable."""
    return cuda.is_available()


def device_count() -> int:
    """How many accelerators there are (0 without one)."""
    return cuda.device_count()


def current_accelerator(check_available: bool = False) -> backend.Device | None:
    """The accelerator's device type, gn.device("cuda"); None when check_available=True and none is usable."""
    if check_available and not is_available():
        return None
    return backend.Device("cuda")


def synchronize(device=None) -> None:
    """Wait for the accelerator's queued work (nothing to wait for without one)."""
    cuda.synchronize(device)
