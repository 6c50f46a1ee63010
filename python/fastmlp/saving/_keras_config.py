"""Keras 3's JSON (a ``.keras`` file's config.json, ``model.to_json()``) to and from fastmlp's
own configs.

fastmlp's classes carry Keras's names and arguments, so the translation is mostly Keras's
envelope: ``{"module", "class_name", "config", "registered_name"}`` around each object and a
``DTypePolicy`` for ``dtype``. Reading is data only: a class is looked up in fastmlp's own
tables, never imported; an argument fastmlp's class does not take is accepted only with the
value that means "off" in Keras, and anything else (a Lambda layer, a custom or unknown class,
a functional model, an argument in use) is a ValueError naming it.
"""

from __future__ import annotations

import functools
import inspect
import typing as _typing

from fastmlp import initializers, layers, losses, metrics, optimizers, regularizers
from fastmlp._file_checks import MAX_LAYERS
from fastmlp.optimizers import schedules

if _typing.TYPE_CHECKING:
    from typing import Any, Callable, Dict, FrozenSet, List, Optional, Set, Tuple

_POLICY = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
           "registered_name": None}
_POLICIES = ("DTypePolicy", "FloatDTypePolicy")  # Keras 3.0-3.3 wrote the second
_MODULES = {"layer": "keras.layers", "initializer": "keras.initializers",
            "regularizer": "keras.regularizers", "optimizer": "keras.optimizers",
            "schedule": "keras.optimizers.schedules", "loss": "keras.losses",
            "metric": "keras.metrics"}


def _classes(module: Any, base: type) -> Dict[str, type]:
    """The public classes of ``module`` derived from ``base`` (the ones its deserializer reads;
    it refuses any other, so a name here is never more than a name)."""
    found = (getattr(module, name) for name in module.__all__)
    return {cls.__name__: cls for cls in found
            if isinstance(cls, type) and issubclass(cls, base) and cls is not base}


_TABLES = {"layer": _classes(layers, layers.Layer),
           "initializer": _classes(initializers, initializers.Initializer),
           "regularizer": _classes(regularizers, regularizers.Regularizer),
           "optimizer": _classes(optimizers, optimizers.Optimizer),
           "schedule": _classes(schedules, schedules.LearningRateSchedule),
           "loss": _classes(losses, losses.Loss),
           "metric": {name: cls for name, cls in _classes(metrics, metrics.Metric).items()
                      if cls is not metrics.MeanMetricWrapper}}  # it wraps a function
# Keras arguments fastmlp's classes do not take, with the values that leave them off.
_OFF: Dict[str, Callable[[Any, Dict[str, Any]], bool]] = {
    "quantization_config": lambda v, c: v is None, "lora_alpha": lambda v, c: v is None,
    "activity_regularizer": lambda v, c: v is None, "renorm": lambda v, c: v is False,
    "renorm_clipping": lambda v, c: v is None,
    "renorm_momentum": lambda v, c: not c.get("renorm"),
    "ragged": lambda v, c: v is False, "optional": lambda v, c: v is False,
    "input_axes": lambda v, c: v is None, "output_axes": lambda v, c: v is None,
    "ignore_class": lambda v, c: v is None, "axis": lambda v, c: v == -1,
    "curve": lambda v, c: v == "ROC", "summation_method": lambda v, c: v == "interpolation",
    "multi_label": lambda v, c: v is False, "num_labels": lambda v, c: v is None,
    "label_weights": lambda v, c: v is None, "top_k": lambda v, c: v is None,
}
# compile() arguments Keras stores that change nothing in fastmlp's loop.
_COMPILE_DEFAULTS = {"loss_weights": None, "weighted_metrics": None, "run_eagerly": False,
                     "steps_per_execution": 1, "jit_compile": "auto"}


def _nested_kind(key: str) -> Optional[str]:
    if key.endswith("_initializer"):
        return "initializer"
    if key.endswith("_regularizer"):
        return "regularizer"
    return "schedule" if key == "learning_rate" else None


# ---- fastmlp -> Keras ------------------------------------------------------------------------
def keras_seed(seed: Any) -> Any:
    """A seed Keras takes: its JAX backend refuses seeds beyond uint32, fastmlp draws 63-bit
    ones (the full seed travels in metadata.json, see `_keras_format`)."""
    return seed % 2**32 if isinstance(seed, int) and not isinstance(seed, bool) else seed


def _envelope(kind: str, obj: Dict[str, Any]) -> Dict[str, Any]:
    config = {}
    for key, value in obj["config"].items():
        nested = _nested_kind(key)
        config[key] = _envelope(nested, value) if nested and isinstance(value, dict) else \
            keras_seed(value) if key == "seed" else value
    return {"module": _MODULES[kind], "class_name": obj["class_name"], "config": config,
            "registered_name": None}


