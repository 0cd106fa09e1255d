"""Random number streams: a default generator seeded by `gn.manual_seed`, and `Generator` for private streams."""

from __future__ import annotations

import numpy


class Generator:
    """A reproducible random stream (NumPy's PCG64 underneath); pass it as `generator=` to random factories."""

    def __init__(self, seed: int | None = None):
        self.manual_seed(seed if seed is not None else 0)

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from `seed`."""
        if not isinstance(seed, (int, numpy.integer)) or isinstance(seed, bool):
            raise TypeError(f"manual_seed: expected an int seed, got {type(seed).__name__}")
        self.initial_seed = int(seed)
        self.rng = numpy.random.Generator(numpy.random.PCG64(int(seed)))
        return self

    def get_state(self) -> dict:
        """The stream's position, as a JSON-serialisable dict (for checkpoints)."""
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        """Return the stream to a position saved with `get_state`."""
        self.rng.bit_generator.state = state


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (every random factory, dropout and shuffling that is not given its own)."""
    return default_generator.manual_seed(seed)


def get_rng(generator: Generator | None) -> numpy.random.Generator:
    """The NumPy generator behind `generator`, or behind the default one."""
    return (generator or default_generator).rng
