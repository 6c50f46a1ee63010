"""How often the C++ training loop calls back into Python during an epoch."""

from __future__ import annotations

from typing import Any, Optional

from fastmlp.callbacks import CallbackList, ProgbarLogger


class BatchPacing:
    """How often the C++ loop calls back into Python during an epoch.

    Never when no callback needs batches; every batch when a user callback overrides a batch
    hook; otherwise (only the live progress bar) about 20 times a second, re-estimated from the
    measured time per step after each epoch, so the bar costs nothing measurable.
    """

    def __init__(self, cbs: CallbackList, progbar: Optional[ProgbarLogger], steps: int) -> None:
        self.cbs, self.steps = cbs, steps
        others = [cb for cb in cbs.batch_callbacks if cb is not progbar]
        self.enabled = bool(cbs.batch_callbacks)
        self.every = 1 if others or not self.enabled else max(1, steps // 100)
        self._adaptive = self.enabled and not others
        self.stopped = False  # set when a callback stopped training inside the epoch
        self.last_batch = -1  # ... after this batch
        self.stop_on_nonfinite = True  # False: NaN/Inf losses are left to TerminateOnNaN

    def hook(self, model: Any):
        if not self.enabled:
            return None
        cbs, steps = self.cbs, self.steps
        cbs.on_train_batch_begin(0)

        def on_batch(batch: int, logs: Any) -> bool:
            cbs.on_train_batch_end(batch, dict(sorted(dict(logs).items())))
            if model.stop_training:
                self.stopped, self.last_batch = True, batch
                return True  # the core ends the epoch after this batch
            if batch + 1 < steps:
                cbs.on_train_batch_begin(batch + 1)
            return False
        return on_batch

    def measured(self, seconds: float) -> None:
        if self._adaptive and self.steps:
            per_step = max(seconds / self.steps, 1e-9)
            self.every = int(max(1, min(self.steps, 0.05 / per_step)))
