"""LearningRateScheduler, TerminateOnNaN and CSVLogger."""

from __future__ import annotations

import csv
import math
import os
from typing import Callable, Dict, Optional

from fastmlp import _progbar
from fastmlp.callbacks._base import Callback


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of each epoch to ``schedule(epoch, lr)``.

    Args:
        schedule: ``f(epoch, lr) -> new_lr`` (or ``f(epoch)``), epoch 0-based.
        verbose: 1 prints each change. Defaults to 0.
    """

    def __init__(self, schedule: Callable, verbose: int = 0) -> None:
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch: int, logs: Optional[Dict] = None) -> None:
        lr = float(self.model.optimizer.learning_rate)
        try:
            new_lr = self.schedule(epoch, lr)
        except TypeError:  # the one-argument form, as Keras allows
            new_lr = self.schedule(epoch)
        new_lr = float(new_lr)
        if not math.isfinite(new_lr):
            raise ValueError(f"The output of the `schedule` function should be a finite float. "
                             f"Received: {new_lr}")
        self.model.optimizer.learning_rate = new_lr
        if self.verbose > 0:
            _progbar.print_line(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning "
                                f"rate to {new_lr}.")

    def on_epoch_end(self, epoch: int, logs: Optional[Dict] = None) -> None:
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class TerminateOnNaN(Callback):
    """Stops training when the loss becomes NaN or infinite.

    Checked at the end of each epoch (and at batch ends when another callback makes the loop
    report batches): the C++ loop runs whole epochs, so an epoch in progress finishes first.
    """

    def _check(self, logs: Optional[Dict], where: str) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            _progbar.print_line(f"{where}: Invalid loss, terminating training")
            self.model.stop_training = True

    def wants_batches(self) -> bool:
        return False

    def on_train_batch_end(self, batch: int, logs: Optional[Dict] = None) -> None:
        self._check(logs, f"Batch {batch}")

    def on_epoch_end(self, epoch: int, logs: Optional[Dict] = None) -> None:
        self._check(logs, f"Epoch {epoch + 1}")


class CSVLogger(Callback):
    """Writes one CSV row per epoch: ``epoch`` then the logs' keys (sorted).

    Args:
        filename: the CSV file.
        separator: field separator. Defaults to ",".
        append: append to an existing file (no second header). Defaults to False.
    """

    def __init__(self, filename: str, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self._file = None
        self._writer: Optional[csv.DictWriter] = None
        self._keys = None

    def on_train_begin(self, logs: Optional[Dict] = None) -> None:
        has_header = self.append and os.path.exists(self.filename) and \
            os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="",
                          encoding="utf-8")
        self._writer, self._keys, self._has_header = None, None, has_header

    def on_epoch_end(self, epoch: int, logs: Optional[Dict] = None) -> None:
        logs = logs or {}
        if self._keys is None:
            self._keys = sorted(logs)
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self._keys,
                                          delimiter=self.sep, extrasaction="ignore")
            if not self._has_header:
                self._writer.writeheader()
        row = {"epoch": epoch, **{k: logs.get(k, "NA") for k in self._keys}}
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs: Optional[Dict] = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
