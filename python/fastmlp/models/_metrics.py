"""A compiled model's metrics, split by where they run, and named as Keras names them.

Built-in metrics run in the C++ loop: the core updates each once per batch (``_core.Metric``
state) and its logs carry their results. A metric of the user's own (a function, or a `Metric`
subclass overriding the update) runs in Python: only then does the loop write each row's output
into a buffer, and after the loop the metric is updated batch by batch, in the order the loop
ran, over the rows it trained on, as Keras updates metrics during the loop.

``weighted_metrics`` see the sample weights (class weights included), ``metrics`` do not. Log
names follow Keras's ``CompileMetrics.result``: a repeated name gets ``_1``, ``_2``, ...; a
weighted metric whose name is taken becomes ``weighted_<name>``. A metric with one value per
threshold or class logs a float32 array.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from fastmlp import _core


def _log_names(metrics: Sequence[Any], weighted: Sequence[Any]) -> List[str]:
    names: List[str] = []
    counters: Dict[str, int] = {}
    for m in metrics:
        name = m.name
        if name in counters:
            index = counters[name]
            counters[name] += 1
            name = f"{name}_{index}"
        else:
            counters[name] = 1
        names.append(name)
    for m in weighted:
        name = m.name
        if name in counters:
            name = f"weighted_{m.name}"
            if name in counters:
                index = counters[name]
                counters[name] += 1
                name = f"{name}_{index}"
            else:
                counters[name] = 1
        else:
            counters[name] = 1
        names.append(name)
    return names


def _log_value(value: Any) -> Any:
    """A float, or (one value per threshold or class) a float32 array, as Keras's logs hold."""
    array = np.asarray(value)
    return float(array) if array.ndim == 0 else array.astype(np.float32)


class CompiledMetrics:
    def __init__(self, metrics: List[Any], weighted: Sequence[Any] = ()) -> None:
        self.entries: List[Tuple[Any, str, bool]] = [
            (m, name, i >= len(metrics))
            for i, (m, name) in enumerate(zip([*metrics, *weighted],
                                              _log_names(metrics, weighted)))]
        self.names = [name for _, name, _ in self.entries]
        self.python = [e for e in self.entries if not e[0]._runs_in_core()]

    def core_specs(self, weighted: bool = False) -> List[Dict[str, Any]]:
        """The specs of the metrics the core runs (the weighted ones, or the others), under
        their log names."""
        return [{**m.core_spec(), "name": name} for m, name, w in self.entries
                if w == weighted and m._runs_in_core()]

    def buffer(self, rows: int, width: int) -> Optional[np.ndarray]:
        """The output buffer the loop fills, only when a Python metric needs the outputs."""
        return np.empty((rows, width), dtype=np.float32) if self.python else None

    def logs(self, core_logs: Dict[str, Any], y: np.ndarray, y_pred: Optional[np.ndarray],
             batch_size: int, rows: Optional[int] = None, seed: Optional[int] = None,
             sample_weight: Optional[np.ndarray] = None) -> Dict[str, Any]:
        """The loss, then every metric: from the core, or (Python metrics) over the first
        ``rows`` rows (all by default) of the loop's order (shuffled by ``seed`` when given),
        the weighted ones with ``sample_weight``."""
        if self.python:
            n = y.shape[0]
            rows = n if rows is None else rows
            order = None if seed is None else _core._shuffled_order(n, seed)
            batch = max(1, min(batch_size, n))
            self.reset_python()
            for start in range(0, rows, batch):
                stop = min(start + batch, rows)
                idx = slice(start, stop) if order is None else order[start:stop]
                self.update_python(y[idx], y_pred[idx],
                                   None if sample_weight is None else sample_weight[idx])
        return self.current_logs(core_logs)

    def reset_python(self) -> None:
        for m, _, _ in self.python:
            m.reset_state()

    def update_python(self, y: np.ndarray, y_pred: np.ndarray,
                      sample_weight: Optional[np.ndarray]) -> None:
        """One batch into the Python metrics, called as Keras calls them: (y, p), and for the
        weighted ones (y, p, w)."""
        for m, _, weighted in self.python:
            if weighted:
                m.update_state(y, y_pred, sample_weight)
            else:
                m.update_state(y, y_pred)

    def current_logs(self, core_logs: Dict[str, Any]) -> Dict[str, Any]:
        """The core's loss and metrics with the Python metrics' current results."""
        logs = {"loss": float(core_logs["loss"])}
        for m, name, _ in self.entries:
            logs[name] = _log_value(core_logs[name] if m._runs_in_core() else m.result())
        return dict(sorted(logs.items()))
