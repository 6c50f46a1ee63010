"""The one ``{"class_name": ..., "config": ...}`` format every fastmlp object is saved in.

Deserialization only ever looks a class name up in a fixed table of fastmlp's own classes, so a
config can never name arbitrary code to run (unlike pickle or Keras's ``module`` field).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping


def serialize_object(obj: Any) -> Dict[str, Any]:
    """``{"class_name": type name, "config": obj.get_config()}``."""
    return {"class_name": type(obj).__name__, "config": obj.get_config()}


def lookup_class(config: Any, classes: Mapping[str, type], kind: str) -> type:
    """The class ``config`` names, from ``classes`` only; ValueError naming the known ones."""
    cls = classes.get(config.get("class_name")) if isinstance(config, dict) else None
    if cls is None:
        raise ValueError(f"Unknown {kind} class in config: {config!r:.200}. Known {kind} classes: "
                         f"{sorted(classes)}")
    return cls


def object_config(config: Dict[str, Any], kind: str) -> Dict[str, Any]:
    """A copy of ``config["config"]`` (the constructor's arguments; {} when absent). Anything but
    a JSON object there is refused, not read as "all defaults"."""
    args = config.get("config", {})
    if not isinstance(args, dict):
        raise ValueError(f"Invalid {kind} config {config!r:.200}: its 'config' must be a JSON "
                         f"object of arguments, not {type(args).__name__}")
    return dict(args)


def deserialize_object(config: Any, classes: Mapping[str, type], kind: str) -> Any:
    """The ``kind`` object for ``config`` (see lookup_class)."""
    cls = lookup_class(config, classes, kind)
    return cls.from_config(object_config(config, kind))
