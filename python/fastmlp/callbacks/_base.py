"""The callback base with Keras's hooks, the list that dispatches them, History, LambdaCallback."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional

_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")


class Callback:
    """Base class of callbacks: every hook is a no-op; override the ones you need.

    Hooks: ``on_train_begin/end(logs)``, ``on_epoch_begin/end(epoch, logs)``,
    ``on_train_batch_begin/end(batch, logs)`` (aliases ``on_batch_begin/end``),
    ``on_test_begin/end(logs)``, ``on_predict_begin/end(logs)``. Attributes ``model`` and
    ``params`` (``{"verbose", "epochs", "steps"}``) are set by the model.

    Per-batch hooks cost a Python call per batch, so the training loop (which runs whole epochs in
    C++) only calls back per batch when a callback overrides a batch hook. Test and predict batch
    hooks are not called (evaluate and predict run in one C++ call).
    """

    def __init__(self) -> None:
        self.validation_data = None
        self.params: Dict[str, Any] = {}
        self._model = None

    def set_params(self, params: Dict[str, Any]) -> None:
        self.params = params

    def set_model(self, model: Any) -> None:
        self._model = model

    @property
    def model(self) -> Any:
        return self._model

    def wants_batches(self) -> bool:
        """True if this callback overrides a per-batch training hook."""
        return any(getattr(type(self), h) is not getattr(Callback, h) for h in _BATCH_HOOKS)

    def on_batch_begin(self, batch: int, logs: Optional[Dict] = None) -> None:
        """Alias of ``on_train_batch_begin`` (Keras)."""

    def on_batch_end(self, batch: int, logs: Optional[Dict] = None) -> None:
        """Alias of ``on_train_batch_end`` (Keras)."""

    def on_epoch_begin(self, epoch: int, logs: Optional[Dict] = None) -> None:
        """Called at the start of an epoch (0-based index)."""

    def on_epoch_end(self, epoch: int, logs: Optional[Dict] = None) -> None:
        """Called at the end of an epoch with its logs (training and ``val_`` values)."""

    def on_train_batch_begin(self, batch: int, logs: Optional[Dict] = None) -> None:
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: Optional[Dict] = None) -> None:
        self.on_batch_end(batch, logs=logs)

    def on_train_begin(self, logs: Optional[Dict] = None) -> None:
        """Called when fit starts."""

    def on_train_end(self, logs: Optional[Dict] = None) -> None:
        """Called when fit ends, with the last epoch's logs."""

    def on_test_begin(self, logs: Optional[Dict] = None) -> None:
        """Called when evaluate (or fit's validation) starts."""

    def on_test_end(self, logs: Optional[Dict] = None) -> None:
        """Called when evaluate (or fit's validation) ends, with its logs."""

    def on_predict_begin(self, logs: Optional[Dict] = None) -> None:
        """Called when predict starts."""

    def on_predict_end(self, logs: Optional[Dict] = None) -> None:
        """Called when predict ends."""


class History(Callback):
    """Records each epoch's logs: ``history.history["loss"]``, ``["val_loss"]``, ...

    ``fit`` returns it; ``history.epoch`` lists the epoch indices.
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: Dict[str, List[float]] = {}
        self.epoch: List[int] = []

    def on_train_begin(self, logs: Optional[Dict] = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: Optional[Dict] = None) -> None:
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.

    Args:
        on_epoch_begin, on_epoch_end: ``f(epoch, logs)``.
        on_train_batch_begin, on_train_batch_end (or on_batch_begin/end): ``f(batch, logs)``.
        on_train_begin, on_train_end: ``f(logs)``.
    """

    def __init__(self, on_epoch_begin: Optional[Callable] = None,
                 on_epoch_end: Optional[Callable] = None,
                 on_train_begin: Optional[Callable] = None,
                 on_train_end: Optional[Callable] = None,
                 on_train_batch_begin: Optional[Callable] = None,
                 on_train_batch_end: Optional[Callable] = None, **kwargs: Callable) -> None:
        super().__init__()
        hooks = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
                 "on_train_begin": on_train_begin, "on_train_end": on_train_end,
                 "on_train_batch_begin": on_train_batch_begin or kwargs.pop("on_batch_begin",
                                                                            None),
                 "on_train_batch_end": on_train_batch_end or kwargs.pop("on_batch_end", None)}
        allowed = {"on_test_begin", "on_test_end", "on_predict_begin", "on_predict_end"}
        unknown = set(kwargs) - allowed
        if unknown:
            raise TypeError(f"LambdaCallback: unknown hooks {sorted(unknown)}")
        hooks.update(kwargs)
        for name, fn in hooks.items():
            if fn is not None and not callable(fn):
                raise ValueError(f"Received an invalid value for `{name}`, expected a function or "
                                 f"None. Received: {name}={fn!r}")
        self._batch_hooks = bool(hooks["on_train_batch_begin"] or hooks["on_train_batch_end"])
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)

    def wants_batches(self) -> bool:
        return self._batch_hooks


class CallbackList:
    """Dispatches hooks to a list of callbacks (History first, the progress logger last)."""

    def __init__(self, callbacks: Optional[Iterable[Callback]], model: Any,
                 params: Dict[str, Any]) -> None:
        self.callbacks: List[Callback] = as_callback_list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)
        self.batch_callbacks = [cb for cb in self.callbacks if cb.wants_batches()]
        # Callbacks that do not make the loop report batches but look at them when it does
        # (TerminateOnNaN).
        self._batch_end = [cb for cb in self.callbacks if cb.wants_batches() or
                           type(cb).on_train_batch_end is not Callback.on_train_batch_end]

    def __getattr__(self, hook: str) -> Callable:
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def dispatch(*args: Any, **kwargs: Any) -> None:
            for cb in self.callbacks:
                getattr(cb, hook)(*args, **kwargs)
        return dispatch

    def on_train_batch_begin(self, batch: int, logs: Optional[Dict] = None) -> None:
        for cb in self.batch_callbacks:
            cb.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Optional[Dict] = None) -> None:
        for cb in self._batch_end:
            cb.on_train_batch_end(batch, logs)


def as_callback_list(callbacks: Any) -> List[Callback]:
    """``callbacks`` as a list: None, one Callback (as Keras flattens it) or a list/tuple of them."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    if isinstance(callbacks, (str, bytes, dict)) or not hasattr(callbacks, "__iter__"):
        raise TypeError(f"`callbacks` must be a list of fastmlp.callbacks.Callback instances. "
                        f"Received: callbacks={callbacks!r}")
    result = list(callbacks)
    for cb in result:
        if not isinstance(cb, Callback):
            raise TypeError(f"`callbacks` must contain Callback instances. Received: {cb!r}")
    return result
