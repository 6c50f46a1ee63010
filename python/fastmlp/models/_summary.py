"""The text of ``Sequential.summary()``: Keras 3's table layout and totals."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

import numpy as np

_WIDTHS = (33, 24, 15)
_TRAINABLE_WIDTH = 11  # the "Trainable" column of show_trainable=True
_UNICODE = {"top": "┏━┳┓", "head": "┃┃┃", "sep_head": "┡━╇┩", "row": "│││",
            "sep": "├─┼┤", "bottom": "└─┴┘"}
_ASCII = {"top": "+=++", "head": "|||", "sep_head": "+=++", "row": "|||",
          "sep": "+-++", "bottom": "+-++"}


def readable_size(nbytes: float) -> str:
    """Keras's format: "198.79 KB", "0.00 B"."""
    units = ["B", "KB", "MB", "GB", "TB"]
    i = 0
    while nbytes >= 1024 and i < len(units) - 1:
        nbytes /= 1024
        i += 1
    return f"{nbytes:.2f} {units[i]}"


def _shape(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _rule(chars: str, widths: Sequence[int]) -> str:
    left, fill, mid, right = chars
    return left + mid.join(fill * w for w in widths) + right


def _row(cells: List[str], chars: str, widths: Sequence[int],
         right_align_last: bool = True) -> str:
    edge, mid, _ = chars
    parts = []
    for i, (cell, w) in enumerate(zip(cells, widths)):
        inner = w - 2
        cell = cell if len(cell) <= inner else cell[:inner - 1] + "…"
        text = cell.rjust(inner) if i == 2 and right_align_last else \
            cell.center(inner) if i == 3 else cell.ljust(inner)
        parts.append(" " + text + " ")
    return edge + mid.join(parts) + edge


def summary_lines(model: Any, encoding: Optional[str], show_trainable: bool = False
                  ) -> List[str]:
    box = _UNICODE
    try:
        "┏━┃│└".encode(encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        box = _ASCII
    widths = _WIDTHS + ((_TRAINABLE_WIDTH,) if show_trainable else ())
    header = ["Layer (type)", "Output Shape", "Param #"] + (["Trainable"] if show_trainable
                                                           else [])
    lines = [f'Model: "{model.name}"', _rule(box["top"], widths),
             _row(header, box["head"], widths), _rule(box["sep_head"], widths)]
    if not model.built:  # Keras 3 prints the layers of an unbuilt model too
        return lines + _unbuilt_rows(model, box, widths, show_trainable)
    shapes = model._output_shapes()
    # The core's shapes only: no weight is copied, and the table is linear in the layers.
    sizes = iter([int(np.prod(s, dtype=np.int64)) for s in model._core.tensor_shapes()])
    trainable = non_trainable = 0
    nbytes = [0, 0]  # trainable, non-trainable: as Keras, int8 kernels count 1 byte a value
    for i, (layer, shape) in enumerate(zip(model.layers, shapes)):
        if i:
            lines.append(_rule(box["sep"], widths))
        count = 0
        names = layer.weight_names()
        for w, (_, is_trainable) in enumerate(names):
            size = next(sizes)
            count += size
            # as model.trainable_weights counts them (a frozen layer's or model's: none)
            is_trainable = is_trainable and layer.trainable and model.trainable
            nbytes[not is_trainable] += size * np.dtype(layer._weight_dtype(w)).itemsize
            if is_trainable:
                trainable += size
            else:
                non_trainable += size
        cells = [f"{layer.name} ({type(layer).__name__})", _shape(shape), f"{count:,}"]
        if show_trainable:
            cells.append(("Y" if layer.trainable else "N") if names else "-")
        lines.append(_row(cells, box["row"], widths))
    lines.append(_rule(box["bottom"], widths))
    optimizer_params = model._optimizer_param_count()
    total = trainable + non_trainable + optimizer_params
    lines.append(f" Total params: {total:,} "
                 f"({readable_size(sum(nbytes) + optimizer_params * 4)})")
    lines.append(f" Trainable params: {trainable:,} ({readable_size(nbytes[0])})")
    lines.append(f" Non-trainable params: {non_trainable:,} ({readable_size(nbytes[1])})")
    if optimizer_params:
        lines.append(f" Optimizer params: {optimizer_params:,} "
                     f"({readable_size(optimizer_params * 4)})")
    lines.extend(_policy_lines(model.layers))
    return lines


def _unbuilt_rows(model: Any, box: dict, widths: Sequence[int], show_trainable: bool
                  ) -> List[str]:
    """Keras's rows for layers not built yet ("?", "0 (unbuilt)") and zero totals."""
    lines = []
    for i, layer in enumerate(model.layers):
        if i:
            lines.append(_rule(box["sep"], widths))
        cells = [f"{layer.name} ({type(layer).__name__})", "?", "0 (unbuilt)"]
        if show_trainable:
            cells.append(("Y" if layer.trainable else "N") if layer.weight_names() else "-")
        lines.append(_row(cells, box["row"], widths))
    lines.append(_rule(box["bottom"], widths))
    return lines + [f" {kind} params: 0 (0.00 B)" for kind in ("Total", "Trainable",
                                                                 "Non-trainable")]


def _policy_lines(layers: List[Any]) -> List[str]:
    """Which layers compute under which dtype policy, unless every layer is float32."""
    by_policy: dict = {}
    for layer in layers:
        if getattr(layer, "weight_names", None) and layer.weight_names():
            by_policy.setdefault(layer.dtype_policy.name, []).append(layer.name)
    if set(by_policy) <= {"float32"}:
        return []
    return [" Dtype policies: " + "; ".join(f"{name} ({', '.join(names)})"
                                            for name, names in by_policy.items())]
