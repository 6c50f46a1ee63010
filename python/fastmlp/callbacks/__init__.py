"""Callbacks with Keras's names, hooks and arguments.

Example:
    >>> model.fit(x, y, validation_split=0.1, callbacks=[
    ...     callbacks.EarlyStopping(patience=3, restore_best_weights=True),
    ...     callbacks.ModelCheckpoint("best.fastmlp", save_best_only=True)])
"""

from fastmlp.callbacks._backup import BackupAndRestore
from fastmlp.callbacks._base import Callback, CallbackList, History, LambdaCallback
from fastmlp.callbacks._misc import CSVLogger, LearningRateScheduler, TerminateOnNaN
from fastmlp.callbacks._monitoring import EarlyStopping, ModelCheckpoint, Monitor, \
    ReduceLROnPlateau
from fastmlp.callbacks._progress import ProgbarLogger

__all__ = ["BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback",
           "LearningRateScheduler", "ModelCheckpoint", "Monitor", "ProgbarLogger",
           "ReduceLROnPlateau", "TerminateOnNaN"]
