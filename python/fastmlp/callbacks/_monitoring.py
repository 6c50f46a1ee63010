"""Callbacks that watch a logged value: EarlyStopping, ReduceLROnPlateau, ModelCheckpoint.

They share one definition of "improved" (`Monitor`): mode "min"/"max"/"auto" (max for names
containing acc, auc, precision or recall, as Keras), and a ``min_delta`` the change must exceed.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Dict, List, Optional

import numpy as np

from fastmlp import _checks, _progbar
from fastmlp.callbacks._base import Callback

_MAX_HINTS = ("acc", "auc", "precision", "recall", "fmeasure")


class Monitor:
    """Which way a monitored value improves, and by how much it must change."""

    def __init__(self, monitor: str, mode: str = "auto", min_delta: float = 0.0) -> None:
        _checks.text("monitor", monitor)
        if not isinstance(mode, str) or mode not in ("auto", "min", "max"):
            raise ValueError(f"Received an invalid value for `mode`, expected 'auto', 'min' or "
                             f"'max'. Received: mode={_checks._show(mode)}")
        min_delta = _checks.number("min_delta", min_delta)
        if mode == "auto":
            name = monitor[4:] if monitor.startswith("val_") else monitor
            mode = "max" if any(h in name for h in _MAX_HINTS) else "min"
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(float(min_delta))

    @property
    def worst(self) -> float:
        return math.inf if self.mode == "min" else -math.inf

    def improved(self, current: float, reference: Optional[float]) -> bool:
        if reference is None:
            return True
        if self.mode == "min":
            return current + self.min_delta < reference
        return current - self.min_delta > reference

    def value(self, logs: Optional[Dict], who: str) -> Optional[float]:
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{who}: the monitored value `{self.monitor}` is not in the logs "
                          f"(available: {sorted(logs or {})}); skipping.", stacklevel=3)
            return None
        return float(value)


class EarlyStopping(Callback):
    """Stops training when ``monitor`` has not improved for ``patience`` epochs.

    With ``restore_best_weights=True`` the weights of the best epoch are restored at the end of
    training **whether or not training stopped early** (Keras restores only on an early stop;
    users asked for this in keras-team/keras#12511).

    Args:
        monitor: logged value to watch. Defaults to "val_loss".
        min_delta: smallest change that counts as an improvement. Defaults to 0.
        patience: epochs without improvement before stopping. Defaults to 0.
        verbose: 1 prints a message when stopping. Defaults to 0.
        mode: "auto", "min" or "max". Defaults to "auto".
        baseline: value the monitor must beat to reset the patience. Defaults to None.
        restore_best_weights: see above. Defaults to False.
        start_from_epoch: epochs to wait before watching (warm-up). Defaults to 0.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: Optional[float] = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0) -> None:
        super().__init__()
        self._monitor = Monitor(monitor, mode, min_delta)
        self.monitor = monitor
        self.patience = _checks.integer("patience", patience, 0)
        self.verbose = _checks.verbosity("verbose", verbose)
        self.baseline = _checks.number("baseline", baseline, optional=True)
        self.restore_best_weights = _checks.flag("restore_best_weights", restore_best_weights)
        self.start_from_epoch = _checks.integer("start_from_epoch", start_from_epoch, 0)
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best: Optional[float] = None
        self.best_weights: Optional[List[np.ndarray]] = None

    def on_train_begin(self, logs: Optional[Dict] = None) -> None:
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best, self.best_weights = None, None

    def on_epoch_end(self, epoch: int, logs: Optional[Dict] = None) -> None:
        current = self._monitor.value(logs, "EarlyStopping")
        if current is None or epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self._monitor.improved(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._monitor.improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Optional[Dict] = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            _progbar.print_line(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _progbar.print_line("Restoring model weights from the end of the best epoch: "
                                    f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by ``factor`` when ``monitor`` stops improving.

    Adds ``learning_rate`` to the epoch logs (so it appears in History).

    Args:
        monitor: Defaults to "val_loss".
        factor: < 1. Defaults to 0.1.
        patience: epochs without improvement before reducing. Defaults to 10.
        verbose: 1 prints each reduction. Defaults to 0.
        mode: "auto", "min" or "max". Defaults to "auto".
        min_delta: Defaults to 1e-4.
        cooldown: epochs to wait after a reduction. Defaults to 0.
        min_lr: lower bound. Defaults to 0.0.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0, **kwargs: Any) -> None:
        super().__init__()
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau: unrecognized arguments {sorted(kwargs)}")
        # Keras refuses factor >= 1 only; a negative factor would jump straight to min_lr.
        self.factor = _checks.number("factor", factor, 0.0, 1.0, high_open=True,
                                     expected="a float in [0, 1) (ReduceLROnPlateau does not "
                                     "support a factor >= 1.0)")
        self._monitor = Monitor(monitor, mode, min_delta)
        self.monitor = monitor
        self.patience = _checks.integer("patience", patience, 0)
        self.verbose = _checks.verbosity("verbose", verbose)
        self.cooldown = _checks.integer("cooldown", cooldown, 0)
        self.min_lr = _checks.number("min_lr", min_lr, 0.0)
        self.wait = self.cooldown_counter = 0
        self.best: Optional[float] = None

    def on_train_begin(self, logs: Optional[Dict] = None) -> None:
        self.wait = self.cooldown_counter = 0
        self.best = None

    def on_epoch_end(self, epoch: int, logs: Optional[Dict] = None) -> None:
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = self._monitor.value(logs, "ReduceLROnPlateau")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._monitor.improved(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(self.model.optimizer.learning_rate)
                if old_lr > self.min_lr:
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        _progbar.print_line(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing "
                                            f"learning rate to {new_lr}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


def _check_checkpoint_name(filepath: str, weights_only: bool) -> None:
    """Keras's checks of the name, made when the callback is created (not after an epoch);
    fastmlp's own format stands where Keras offers legacy HDF5, which fastmlp does not
    write."""
    if weights_only:
        if not filepath.endswith((".weights.h5", ".fastmlp")):
            raise ValueError("When using `save_weights_only=True` in `ModelCheckpoint`, the "
                             "filepath provided must end in `.weights.h5` (Keras weights "
                             "format) or `.fastmlp` (fastmlp's own). Received: "
                             f"filepath={filepath}")
    elif not filepath.endswith((".keras", ".fastmlp")):
        legacy = filepath.endswith((".h5", ".hdf5"))
        raise ValueError("The filepath provided must end in `.keras` (Keras model format) or "
                         "`.fastmlp` (fastmlp's own). "
                         + ("fastmlp does not write Keras's legacy HDF5 model files (`.h5`); "
                            "for weights alone pass save_weights_only=True and a name ending "
                            "in `.weights.h5`. " if legacy else "")
                         + f"Received: filepath={filepath}")


class ModelCheckpoint(Callback):
    """Saves the model (or its weights) at the end of epochs.

    ``filepath`` may hold ``str.format`` fields from the epoch (1-based) and the logs, e.g.
    ``"ckpt-{epoch:02d}-{val_loss:.3f}.fastmlp"``. Saving is atomic (see `fastmlp.saving`).

    Args:
        filepath: where to save.
        monitor: logged value for ``save_best_only``. Defaults to "val_loss".
        verbose: 1 prints a message per save decision. Defaults to 0.
        save_best_only: save only when ``monitor`` improved. Defaults to False.
        save_weights_only: ``save_weights`` instead of ``save``. Defaults to False.
        mode: "auto", "min" or "max". Defaults to "auto".
        save_freq: only "epoch" is supported.
        initial_value_threshold: a value the first save must beat. Defaults to None.
    """

    def __init__(self, filepath: str, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False,
                 mode: str = "auto", save_freq: str = "epoch",
                 initial_value_threshold: Optional[float] = None) -> None:
        super().__init__()
        if not (isinstance(save_freq, str) and save_freq == "epoch"):
            raise ValueError(f"Only save_freq='epoch' is supported. Received: "
                             f"save_freq={_checks._show(save_freq)}")
        self.filepath = _checks.path("filepath", filepath)
        self._monitor = Monitor(monitor, mode)
        self.monitor = monitor
        self.verbose = _checks.verbosity("verbose", verbose)
        self.save_best_only = _checks.flag("save_best_only", save_best_only)
        self.save_weights_only = _checks.flag("save_weights_only", save_weights_only)
        _check_checkpoint_name(self.filepath, self.save_weights_only)
        self.best: Optional[float] = _checks.number("initial_value_threshold",
                                                    initial_value_threshold, optional=True)

    def _path(self, epoch: int, logs: Dict) -> str:
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: failed to format filepath {self.filepath!r}: key "
                           f"{e} is not in the logs {sorted(logs)}") from None

    def on_epoch_end(self, epoch: int, logs: Optional[Dict] = None) -> None:
        logs = logs or {}
        path = self._path(epoch, logs)
        if self.save_best_only:
            current = self._monitor.value(logs, "ModelCheckpoint")
            if current is None:
                return
            if not self._monitor.improved(current, self.best):
                if self.verbose > 0:
                    _progbar.print_line(f"\nEpoch {epoch + 1}: {self.monitor} did not improve "
                                        f"from {self._fmt(self.best)}")
                return
            if self.verbose > 0:
                _progbar.print_line(f"\nEpoch {epoch + 1}: {self.monitor} improved from "
                                    f"{self._fmt(self.best)} to {current:.5f}, saving model "
                                    f"to {path}")
            self.best = current
        elif self.verbose > 0:
            _progbar.print_line(f"\nEpoch {epoch + 1}: saving model to {path}")
        self._save(path)

    def _fmt(self, value: Optional[float]) -> str:
        return f"{self._monitor.worst:.5f}" if value is None else f"{value:.5f}"

    def _save(self, path: str) -> None:
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)
