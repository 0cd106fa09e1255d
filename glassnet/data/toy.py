"""Generators for 2-D toy problems: small point clouds for classifiers (spiral, moons, circles, xor, blobs)
and for generative models (a ring of gaussians).

Every generator returns `X` float32 (n, 2) and `y` int64 (n,) as NumPy arrays; wrap them in a `TensorDataset`
to train on. Randomness comes from `seed=` (a private stream) or `generator=` (a `gn.Generator`); with neither,
from glassnet's default generator (`gn.manual_seed`).
"""

from __future__ import annotations

import numpy

from glassnet.random import Generator, get_rng


def _rng(seed: int | None, generator: Generator | None) -> numpy.random.Generator:
    if seed is not None and generator is not None:
        raise ValueError("pass either seed= or generator=, not both")
    if seed is not None:
        return numpy.random.Generator(numpy.random.PCG64(seed))
    return get_rng(generator)


def _check_n(name: str, n: int, noise: float) -> None:
    if not isinstance(n, (int, numpy.integer)) or n <= 0:
        raise ValueError(f"{name}: n must be a positive int, got {n!r}")
    if noise < 0:
        raise ValueError(f"{name}: noise must be >= 0, got {noise}")


def _split(n: int, k: int) -> numpy.ndarray:
    """Class of each of n points when they are shared as evenly as possible among k classes."""
    return numpy.repeat(numpy.arange(k), [n // k + (i < n % k) for i in range(k)])


def _out(x: numpy.ndarray, y: numpy.ndarray, rng: numpy.random.Generator, noise: float) -> tuple:
    x = x + noise * rng.standard_normal(x.shape)
    return x.astype(numpy.float32), y.astype(numpy.int64)


def spiral(n: int = 300, noise: float = 0.2, n_classes: int = 3, seed: int | None = None,
           generator: Generator | None = None) -> tuple[numpy.ndarray, numpy.ndarray]:
    """`n_classes` interleaved spiral arms (CS231n's spiral); points lie within radius 1."""
    _check_n("spiral", n, noise)
    rng = _rng(seed, generator)
    y = _split(n, n_classes)
    r = numpy.concatenate([numpy.linspace(0.0, 1.0, int((y == c).sum())) for c in range(n_classes)])
    t = y * (2 * numpy.pi / n_classes) + r * 4.0 + noise * rng.standard_normal(n)
    x = numpy.stack([r * numpy.sin(t), r * numpy.cos(t)], axis=1)
    return x.astype(numpy.float32), y.astype(numpy.int64)


def moons(n: int = 200, noise: float = 0.1, seed: int | None = None,
          generator: Generator | None = None) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Two interleaving half circles (scikit-learn's make_moons)."""
    _check_n("moons", n, noise)
    rng = _rng(seed, generator)
    y = _split(n, 2)
    t = numpy.concatenate([numpy.linspace(0, numpy.pi, int((y == c).sum())) for c in range(2)])
    x = numpy.where(y[:, None] == 0,
                    numpy.stack([numpy.cos(t), numpy.sin(t)], 1),
                    numpy.stack([1 - numpy.cos(t), 0.5 - numpy.sin(t)], 1))
    return _out(x, y, rng, noise)


def circles(n: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int | None = None,
            generator: Generator | None = None) -> tuple[numpy.ndarray, numpy.ndarray]:
    """A small circle (class 1, radius `factor`) inside a large one (class 0, radius 1)."""
    _check_n("circles", n, noise)
    if not 0 < factor < 1:
        raise ValueError(f"circles: factor must be in (0, 1), got {factor}")
    rng = _rng(seed, generator)
    y = _split(n, 2)
    t = rng.uniform(0, 2 * numpy.pi, n)
    r = numpy.where(y == 0, 1.0, factor)
    return _out(numpy.stack([r * numpy.cos(t), r * numpy.sin(t)], 1), y, rng, noise)


def xor(n: int = 200, noise: float = 0.1, seed: int | None = None,
        generator: Generator | None = None) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Points uniform in [-1, 1]²; the label is 1 where the signs of the two coordinates differ (before noise)."""
    _check_n("xor", n, noise)
    rng = _rng(seed, generator)
    x = rng.uniform(-1, 1, (n, 2))
    y = ((x[:, 0] > 0) != (x[:, 1] > 0)).astype(numpy.int64)
    return _out(x, y, rng, noise)


def blobs(n: int = 200, noise: float = 1.0, centers: int | numpy.ndarray = 3, box: float = 10.0,
          seed: int | None = None, generator: Generator | None = None) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Isotropic gaussian blobs with standard deviation `noise` around `centers` (a count, drawn uniformly in
    [-box, box]², or a (k, 2) array)."""
    _check_n("blobs", n, noise)
    rng = _rng(seed, generator)
    if isinstance(centers, (int, numpy.integer)):
        centers = rng.uniform(-box, box, (int(centers), 2))
    centers = numpy.asarray(centers, dtype=numpy.float64)
    if centers.ndim != 2 or centers.shape[1] != 2:
        raise ValueError(f"blobs: centers must be an int or a (k, 2) array, got shape {centers.shape}")
    y = _split(n, len(centers))
    return _out(centers[y], y, rng, noise)


def ring_of_gaussians(n: int = 1000, n_modes: int = 8, radius: float = 2.0, std: float = 0.02,
                      return_labels: bool = False, seed: int | None = None, generator: Generator | None = None,
                      noise: float | None = None) -> numpy.ndarray | tuple[numpy.ndarray, numpy.ndarray]:
    """`n_modes` gaussians of standard deviation `std` (alias `noise`) evenly spaced on a circle of `radius` —
    the classic GAN mode-collapse test. Returns X, or (X, mode) with `return_labels=True`."""
    std = std if noise is None else noise
    _check_n("ring_of_gaussians", n, std)
    rng = _rng(seed, generator)
    mode = rng.integers(0, n_modes, n)
    angle = 2 * numpy.pi * mode / n_modes
    x, y = _out(radius * numpy.stack([numpy.cos(angle), numpy.sin(angle)], 1), mode, rng, std)
    return (x, y) if return_labels else x


def ring_centers(n_modes: int = 8, radius: float = 2.0) -> numpy.ndarray:
    """The (n_modes, 2) centres of `ring_of_gaussians` (to count how many modes a generator covers)."""
    angle = 2 * numpy.pi * numpy.arange(n_modes) / n_modes
    return (radius * numpy.stack([numpy.cos(angle), numpy.sin(angle)], 1)).astype(numpy.float32)


def mode_coverage(points: numpy.ndarray, centers: numpy.ndarray, std: float) -> tuple[int, float, list[int]]:
    """How well samples cover a mixture's modes: (modes with at least one sample within 3 std of their centre,
    fraction of all samples within 3 std of their nearest centre, that count per mode).

    The measure used to call a GAN on `ring_of_gaussians` successful (all modes, most samples close to one).
    """
    points, centers = numpy.asarray(points, dtype=numpy.float64), numpy.asarray(centers, dtype=numpy.float64)
    if points.ndim != 2 or centers.ndim != 2 or points.shape[1] != centers.shape[1] or len(points) == 0:
        raise ValueError(f"mode_coverage: expected points (N, D) and centers (K, D) with N > 0, got "
                         f"{points.shape} and {centers.shape}")
    d = numpy.linalg.norm(points[:, None, :] - centers[None, :, :], axis=2)
    nearest = d.argmin(1)
    close = d.min(1) < 3 * std
    per_mode = [int(numpy.sum(close & (nearest == k))) for k in range(len(centers))]
    return sum(c > 0 for c in per_mode), float(close.mean()), per_mode
