"""Side-by-side benchmarks of glassnet against NumPy and PyTorch (PyTorch is a benchmark-only dependency)."""
