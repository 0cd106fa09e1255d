"""ONNX export: `export(model, example_input, path)` traces one forward pass and writes it as an ONNX graph."""

from glassnet.io.onnx.exporter import CONVERTERS, export

__all__ = ["export", "CONVERTERS"]
