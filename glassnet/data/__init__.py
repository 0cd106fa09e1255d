"""Data: bundled datasets (so examples need no download); loaders and DataLoader come with the data issue."""

from glassnet.data.datasets import load_digits

__all__ = ["load_digits"]
