"""The optimizer's state as Keras 3 stores it (``optimizer/vars/<i>`` of the weights file) and
as fastmlp's core keeps it.

Keras: ``[iteration, learning_rate (absent with a schedule), slot variables...]`` where each
``add_optimizer_variables`` call of the optimizer's ``build`` adds its slots for every
trainable weight in turn, interleaved when it names several (Adam: momentum_0, velocity_0,
momentum_1, ..., then the velocity_hats if amsgrad); Nadam appends its ``u_product``.
fastmlp's core: the slots of weight 0, then of weight 1, ... (`slot` below says which of a
weight's slots a Keras variable is). The update rules are Keras's, so the values carry over.
"""

from __future__ import annotations

import typing as _typing
import warnings

import numpy as np

from fastmlp import optimizers

if _typing.TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

# Nadam's momentum schedule, keras/src/optimizers/nadam.py (u_product is its running product).
_NADAM_DECAY = 0.96


def _kind(optimizer: Any) -> str:
    """Which of fastmlp's optimizer rules (AdamW is Adam's, Nadam is not Adamax's)."""
    for cls in (optimizers.Nadam, optimizers.Adamax, optimizers.Adam, optimizers.SGD,
                optimizers.RMSprop, optimizers.Adagrad):
        if isinstance(optimizer, cls):
            return cls.__name__.lower()
    raise ValueError(f"Optimizer {optimizer!r} has no Keras 3 variable layout here.")


def _groups(optimizer: Any) -> List[Tuple[int, ...]]:
    """The core slot indices of each Keras ``add_optimizer_variables`` call, in order."""
    kind = _kind(optimizer)
    if kind == "sgd":
        return [(0,)] if optimizer.momentum != 0 else []
    if kind == "adam":
        return [(0, 1)] + ([(2,)] if optimizer.amsgrad else [])
    if kind == "rmsprop":
        groups, k = [(0,)], 1
        for on in (optimizer.momentum > 0, optimizer.centered):
            if on:
                groups.append((k,))
                k += 1
        return groups
    if kind == "adagrad":
        return [(0,)]
    return [(0, 1)]  # adamax (momentum, norm), nadam (momentum, velocity)


def _trainable_shapes(model: Any) -> List[Tuple[int, ...]]:
    return [tuple(v.shape) for v in model.trainable_weights]


def _has_lr_variable(optimizer: Any) -> bool:
    """Keras keeps a learning_rate variable unless the rate is a schedule."""
    return not isinstance(optimizer.get_config()["learning_rate"], dict)


def _u_product(beta_1: float, iterations: int) -> float:
    product = 1.0
    for t in range(1, iterations + 1):
        product *= beta_1 * (1.0 - 0.5 * _NADAM_DECAY ** t)
        if product == 0.0:
            break
    return product


def keras_variables(model: Any) -> List[np.ndarray]:
    """The optimizer's variables of a built, compiled model in Keras's order."""
    optimizer = model.optimizer
    state = model.get_training_state()["optimizer"] or {"iterations": 0, "slots": []}
    iterations, slots = int(state["iterations"]), list(state["slots"])
    shapes, groups = _trainable_shapes(model), _groups(optimizer)
    per = sum(len(g) for g in groups)
    if not slots and per:  # no step taken yet: the slots' initial values, as Keras builds them
        fill = float(getattr(optimizer, "initial_accumulator_value", 0.0)) \
            if _kind(optimizer) == "adagrad" else 0.0
        slots = [np.full(int(np.prod(s, dtype=np.int64)), fill, np.float32)
                 for s in shapes for _ in range(per)]
    out = [np.array(iterations, dtype=np.int64)]
    if _has_lr_variable(optimizer):
        out.append(np.array(float(optimizer.learning_rate), dtype=np.float32))
    for group in groups:
        for p, shape in enumerate(shapes):
            out += [np.asarray(slots[p * per + j], np.float32).reshape(shape) for j in group]
    if _kind(optimizer) == "nadam":
        out.append(np.array(_u_product(optimizer.beta_1, iterations), dtype=np.float32))
    return out


def expected_layout(model: Any) -> List[Tuple[str, Tuple[int, ...]]]:
    """(kind, shape) of each variable Keras keeps for this compiled model's optimizer: kind is
    "int" (iteration), "float" (scalars) or "slot"."""
    optimizer, shapes = model.optimizer, _trainable_shapes(model)
    layout = [("int", ())] + ([("float", ())] if _has_lr_variable(optimizer) else [])
    for group in _groups(optimizer):
        layout += [("slot", shape) for shape in shapes for _ in group]
    if _kind(optimizer) == "nadam":
        layout.append(("float", ()))
    return layout


def _fits(shape: Tuple[int, ...], dtype_kind: str, kind: str, want: Tuple[int, ...]) -> bool:
    return shape == want and (dtype_kind in "iu" if kind == "int" else dtype_kind == "f")


def restore(model: Any, shapes: Sequence[Tuple[Tuple[int, ...], str]],
            read: Callable[[int], np.ndarray], path: str) -> Optional[Dict[str, Any]]:
    """The core's optimizer state from Keras's variables (their shapes and dtype kinds given,
    the values read on demand), or None: silently when the file's optimizer was never built
    (compiled, not trained), with a warning when the variables do not fit this optimizer (as
    Keras skips an optimizer whose variables differ)."""
    layout = expected_layout(model)
    if len(shapes) != len(layout) or not all(
            _fits(shape, dtype, kind, want) for (shape, dtype), (kind, want) in zip(shapes, layout)):
        never_built = 1 <= len(shapes) <= 2 and _fits(*shapes[0], "int", ())
        if never_built and int(read(0)) == 0:
            return None
        warnings.warn(f"Skipping the optimizer state in {path!r}: it holds {len(shapes)} "
                      f"variables, {model.optimizer.name} keeps {len(layout)} for this model.",
                      stacklevel=5)
        return None
    iterations = int(read(0))
    if iterations < 0:
        from fastmlp._file_checks import fail
        raise fail(path, f"the optimizer's iteration count is negative ({iterations})")
    groups = _groups(model.optimizer)
    per, n = sum(len(g) for g in groups), len(_trainable_shapes(model))
    slots: List[Any] = [None] * (per * n)
    index = 1 + _has_lr_variable(model.optimizer)
    for group in groups:
        for p in range(n):
            for j in group:
                slots[p * per + j] = np.ascontiguousarray(read(index), np.float32).reshape(-1)
                index += 1
    return {"iterations": iterations, "slots": slots}
