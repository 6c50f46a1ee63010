"""LearningRateScheduler, TerminateOnNaN and CSVLogger."""

from __future__ import annotations

import csv
import inspect
import math
import os
from typing import Any, Callable, Dict, Optional

import numpy as np

from fastmlp import _checks, _progbar
from fastmlp.callbacks._base import Callback


def _takes_two_arguments(fn: Callable) -> Optional[bool]:
    """Whether ``fn(epoch, lr)`` is a valid call (None when the signature cannot be read)."""
    try:
        inspect.signature(fn).bind(0, 0.0)
        return True
    except TypeError:
        return False
    except ValueError:  # no signature (some builtins)
        return None


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of each epoch to ``schedule(epoch, lr)``.

    Args:
        schedule: ``f(epoch, lr) -> new_lr`` (or ``f(epoch)``), epoch 0-based.
        verbose: 1 prints each change. Defaults to 0.
    """

    def __init__(self, schedule: Callable, verbose: int = 0) -> None:
        super().__init__()
        self.schedule = _checks.function("schedule", schedule)
        self.verbose = _checks.verbosity("verbose", verbose)
        # Decided once from the signature, so that a TypeError raised inside a two-argument
        # schedule surfaces as itself instead of as a retry with one argument.
        self._two_arguments = _takes_two_arguments(schedule)

    def _call_schedule(self, epoch: int, lr: float) -> Any:
        if self._two_arguments is None:
            try:
                return self.schedule(epoch, lr)
            except TypeError:  # the one-argument form, as Keras allows
                return self.schedule(epoch)
        return self.schedule(epoch, lr) if self._two_arguments else self.schedule(epoch)

    def on_epoch_begin(self, epoch: int, logs: Optional[Dict] = None) -> None:
        lr = float(self.model.optimizer.learning_rate)
        new_lr = self._call_schedule(epoch, lr)
        if isinstance(new_lr, np.ndarray) and new_lr.shape == ():
            new_lr = new_lr[()]
        if not _checks.is_real(new_lr) or not math.isfinite(float(new_lr)) or new_lr < 0:
            raise ValueError(f"The output of the `schedule` function should be a finite, "
                             f"non-negative float. Received: {_checks._show(new_lr)} (of type "
                             f"{type(new_lr).__name__}) at epoch {epoch}")
        new_lr = float(new_lr)
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
    """Writes one CSV row per epoch: ``epoch`` then the logs' keys (sorted). In data-parallel
    training (fastmlp.distribution) only rank 0 writes.

    Args:
        filename: the CSV file.
        separator: field separator. Defaults to ",".
        append: append to an existing file (no second header). Defaults to False.
    """

    def __init__(self, filename: str, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename = _checks.path("filename", filename)
        if not isinstance(separator, str) or len(separator) != 1 or separator in "\r\n\"":
            raise _checks.invalid("separator", "a one-character string other than a quote or a "
                                  "line break", separator)
        self.sep, self.append = separator, _checks.flag("append", append)
        self._keys = None
        self._has_header = False
        self._writes = True

    def on_train_begin(self, logs: Optional[Dict] = None) -> None:
        from fastmlp import distribution
        self._writes = distribution._writes_here()  # data-parallel training: rank 0 only
        if not self._writes:
            return
        self._has_header = self.append and os.path.exists(self.filename) and \
            os.path.getsize(self.filename) > 0
        if not self.append:
            open(self.filename, "w", encoding="utf-8").close()
        self._keys = None

    def on_epoch_end(self, epoch: int, logs: Optional[Dict] = None) -> None:
        # The file is opened per row, so no handle stays open when fit ends by an exception.
        if not self._writes:
            return
        logs = logs or {}
        with open(self.filename, "a", newline="", encoding="utf-8") as f:
            if self._keys is None:
                self._keys = sorted(logs)
            writer = csv.DictWriter(f, fieldnames=["epoch"] + self._keys, delimiter=self.sep,
                                    extrasaction="ignore")
            if not self._has_header:
                writer.writeheader()
                self._has_header = True
            writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self._keys}})
