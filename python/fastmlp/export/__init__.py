"""Export of fastmlp models to other runtimes (ONNX; needs the optional extra `onnx`)."""

from __future__ import annotations

import os
import typing as _typing

from fastmlp.export.onnx import export_onnx

if _typing.TYPE_CHECKING:
    from typing import Any, Union

__all__ = ["FORMATS", "export_model", "export_onnx"]

FORMATS = ("onnx",)


def export_model(model: Any, filepath: Union[str, os.PathLike], format: str = "onnx",
                 **kwargs: Any):
    """Writes a built `Sequential` model for inference in another runtime (what
    ``Sequential.export`` calls).

    Args:
        model: a built ``fastmlp.Sequential``.
        filepath: the file to write.
        format: "onnx" (the only format). Defaults to "onnx".
        **kwargs: passed to `export_onnx` (``opset``, ``input_name``, ``output_name``,
            ``fold_batchnorm``).

    Returns:
        The ``onnx.ModelProto`` written. Its input has shape (batch, *input_shape[1:]).
    """
    if format not in FORMATS:
        raise ValueError(f"Received an invalid value for `format`, expected one of {FORMATS}. "
                         f"Received: format={format!r}")
    if not getattr(model, "built", False):
        raise ValueError("The model must be built (give it an input shape or call it on data) "
                         "before it can be exported.")
    sample_shape = tuple(model._sample_shape)
    # The core sees each sample flattened; a multi-dimensional input is flattened first, which
    # commutes with the element-wise layers (Rescaling) that may precede a Flatten layer.
    specs = [{"type": "flatten"}] if len(sample_shape) > 1 else []
    specs += [s for s in (layer._build_spec() for layer in model.layers) if s]
    return export_onnx(filepath, sample_shape, specs, model.get_weights(),
                       model_name=getattr(model, "name", "fastmlp"), **kwargs)