def _layer_out(obj: Dict[str, Any]) -> Dict[str, Any]:
    config = dict(obj["config"])
    if obj["class_name"] == "InputLayer":
        return {"module": "keras.layers", "class_name": "InputLayer",
                "config": {"batch_shape": config["batch_shape"], "dtype": "float32",
                           "sparse": False, "name": config["name"]}, "registered_name": None}
    if config.get("activation") == "gelu_tanh":
        raise ValueError(f"Layer {config.get('name')!r}: activation 'gelu_tanh' (GELU, tanh "
                         "approximation) has no Keras 3 name; save the model as .fastmlp.")
    config.pop("input_shape", None)  # the InputLayer in front carries it, as in Keras 3
    out = _envelope("layer", {"class_name": obj["class_name"], "config": config})
    quantized = isinstance(config.get("dtype"), dict) and \
        config["dtype"].get("class_name") == "QuantizedDTypePolicy"
    out["config"]["dtype"] = dict(config["dtype"]) if quantized else dict(_POLICY)
    return out


def compile_out(config: Dict[str, Any]) -> Dict[str, Any]:
    """Keras's compile_config for fastmlp's (its metrics all names or configs)."""
    out: Dict[str, Any] = {}
    for key, value in config.items():
        if key == "optimizer":
            value = _envelope("optimizer", value)
        elif key == "loss" and value is not None:
            value = _envelope("loss", value)
        elif key in ("metrics", "weighted_metrics") and value is not None:
            value = [m if isinstance(m, str) else _envelope("metric", m) for m in value]
        out[key] = value
    for key, value in _COMPILE_DEFAULTS.items():
        out.setdefault(key, value)
    return out


def model_out(model_config: Dict[str, Any], compile_config: Optional[Dict[str, Any]]
              ) -> Dict[str, Any]:
    """The object Keras's ``serialize_keras_object(model)`` gives for a Sequential model."""
    config: Dict[str, Any] = {"name": model_config["name"],
                              "trainable": model_config.get("trainable", True),
                              "dtype": dict(_POLICY),
                              "layers": [_layer_out(c) for c in model_config["layers"]]}
    out: Dict[str, Any] = {"module": "keras", "class_name": "Sequential", "config": config,
                           "registered_name": None}
    shape = model_config.get("build_input_shape")
    if shape is not None:
        config["build_input_shape"] = list(shape)
        out["build_config"] = {"input_shape": list(shape)}
    if compile_config:
        out["compile_config"] = compile_out(compile_config)
    return out


