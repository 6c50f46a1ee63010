"""`BackupAndRestore`: a fit that was killed resumes where it stopped (Keras 3's callback)."""

from __future__ import annotations

import io
import json
import numbers
import os
import zipfile
from typing import Any, Dict, Optional, Tuple

from fastmlp import _atomic, _checks
from fastmlp.callbacks._base import Callback

_LATEST = "latest.backup"
_PREVIOUS = "latest.backup.bkp"  # Keras's suffix for the previous state (double_checkpoint)
_METADATA, _MODEL = "training_metadata.json", "model.fastmlp"
_MAX_METADATA = 1 << 16


class BackupAndRestore(Callback):
    """Backs up the training state so that a fit interrupted in any way (an exception, Ctrl-C,
    ``kill -9``, a power loss) resumes from the last backup when fit is called again.

    A backup holds the weights, the optimizer state, the shuffle and Dropout state and the
    epoch, in one file written atomically (``backup_dir/latest.backup``): a crash leaves the
    previous backup or the new one, never a mix. At the start of fit the callback restores
    the backup and fit goes on from its epoch (the History then holds the epochs run since).
    With ``save_freq="epoch"`` the resumed run ends with the bits of an uninterrupted one.
    With ``save_freq=N`` the weights come from the last backup (every N batches) and, as in
    Keras, the interrupted epoch is run again from its first batch. The model must be the one
    backed up, compiled the same way (a backup that does not fit it is an error).

    Args:
        backup_dir: a directory for this callback's files only (created when needed).
        save_freq: ``"epoch"``, or back up every this many batches. Defaults to "epoch".
        double_checkpoint: also keep the previous backup (``latest.backup.bkp``), restored
            when the latest cannot be read. Defaults to False.
        delete_checkpoint: remove the backups when fit completes. Defaults to True.

    Example:
        >>> model.fit(x, y, epochs=20, callbacks=[
        ...     fastmlp.callbacks.BackupAndRestore(backup_dir="/tmp/backup")])
    """

    def __init__(self, backup_dir: Any, save_freq: Any = "epoch",
                 double_checkpoint: bool = False, delete_checkpoint: bool = True) -> None:
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        self.backup_dir = _checks.path("backup_dir", backup_dir)
        if not (save_freq == "epoch" and isinstance(save_freq, str)) and not (
                isinstance(save_freq, numbers.Integral) and not isinstance(save_freq, bool)
                and save_freq > 0):
            raise ValueError(f"Invalid value for argument `save_freq`. Received: "
                             f"save_freq={_checks._show(save_freq)}. Expected either 'epoch' or "
                             "a positive integer value.")
        self.save_freq = save_freq if isinstance(save_freq, str) else int(save_freq)
        self.double_checkpoint = _checks.flag("double_checkpoint", double_checkpoint)
        self.delete_checkpoint = _checks.flag("delete_checkpoint", delete_checkpoint)
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0

    def _path(self, name: str) -> str:
        return os.path.join(self.backup_dir, name)

    def wants_batches(self) -> bool:
        return self.save_freq != "epoch"  # epoch backups leave the C++ loop uninterrupted

    # ---- restore -------------------------------------------------------------------------------
    def on_train_begin(self, logs: Optional[Dict] = None) -> None:
        latest, previous = self._path(_LATEST), self._path(_PREVIOUS)
        self._batches_seen_since_last_saving = self._last_batch_seen = 0
        if not os.path.exists(latest):
            if os.path.exists(previous):  # killed between moving it aside and the next write
                self._restore(previous)
            return
        try:
            self._restore(latest)
        except (OSError, ValueError):
            if not (self.double_checkpoint and os.path.exists(previous)):
                raise
            self._restore(previous)

    def _restore(self, path: str) -> None:
        from fastmlp import saving
        epoch, data = _read(path)
        saved = saving.model_from_bytes(data)
        model = self.model
        try:
            model.set_weights(saved.get_weights())
            state = saved.get_training_state()
            if state["optimizer"] is not None:
                from fastmlp import _file_checks
                _file_checks.check_slots(model, state["optimizer"]["slots"], path)
            model.set_training_state(state)
        except ValueError as e:
            raise ValueError(f"The backup {path!r} does not fit model {model.name!r} (a "
                             f"BackupAndRestore directory belongs to one model and one compile "
                             f"setting): {e}") from None
        model._initial_epoch = epoch

    # ---- back up -------------------------------------------------------------------------------
    def on_epoch_begin(self, epoch: int, logs: Optional[Dict] = None) -> None:
        self._current_epoch = epoch  # a backup inside this epoch resumes at its start

    def on_epoch_end(self, epoch: int, logs: Optional[Dict] = None) -> None:
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save()

    def on_train_batch_end(self, batch: int, logs: Optional[Dict] = None) -> None:
        if self._should_save_on_batch(batch):
            self._save()

    def _should_save_on_batch(self, batch: int) -> bool:
        """Keras's count: batches since the last backup, carried across epochs."""
        if self.save_freq == "epoch":
            return False
        added = batch + 1 if batch <= self._last_batch_seen else batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _save(self) -> None:
        from fastmlp import saving
        from fastmlp.distribution import _writes_here
        if not _writes_here():  # one writer under a distribution; every rank restores
            return
        data, _ = saving.model_to_bytes(self.model)
        metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr(_METADATA, json.dumps(metadata))
            zf.writestr(_MODEL, data)
        os.makedirs(self.backup_dir, exist_ok=True)
        latest = self._path(_LATEST)
        if self.double_checkpoint and os.path.exists(latest):
            os.replace(latest, self._path(_PREVIOUS))
        _atomic.write_atomically(latest, lambda f: f.write(buf.getvalue()))

    def on_train_end(self, logs: Optional[Dict] = None) -> None:
        """Removes the backups (Keras removes the whole directory; this removes only the
        callback's files, and the directory when nothing else is left in it)."""
        if not self.delete_checkpoint:
            return
        for name in (_LATEST, _PREVIOUS):
            try:
                os.remove(self._path(name))
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self.backup_dir)
        except OSError:  # absent, or holding other files
            pass


def _read(path: str) -> Tuple[int, bytes]:
    """(epoch, model bytes) of a backup file; ValueError naming the file when it is not one
    (the model bytes get the file checks of `load_model` when read)."""
    with open(path, "rb") as f:
        blob = f.read()
    try:
        return _parse(path, blob)
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path!r} is not a readable BackupAndRestore backup: {e}") from None


def _parse(path: str, blob: bytes) -> Tuple[int, bytes]:
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        infos = {info.filename: info for info in zf.infolist()}
        if sorted(infos) != sorted([_METADATA, _MODEL]) or \
                infos[_METADATA].file_size > _MAX_METADATA or \
                any(info.compress_type != zipfile.ZIP_STORED for info in infos.values()):
            raise ValueError(f"{path!r} is not a BackupAndRestore backup (members "
                             f"{sorted(infos)[:4]})")
        metadata = json.loads(zf.read(_METADATA))
        if not isinstance(metadata, dict) or not all(
                isinstance(metadata.get(k), int) and not isinstance(metadata.get(k), bool)
                and metadata[k] >= 0 for k in ("epoch", "batch")):
            raise ValueError(f"{path!r}: {_METADATA} must hold non-negative integers 'epoch' and "
                             f"'batch', not {metadata!r:.100}")
        return metadata["epoch"], zf.read(_MODEL)
