"""A model's state beyond its architecture and weights, through Keras 3's public methods.

``get_compile_config`` / ``compile_from_config`` (Keras's ``Trainer``), ``get_build_config`` /
``build_from_config`` (Keras's ``Layer``) and ``get_training_state`` / ``set_training_state``
(what ``fit`` continues from: epoch count, shuffle seed, optimizer state, the Dropout step, the
record of the data fit saw). `fastmlp.saving` reads and restores a model through these alone.
"""

from __future__ import annotations

import typing
import warnings

import numpy as np

from fastmlp import _checks
from fastmlp import losses as losses_module, metrics as metrics_module
from fastmlp import optimizers as optimizers_module
from fastmlp.models import _freezing

if typing.TYPE_CHECKING:
    from typing import Any, Dict, List, Mapping, Optional

_STEP_KEYS = ("shuffle_seed", "epochs_seen", "training_step")


class StateMixin:
    """Config and state accessors of `Sequential` (needs ``_core``, ``_sample_shape``, the
    compile fields of `TrainingMixin` and ``build``)."""

    # ---- compile ------------------------------------------------------------------------------
    def get_compile_config(self) -> Dict[str, Any]:
        """The optimizer, loss and metrics the model was compiled with; {} if not compiled.

        ``{"optimizer": config, "loss": config or None, "metrics": [...]}`` (and
        ``"weighted_metrics": [...]`` when compiled with some); a metric is its
        name or its config, or the object itself when it cannot be stored (a user function or
        class: a fastmlp file holds no code, so ``save`` leaves it out with a warning).
        ``compile_from_config`` accepts this dict back.
        """
        if not self.compiled:
            return {}
        def stored(ids: List[Any]) -> List[Any]:
            out: List[Any] = []
            for m in ids:
                try:
                    out.append(metrics_module.serialize(m))
                except ValueError:
                    out.append(m)
            return out
        config = {"optimizer": optimizers_module.serialize(self.optimizer),
                  "loss": None if self._loss_obj is None else
                  losses_module.serialize(self._loss_obj),
                  "metrics": stored(self._metric_ids)}
        if self._weighted_metric_ids:
            config["weighted_metrics"] = stored(self._weighted_metric_ids)
        return config

    def compile_from_config(self, config: Mapping[str, Any]) -> None:
        """Compiles the model from ``get_compile_config()``'s output (configs are deserialized
        from fastmlp's own classes only; metric objects and functions are used as given)."""
        if not isinstance(config, dict) or not isinstance(config.get("optimizer"), dict):
            raise _checks.invalid("config", "a dict with an 'optimizer' config (as "
                                  "get_compile_config() returns)", config)
        loss = config.get("loss")

        def metric_list(key: str) -> List[Any]:
            return [metrics_module.deserialize(m) if isinstance(m, (str, dict)) else m
                    for m in config.get(key) or []]
        self.compile(optimizer=optimizers_module.deserialize(config["optimizer"]),
                     loss=None if loss is None else losses_module.deserialize(loss),
                     metrics=metric_list("metrics"),
                     weighted_metrics=metric_list("weighted_metrics"))

    # ---- build --------------------------------------------------------------------------------
    def get_build_config(self) -> Optional[Dict[str, Any]]:
        """``{"input_shape": (None, *sample shape)}`` of a built model, else None."""
        if not self.built:
            return None
        return {"input_shape": (None, *self._sample_shape)}

    def build_from_config(self, config: Optional[Mapping[str, Any]]) -> None:
        """Builds the model from ``get_build_config()``'s output (nothing for None or {})."""
        if config:
            if not isinstance(config, dict) or "input_shape" not in config:
                raise _checks.invalid("config", "a dict with an 'input_shape' (as "
                                      "get_build_config() returns)", config)
            self.build(config["input_shape"])

    # ---- training state -----------------------------------------------------------------------
    def get_training_state(self, include_optimizer: bool = True) -> Dict[str, Any]:
        """What ``fit`` continues from, besides the weights and the compile settings.

        Returns:
            ``{"shuffle_seed": int (0 until built), "epochs_seen": int, "training_step": int
            (training forward passes so far; Dropout masks depend on it), "optimizer": None or
            {"iterations": int, "slots": [float32 arrays]} (copies; None unless the model is
            built and compiled, with ``include_optimizer=False``, or with a warning when a
            layer's ``trainable`` flag changed since compile), "training_input": None or
            {"dtype", "shape", "min", "max"} of the data fit saw}``.
        """
        built = self.built
        state: Dict[str, Any] = {"shuffle_seed": int(self._shuffle_seed),
                                 "epochs_seen": int(self._epochs_seen),
                                 "training_step": int(self._core.training_step) if built else 0,
                                 "optimizer": None,
                                 "training_input": None if self._training_input is None
                                 else dict(self._training_input)}
        if include_optimizer and built and self._core_compiled:
            if _freezing.stale(self):
                # The slots are those of the weights trainable at compile, which a file read
                # back (compiled with the flags as they are now) would not fit.
                warnings.warn("The optimizer state is left out: a layer's `trainable` flag "
                              "changed since the model was compiled. Compile again to keep "
                              "it.", UserWarning, stacklevel=3)
                return state
            iterations, slots = self._core.get_optimizer_state()
            state["optimizer"] = {"iterations": int(iterations), "slots": list(slots)}
        return state

    def set_training_state(self, state: Mapping[str, Any]) -> None:
        """Restores what ``get_training_state()`` returned; missing keys keep their values.

        A ``shuffle_seed`` of 0 (an unbuilt model's) keeps the model's own seed; the
        ``training_step`` of an unbuilt model is not kept (it has no Dropout state yet). An
        ``optimizer`` entry needs a built, compiled model whose optimizer keeps those slots.
        """
        if not isinstance(state, dict):
            raise _checks.invalid("state", "a dict (as get_training_state() returns)", state)
        values = {key: _checks.integer(f"state['{key}']", state[key], 0)
                  for key in _STEP_KEYS if key in state}
        record = state.get("training_input")
        if record is not None and not isinstance(record, dict):
            raise _checks.invalid("state['training_input']", "a dict or None", record)
        optimizer = state.get("optimizer")
        if optimizer is not None:
            if not isinstance(optimizer, dict) or "iterations" not in optimizer \
                    or "slots" not in optimizer:
                raise _checks.invalid("state['optimizer']", "None or a dict with 'iterations' "
                                      "and 'slots'", optimizer)
            if not (self.built and self.compiled):
                raise ValueError(f"Model {self.name!r} must be built and compiled to take an "
                                 "optimizer state.")
            if not self._core_compiled:
                self._compile_core()
            self._core.set_optimizer_state(
                _checks.integer("state['optimizer']['iterations']", optimizer["iterations"], 0),
                [np.ascontiguousarray(s, dtype=np.float32) for s in optimizer["slots"]])
        if values.get("shuffle_seed"):
            self._shuffle_seed = values["shuffle_seed"]
        if "epochs_seen" in values:
            self._epochs_seen = values["epochs_seen"]
        if "training_step" in values and self.built:
            self._core.training_step = values["training_step"]
        if "training_input" in state:
            self._training_input = None if record is None else dict(record)

    # ---- saving (formats in fastmlp.saving) ---------------------------------------------------
    def save(self, filepath: str, overwrite: bool = True, **kwargs: Any) -> None:
        """Saves architecture, weights, compile settings and optimizer state to one file:
        ``.keras`` is Keras 3's format (needs ``fastmlp[keras]``), ``.fastmlp`` fastmlp's own
        (no dependency); see `fastmlp.saving`."""
        from fastmlp import saving
        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath: str, overwrite: bool = True) -> None:
        """Saves only the weights: ``.weights.h5`` is Keras 3's weights file (with the optimizer
        state when compiled, as Keras does), ``.fastmlp`` fastmlp's own format."""
        from fastmlp import saving
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: str, skip_mismatch: bool = False) -> None:
        """Loads weights from a ``.weights.h5``, ``.keras`` or fastmlp file into this built
        model."""
        from fastmlp import saving
        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def to_json(self, **kwargs: Any) -> str:
        """Keras's JSON of the model (the config of a ``.keras`` file's config.json):
        `fastmlp.models.model_from_json` and Keras 3's ``model_from_json`` read it. ``kwargs``
        go to ``json.dumps``."""
        from fastmlp.saving import _keras_format
        return _keras_format.to_json(self, **kwargs)