# ---- Keras -> fastmlp ------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _accepted(cls: type) -> FrozenSet[str]:
    """The keyword arguments ``cls(...)`` takes, through the ``**kwargs`` chain of its bases."""
    names: Set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.name != "self" and p.kind in
                  (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return frozenset(names)


def _is_keras_module(module: Any) -> bool:
    return module is None or (isinstance(module, str) and
                              (module == "keras" or module.startswith("keras.")))


def _function_name(obj: Any) -> Optional[str]:
    """The name of a Keras built-in function serialized as an object (activation, loss or
    metric functions: ``{"class_name": "function", "config": "relu", ...}``), else None."""
    if isinstance(obj, dict) and obj.get("class_name") == "function" and \
            isinstance(obj.get("config"), str) and \
            (_is_keras_module(obj.get("module")) or obj.get("module") == "builtins"):
        return obj["config"]
    return None


def _quantized_policy(value: Any) -> bool:
    """Keras's "int8_from_float32" (a Dense layer of a quantized model), serialized."""
    return isinstance(value, dict) and value.get("class_name") == "QuantizedDTypePolicy" and \
        _is_keras_module(value.get("module")) and \
        value.get("config") == {"mode": "int8", "source_name": "float32"}


def _check_dtype(value: Any, where: str) -> None:
    if value in (None, "float32"):
        return
    if isinstance(value, dict) and value.get("class_name") in _POLICIES and \
            isinstance(value.get("config"), dict) and value["config"].get("name") == "float32":
        return
    raise ValueError(f"{where}: dtype {value!r:.120} is not float32 (fastmlp computes in "
                     "float32 only)")


def _unwrap(obj: Any, kind: str, where: str) -> Dict[str, Any]:
    """fastmlp's ``{"class_name", "config"}`` for a Keras object of ``kind``."""
    if not isinstance(obj, dict) or not isinstance(obj.get("class_name"), str):
        raise ValueError(f"{where}: expected a Keras {kind} object, not {obj!r:.120}")
    name, table = obj["class_name"], _TABLES[kind]
    if name.endswith("Lambda"):
        raise ValueError(f"{where} is a {name} layer, which holds Python code; fastmlp never "
                         "runs code from a file")
    registered = obj.get("registered_name")
    if not _is_keras_module(obj.get("module")) or registered not in (None, name):
        raise ValueError(f"{where} is a custom object ({registered or obj.get('module')!r:.80}"
                         f", class {name!r:.80}): custom classes hold code, which fastmlp never "
                         f"runs. fastmlp reads Keras's built-in {kind}s {sorted(table)}")
    cls = table.get(name)
    if cls is None:
        raise ValueError(f"{where}: {kind} class {name!r:.80} is not one fastmlp has; it has "
                         f"{sorted(table)}")
    config = obj.get("config", {})
    if not isinstance(config, dict):
        raise ValueError(f"{where}: the config of {name} must be a JSON object, not "
                         f"{config!r:.80}")
    return {"class_name": name, "config": _arguments(cls, config, f"{where} ({name})")}


def _arguments(cls: type, config: Dict[str, Any], where: str) -> Dict[str, Any]:
    accepted, out = _accepted(cls), {}
    for key, value in config.items():
        nested = _nested_kind(key)
        if key == "dtype" and _quantized_policy(value):
            out[key] = value  # the layer refuses it unless it is a Dense
        elif key == "dtype":
            _check_dtype(value, where)
        elif nested and isinstance(value, dict):
            out[key] = _unwrap(value, nested, f"{where}.{key}")
        elif key == "activation" and isinstance(value, dict):
            out[key] = _function_name(value)
            if out[key] is None:
                raise ValueError(f"{where}: activation {value!r:.120} is not a Keras built-in "
                                 "(a custom activation holds code, which fastmlp never runs)")
        elif key in accepted:
            out[key] = value
        elif not (key in _OFF and _OFF[key](value, config)):
            raise ValueError(f"{where}: Keras's argument `{key}={value!r:.80}` is not "
                             "supported by fastmlp")
    return out


def _layer_in(obj: Any, where: str) -> Dict[str, Any]:
    if isinstance(obj, dict) and obj.get("class_name") == "InputLayer" and \
            isinstance(obj.get("config"), dict) and "batch_input_shape" in obj["config"]:
        config = dict(obj["config"])  # Keras 3.0's name for batch_shape
        config["batch_shape"] = config.pop("batch_input_shape")
        obj = {**obj, "config": config}
    return _unwrap(obj, "layer", where)


def model_in(obj: Any, where: str) -> Tuple[Dict[str, Any], Optional[Dict[str, Any]]]:
    """fastmlp's (model_config, compile_config or None) for Keras's serialized model."""
    if not isinstance(obj, dict):
        raise ValueError(f"{where} must hold a JSON object")
    name = obj.get("class_name")
    if name == "Functional" or name == "Model":
        raise ValueError(f"{where} holds a functional model (keras.Model(inputs, outputs)); "
                         "fastmlp reads Sequential models only")
    if name != "Sequential" or not _is_keras_module(obj.get("module")) or \
            obj.get("registered_name") not in (None, "Sequential"):
        raise ValueError(f"{where} holds a model of class {name!r:.80} (module "
                         f"{obj.get('module')!r:.80}); fastmlp reads keras.Sequential models "
                         "only (a subclassed model holds code, which fastmlp never runs)")
    config = obj.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError(f"{where}: the Sequential config has no 'layers' list")
    entries = config["layers"]
    if len(entries) > MAX_LAYERS:
        raise ValueError(f"{where} declares {len(entries)} layers, more than the limit of "
                         f"{MAX_LAYERS}")
    _check_dtype(config.get("dtype"), where)
    shape = config.get("build_input_shape")
    build = obj.get("build_config")
    if shape is None and isinstance(build, dict):
        shape = build.get("input_shape")
    model_config = {"name": config.get("name"), "trainable": config.get("trainable", True),
                    "layers": [_layer_in(e, f"{where}: layer {i}") for i, e in
                               enumerate(entries)],
                    "build_input_shape": shape}
    return model_config, compile_in(obj.get("compile_config"), f"{where}: compile_config")


def _named(value: Any, kind: str, where: str) -> Any:
    """A loss or metric: its name (a string, or a Keras function object), or its config."""
    if isinstance(value, str):
        return value
    name = _function_name(value)
    return name if name is not None else _unwrap(value, kind, where)


def compile_in(config: Any, where: str) -> Optional[Dict[str, Any]]:
    if config is None:
        return None
    if not isinstance(config, dict):
        raise ValueError(f"{where} must be a JSON object, not {config!r:.80}")
    if config.get("loss_weights"):
        raise ValueError(f"{where}: `loss_weights` is not supported by fastmlp. Received: "
                         f"loss_weights={config['loss_weights']!r:.80}")
    optimizer = config.get("optimizer", "rmsprop")
    optimizer = optimizers.serialize(optimizers.get(optimizer)) if isinstance(optimizer, str) \
        else _unwrap(optimizer, "optimizer", f"{where}.optimizer")
    loss = config.get("loss")
    if isinstance(loss, (list, dict)) and _function_name(loss) is None and \
            not (isinstance(loss, dict) and "class_name" in loss):
        raise ValueError(f"{where}: one loss per output is for multi-output models; fastmlp's "
                         f"Sequential has one output. Received: loss={loss!r:.80}")
    if loss is not None:
        loss = _named(loss, "loss", f"{where}.loss")
        if isinstance(loss, str):
            loss = losses.serialize(losses.get(loss))
    out = {"optimizer": optimizer, "loss": loss}
    for key in ("metrics", "weighted_metrics"):
        metric_list = config.get(key) or []
        if not isinstance(metric_list, list):
            raise ValueError(f"{where}: {key} must be a list (one output), not "
                             f"{metric_list!r:.80}")
        if metric_list or key == "metrics":
            out[key] = [_named(m, "metric", f"{where}.{key}[{i}]")
                        for i, m in enumerate(metric_list)]
    return out
