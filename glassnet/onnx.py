"""gn.onnx: export glassnet models to ONNX (the implementation lives in glassnet.io.onnx)."""

from glassnet.io.onnx import export

__all__ = ["export"]
