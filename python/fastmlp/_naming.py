"""Keras-style automatic names: "dense", "dense_1", ... per prefix, for the process."""

from __future__ import annotations

import re
from collections import defaultdict

_counters: defaultdict = defaultdict(int)


def to_snake_case(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def unique_name(prefix: str) -> str:
    n = _counters[prefix]
    _counters[prefix] += 1
    return prefix if n == 0 else f"{prefix}_{n}"


def reset() -> None:
    _counters.clear()
