"""A compiled model's metrics, split by where they run.

Built-in metrics run in the C++ loop: the core updates each once per batch (``_core.Metric``
state) and its logs carry their results. A metric of the user's own (a function, or a `Metric`
subclass overriding the update) runs in Python: only then does the loop write each row's output
into a buffer, and after the loop the metric is updated batch by batch, in the order the loop
ran, over the rows it trained on, as Keras updates metrics during the loop.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np

from fastmlp import _core


class CompiledMetrics:
    def __init__(self, metrics: List[Any]) -> None:
        self.metrics = metrics
        self.python = [m for m in metrics if not m._runs_in_core()]

    def core_specs(self) -> List[Dict[str, Any]]:
        return [m.core_spec() for m in self.metrics if m._runs_in_core()]

    def buffer(self, rows: int, width: int) -> Optional[np.ndarray]:
        """The output buffer the loop fills, only when a Python metric needs the outputs."""
        return np.empty((rows, width), dtype=np.float32) if self.python else None

    def logs(self, core_logs: Dict[str, float], y: np.ndarray, y_pred: Optional[np.ndarray],
             batch_size: int, rows: Optional[int] = None, seed: Optional[int] = None
             ) -> Dict[str, float]:
        """The loss, then every metric: from the core, or (Python metrics) over the first
        ``rows`` rows (all by default) of the loop's order (shuffled by ``seed`` when given)."""
        logs = {"loss": float(core_logs["loss"])}
        for m in self.metrics:
            if m._runs_in_core():
                logs[m.name] = float(core_logs[m.name])
        if self.python:
            n = y.shape[0]
            rows = n if rows is None else rows
            order = None if seed is None else _core._shuffled_order(n, seed)
            batch = max(1, min(batch_size, n))
            for m in self.python:
                m.reset_state()
                for start in range(0, rows, batch):
                    stop = min(start + batch, rows)
                    idx = slice(start, stop) if order is None else order[start:stop]
                    m.update_state(y[idx], y_pred[idx])
                logs[m.name] = float(m.result())
        return dict(sorted(logs.items()))
