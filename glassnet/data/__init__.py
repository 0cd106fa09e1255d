"""Data: datasets, samplers and the DataLoader; image transforms; bundled data sets (no download needed);
MNIST/Fashion-MNIST IDX readers; character-level text; 2-D toy problems."""

from glassnet.data import toy, transforms
from glassnet.data.dataloader import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
    default_collate,
)
from glassnet.data.dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from glassnet.data.datasets import load_digits, load_mnist_small, load_text_small
from glassnet.data.distributed import DistributedSampler
from glassnet.data.idx import MNIST, FashionMNIST, read_idx
from glassnet.data.text import CharDataset
from glassnet.data.toy import blobs, circles, mode_coverage, moons, ring_centers, ring_of_gaussians, spiral, xor
from glassnet.data.workers import get_worker_info

__all__ = [
    "BatchSampler", "CharDataset", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler", "FashionMNIST",
    "IterableDataset",
    "MNIST",
    "RandomSampler", "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset",
    "WeightedRandomSampler",
    "blobs", "circles", "default_collate", "load_digits", "load_mnist_small", "load_text_small",
    "get_worker_info", "mode_coverage", "moons", "random_split",
    "read_idx", "ring_centers", "ring_of_gaussians", "spiral", "toy", "transforms", "xor",
]
