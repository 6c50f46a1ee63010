"""Freezing (Keras's ``trainable``) as the training loop sees it.

As in Keras 3 (keras/src/trainers/trainer.py, ``compile``): the trainable variables are fixed
when the model is compiled. ``layer.trainable`` and ``trainable_weights`` change at once, the
loop only at the next ``compile``; until then fit/evaluate warn once with Keras's message (Keras
3.15 has that warning in ``_warn_if_trainable_state_changed``, unreachable after a ``raise``).
The core receives one "frozen" flag per core layer at compile.

The optimizer keeps its state across ``compile`` calls given the same instance, as a Keras
optimizer object does: the slots of a weight frozen since are kept aside (not advanced) and
resume when it is unfrozen, the iteration count goes on; a weight the optimizer never had
(frozen when it first stepped) is refused with Keras's "Unknown variable" error. A new
optimizer (a name, a new object) starts afresh.
"""

from __future__ import annotations

import typing as _typing
import warnings

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

# Keras's words (trainer.py, _warn_if_trainable_state_changed).
_CHANGED = ("A layer's `trainable` state has changed since the model was compiled. This can "
            "result in unexpected behavior, as the compiled optimizer and loss functions may not "
            "track the correct variables. Please recompile your model (e.g. `model.compile(...)`) "
            "before calling `fit()` or `evaluate()` so the change takes effect. "
            "Changed layers: {}")
NO_TRAINABLE = "The model does not have any trainable weights."


def snapshot(model: Any) -> Dict[Any, bool]:
    """The model's and each layer's trainable flag, as compile records them."""
    state = {model: model.trainable}
    state.update((layer, layer.trainable) for layer in model.layers)
    return state


def _trains(model: Any, layer: Any, state: Optional[Dict[Any, bool]]) -> bool:
    """Whether the loop trains ``layer``: by the flags compile recorded (a layer added since
    by its own), or by the current flags when ``state`` is None."""
    if state is None:
        return model.trainable and layer.trainable
    return state.get(model, model.trainable) and state.get(layer, layer.trainable)


def frozen_flags(model: Any) -> List[bool]:
    """One flag per core layer (the layers with a core spec), for ``_core.Model.compile``."""
    state = model._compiled_trainable
    return [not _trains(model, layer, state) for layer in model.layers
            if layer._build_spec() is not None]


def optimized_tensors(model: Any, current: bool = False) -> List[int]:
    """Indices (``get_weights()`` order) of the tensors the optimizer updates: those of the
    compiled flags, or of the current ones."""
    state = None if current else model._compiled_trainable
    out: List[int] = []
    for layer in model.layers:
        if _trains(model, layer, state):
            out += [layer._weight_offset + i for i, (_, trainable) in
                    enumerate(layer.weight_names()) if trainable]
    return out


def stale(model: Any) -> bool:
    """True when the current flags select other tensors than the compiled optimizer has."""
    return model._optimizer_tensors is not None and \
        optimized_tensors(model, current=True) != model._optimizer_tensors


def warn_if_changed(model: Any) -> None:
    """Keras's warning, once per compile, when a flag changed since compile."""
    state = getattr(model, "_compiled_trainable", None)
    if state is None or model._trainable_warned:
        return
    # a layer added since compile is trained by its own flag (_trains): not a change
    changed = [obj.name for obj, flag in snapshot(model).items()
               if obj in state and state[obj] != flag]
    if changed:
        model._trainable_warned = True
        warnings.warn(_CHANGED.format(changed), UserWarning, stacklevel=4)


def _variable(model: Any, index: int) -> Any:
    for layer in model.layers:
        count = len(layer.weight_names())
        if layer._weight_offset <= index < layer._weight_offset + count:
            return layer.weights[index - layer._weight_offset]
    raise IndexError(index)


def carried_state(model: Any, optimizer: Any, tensors: List[int]
                  ) -> Optional[Tuple[int, List[Any]]]:
    """The (iterations, slots) for ``tensors`` that ``optimizer``, compiled on this model's core
    before, goes on from; None when it never stepped (Keras builds it afresh then). Raises
    Keras's ValueError for a tensor it never had."""
    core = model._core
    old = model._optimizer_tensors
    if old is None or optimizer._core is not core:
        return None
    iterations, slots = core.get_optimizer_state()
    if int(iterations) == 0:
        return None
    per = len(slots) // len(old) if old else optimizer._slots_per_tensor
    by_tensor: Dict[int, List[Any]] = dict(optimizer._parked_slots)
    for k, t in enumerate(old):
        by_tensor[t] = list(slots[k * per:(k + 1) * per])
    for t in tensors:
        if t not in by_tensor:
            raise ValueError(f"Unknown variable: {_variable(model, t)!r}. This optimizer can only "
                             "be called for the variables it was originally built with. When "
                             "working with a new set of variables, you should recreate a new "
                             "optimizer instance.")
    kept = set(tensors)
    optimizer._parked_slots = {t: v for t, v in by_tensor.items() if t not in kept}
    optimizer._slots_per_tensor = per
    return int(iterations), [s for t in tensors for s in by_tensor[t]]
