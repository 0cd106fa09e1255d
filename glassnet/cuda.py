"""`gn.cuda`: whether NVIDIA GPUs are usable, how many, and waiting for them (CuPy is loaded only when asked)."""

from __future__ import annotations

from glassnet import backend


def is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU."""
    return backend.cuda_device_count() > 0


def device_count() -> int:
    """The number of GPUs CuPy sees (0 without CuPy or without a GPU)."""
    return backend.cuda_device_count()


def synchronize(device: int | str | None = None) -> None:
    """Wait until every queued GPU kernel has finished (for timing); nothing to wait for without a GPU."""
    if "cuda" not in backend._devices:  # CUDA was never used in this process: nothing can be queued
        return
    cupy = backend._devices["cuda"].module
    index = backend.Device(device).index if isinstance(device, str) else device
    with cupy.cuda.Device(index or 0):
        cupy.cuda.get_current_stream().synchronize()


def manual_seed(seed: int) -> None:
    """PyTorch's seed of the GPU's random stream. glassnet has one stream for every device: random tensors are drawn
    from the default generator (which `gn.manual_seed` seeds) and then moved, so there is no separate GPU stream to
    seed and this only checks the seed."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"cuda.manual_seed: expected an int seed, got {type(seed).__name__}")


manual_seed_all = manual_seed  # every GPU: the same single stream
