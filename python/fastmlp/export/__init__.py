"""Export of fastmlp models to other runtimes (ONNX; needs the optional extra `onnx`)."""

from fastmlp.export.onnx import export_onnx

__all__ = ["export_onnx"]
