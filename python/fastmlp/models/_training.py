"""compile / fit / evaluate / predict of `Sequential`: thin wrappers over the core's loops.

Python sees epoch boundaries only (and batch boundaries when a callback asks for them): each epoch
is one ``core.train_epoch`` call that shuffles, batches, runs forward/backward and the optimizer in
C++ with the GIL released.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from fastmlp import _core, _random, losses as losses_module, metrics as metrics_module
from fastmlp import optimizers as optimizers_module
from fastmlp import distribution as _distribution
from fastmlp.callbacks import CallbackList, History, ProgbarLogger, TerminateOnNaN
from fastmlp.callbacks._base import as_callback_list
from fastmlp.distribution import _fit as _dist
from fastmlp.models import _args, _fit_data, _freezing, _pysource, _quantize
from fastmlp.models._data import class_weight_table, prepare_x, sample_weights, targets
from fastmlp.models._metrics import CompiledMetrics
from fastmlp.models._pacing import BatchPacing

# Up to this many rows, predict() never shows progress (the direct single-thread path).
_SMALL_PREDICT_ROWS = 1024


class TrainingMixin:
    """The Keras training API of a model that has ``_core``, ``_sample_shape`` and layers."""

    def __init__(self) -> None:
        self.optimizer: Optional[optimizers_module.Optimizer] = None
        self.loss: Any = None
        self.compiled = False
        self.stop_training = False
        self.history: Optional[History] = None
        self._loss_obj: Optional[losses_module.Loss] = None
        self._metric_ids: List[Any] = []
        self._weighted_metric_ids: List[Any] = []
        self._compiled_metrics = CompiledMetrics([])
        self._core_compiled = False
        self._compiled_trainable: Optional[Dict[Any, bool]] = None  # flags at compile
        self._trainable_warned = False
        self._optimizer_tensors: Optional[List[int]] = None  # what the core's optimizer updates
        self._initial_epoch: Optional[int] = None  # set in on_train_begin (BackupAndRestore)

    # ---- compile ------------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None,
                metrics: Optional[Sequence[Any]] = None, weighted_metrics: Any = None,
                run_eagerly: bool = False, steps_per_execution: int = 1,
                jit_compile: Any = "auto", auto_scale_loss: bool = True) -> None:
        """Sets the optimizer, loss and metrics for training.

        Args:
            optimizer: name ("adam", "sgd", "rmsprop", ...) or `fastmlp.optimizers` object.
                Defaults to "rmsprop" (as Keras).
            loss: name ("mse", "sparse_categorical_crossentropy", ...) or `fastmlp.losses`
                object.
            metrics: list of names ("accuracy", "mae", "auc", "f1_score", ...) or
                `fastmlp.metrics` objects, computed without sample weights; logged under the
                name given (a repeated name gets "_1", ...).
            weighted_metrics: the same, computed with ``sample_weight`` (and ``class_weight``);
                one whose name is taken is logged as "weighted_<name>".
            loss_weights: only 1 (fastmlp models have one output).
            run_eagerly, steps_per_execution, jit_compile, auto_scale_loss: accepted for Keras
                compatibility and ignored (the loop always runs in C++).

        As in Keras, the layers' ``trainable`` flags are read here: a change made later takes
        effect at the next ``compile``. Given the optimizer object it already has, the model
        keeps that optimizer's state (iterations, slots), as a Keras optimizer object does.
        """
        metrics, weighted = _args.compile_metrics(metrics, loss_weights, weighted_metrics,
                                                  run_eagerly, steps_per_execution, jit_compile)
        _args.flag("auto_scale_loss", auto_scale_loss)
        optimizer = optimizers_module.get(optimizer)
        carried = None  # raises here, the model unchanged, for a weight it never had
        if optimizer is self.optimizer and self._core is not None and self._core_compiled:
            carried = _freezing.carried_state(self, optimizer,
                                              _freezing.optimized_tensors(self, current=True))
        self.optimizer = optimizer
        self._loss_obj = losses_module.get(loss) if loss is not None else None
        if self._loss_obj is not None:
            self._loss_obj.to_spec()  # rejects settings the loop cannot run, now
        self.loss = loss
        self._metric_ids, self._weighted_metric_ids = metrics, weighted
        for m in metrics + weighted:  # validate names now; "accuracy" resolves once built
            metrics_module.get(m, "mean_squared_error", 1)
        self.compiled = True
        self._core_compiled = False
        self._compiled_trainable, self._trainable_warned = _freezing.snapshot(self), False
        if self._core is not None:
            self._compile_core(carried)

    def _on_built(self) -> None:
        self._core_compiled = False
        if self.compiled:
            self._compile_core()

    def _compile_core(self, carried: Optional[Tuple[int, List[Any]]] = None) -> None:
        """Compiles the core with the settings of `compile`; ``carried``: the optimizer state to
        go on from (`_freezing.carried_state`), else it starts afresh."""
        tensors = _freezing.optimized_tensors(self)
        loss_spec = self._loss_obj.to_spec() if self._loss_obj is not None else \
            {"name": "mean_squared_error", "from_logits": False, "label_smoothing": 0.0,
             "delta": 1.0}
        out_dim = int(self._core.output_dim)
        def resolve(ids: List[Any]) -> List[metrics_module.Metric]:
            return [metrics_module.get(m, loss_spec["name"], out_dim) for m in ids]
        compiled = CompiledMetrics(resolve(self._metric_ids), resolve(self._weighted_metric_ids))
        self._core.compile(loss_spec, self.optimizer.to_spec(), compiled.core_specs(),
                           _freezing.frozen_flags(self), compiled.core_specs(weighted=True))
        self._compiled_metrics = compiled
        self._optimizer_tensors = tensors
        if carried is not None:
            self._core.set_optimizer_state(*carried)
        else:
            self.optimizer._parked_slots = {}
        self.optimizer._bind(self._core)
        self._core_compiled = True

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise RuntimeError(f"You must call `compile()` before using `{what}`.")
        if self._loss_obj is None:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        _freezing.warn_if_changed(self)

    @property
    def _metrics(self) -> List[metrics_module.Metric]:
        """The compiled metric objects ("accuracy" resolved), then the weighted ones."""
        return [m for m, _, _ in self._compiled_metrics.entries]

    @property
    def metrics_names(self) -> List[str]:
        return ["loss"] + self._compiled_metrics.names

    def _optimizer_param_count(self) -> int:
        if not self._core_compiled or int(self._core.iterations) == 0:
            return 0
        _, slots = self._core.get_optimizer_state()
        return int(sum(np.asarray(s).size for s in slots)) + 2  # + iterations, learning rate

    # ---- data ---------------------------------------------------------------------------------
    def _dataset(self, x: Any, y: Any, sample_weight: Any = None, class_weight: Any = None,
                 names: Tuple[str, str, str] = ("x", "y", "sample_weight")) -> Tuple[Any, str]:
        """``(x, y, sample_weight)`` as a `_core.Dataset` (checked once, whatever reads it) and
        the name of the dtype x is read in."""
        self._ensure_built(x)
        if not self._core_compiled:
            self._compile_core()
        outputs = int(self._core.output_dim)
        table = None if class_weight is None else class_weight_table(class_weight, outputs)
        xs = prepare_x(x, self._sample_shape, names[0], sparse_ok=True)
        data = _core.Dataset(xs, targets(y, names[1]), sample_weights(sample_weight, names[2]),
                             outputs=outputs, loss=self._loss_obj.to_spec(), class_weight=table,
                             names=list(names))
        return data, (x if isinstance(x, np.ndarray) else xs).dtype.name

    def _pred_buffer(self, n: int) -> Optional[np.ndarray]:
        return self._compiled_metrics.buffer(n, int(self._core.output_dim))

    def _ordered(self, logs: Dict[str, float], return_dict: bool) -> Any:
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[name] for name in self._compiled_metrics.names]
        return values[0] if len(values) == 1 else values

    # ---- fit ----------------------------------------------------------------------------------
    def fit(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None,
            epochs: int = 1, verbose: Union[str, int] = "auto",
            callbacks: Optional[Sequence[Any]] = None, validation_split: float = 0.0,
            validation_data: Optional[Tuple[Any, ...]] = None, shuffle: Union[bool, str] = True,
            class_weight: Optional[Dict[int, float]] = None, sample_weight: Any = None,
            initial_epoch: int = 0, steps_per_epoch: Optional[int] = None,
            validation_steps: Optional[int] = None,
            validation_batch_size: Optional[int] = None, validation_freq: int = 1) -> History:
        """Trains for ``epochs - initial_epoch`` epochs; returns the `History`.

        Args:
            x: inputs, shape ``(n, *input_shape)``; any numeric dtype (float32 C-contiguous is
                used without a copy; uint8 and float64 are converted per batch), or a
                scipy.sparse matrix ``(n, features)`` (densified block by block, never whole,
                with the dense array's results).
            y: integer labels ``(n,)`` for sparse losses, else ``(n, outputs)`` targets.
            batch_size: Defaults to 32.
            epochs: index of the last epoch (as Keras, with ``initial_epoch``). Defaults to 1.
            verbose: "auto" (= 1), 0 silent, 1 progress bar, 2 one line per epoch.
            callbacks: list of `fastmlp.callbacks.Callback`.
            validation_split: fraction of the data, taken from the end before shuffling, held
                out for validation. Defaults to 0.0.
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``;
                overrides ``validation_split``.
            shuffle: shuffle the training rows every epoch (seeded). Defaults to True.
            class_weight: ``{class_index: weight}`` multiplying the sample weights.
            sample_weight: per-sample weights ``(n,)``.
            initial_epoch: epoch to start from (for resuming). Defaults to 0.
            steps_per_epoch: batches per epoch, cycling through the data; None uses all rows.
            validation_batch_size: Defaults to ``batch_size``.
            validation_freq: validate every this many epochs. Defaults to 1.

        Returns:
            `History` whose ``history`` maps "loss", each metric and their "val_" forms to
            per-epoch lists.
        """
        dist = _distribution._active()
        with _dist.phase(dist):  # under a distribution: no rank trains unless every rank can
            self._require_compiled("fit")
            _quantize.refuse_training(self, "fit")
            a = _args.fit_args(batch_size, epochs, verbose, validation_split, shuffle,
                               initial_epoch, steps_per_epoch, validation_steps,
                               validation_batch_size, validation_freq)
            batch_size, epochs = a.batch_size, a.epochs
            user = _dist.local_callbacks(dist, as_callback_list(callbacks))
            data, val = _fit_data.fit_data(self, x, y, sample_weight, class_weight,
                                           validation_data, a, dist is not None)
            # With TerminateOnNaN a NaN/Inf loss stops training as in Keras; otherwise the core
            # refuses the step and raises FloatingPointError.
            stop_on_nonfinite = not any(isinstance(cb, TerminateOnNaN) for cb in user)
            if self._optimizer_tensors == []:
                warnings.warn(_freezing.NO_TRAINABLE, UserWarning, stacklevel=2)
        steps_arg = a.steps_per_epoch
        source = data if isinstance(data, _pysource.Source) else None
        if source is None:
            rows = len(data)  # of the whole data set, over the ranks' shards when distributed
            if dist is not None:
                rows = _dist.start_fit(dist, self, data, val, a, stop_on_nonfinite,
                                       (x, y, sample_weight))
            steps = steps_arg or math.ceil(rows / batch_size)
        else:
            steps = steps_arg or source.num_batches  # None: a generator's, until exhausted
        val_batch, freq = a.validation_batch_size, a.validation_freq
        verbose_level = a.verbose if _distribution._writes_here() else 0

        with _dist.phase(dist):
            history = History()
            # A ProgbarLogger the user passed replaces the default one (as in Keras).
            progbar = next((cb for cb in user if isinstance(cb, ProgbarLogger)), None)
            if progbar is None and verbose_level:
                progbar = ProgbarLogger()
                user.insert(0, progbar)
            cbs = CallbackList(user + [history], model=self,
                               params={"verbose": verbose_level, "epochs": epochs,
                                       "steps": steps})
            self.stop_training = False
            self.history = history
            self._initial_epoch = None
            cbs.on_train_begin()
            first_epoch = a.initial_epoch if self._initial_epoch is None else self._initial_epoch
            self._initial_epoch = None
        logs: Dict[str, float] = {}
        pacing = BatchPacing(cbs, progbar, steps)
        pacing.stop_on_nonfinite = stop_on_nonfinite
        for epoch in range(first_epoch, epochs):
            if source is not None and not source.has_data():  # an exhausted generator
                warnings.warn(_pysource.RAN_OUT, UserWarning, stacklevel=2)
                break
            with _dist.phase(dist, self):  # and any rank's stop_training stops every rank
                cbs.on_epoch_begin(epoch)
                try:
                    logs = self._train_one_epoch(self._epoch_rows(data, steps_arg, batch_size),
                                                 batch_size, a.shuffle, pacing, dist) \
                        if source is None else _pysource.train_epoch(
                            self, source, steps_arg, cbs, stop_on_nonfinite,
                            _random.epoch_seed(self._shuffle_seed, self._epochs_seen))
                except FloatingPointError as e:
                    raise _dist.reworded(e, f"Training stopped in epoch {epoch + 1}: {e}") \
                        from None
                if val is not None and (epoch + 1) % freq == 0:
                    cbs.on_test_begin()
                    val_logs = _dist.evaluate(dist, self, val, val_batch) if dist else \
                        _pysource.evaluate(self, val, a.validation_steps, "validation_data") \
                        if isinstance(val, _pysource.Source) else \
                        self._evaluate_dataset(val, val_batch)
                    cbs.on_test_end(val_logs)
                    logs.update({"val_" + k: v for k, v in val_logs.items()})
                cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        with _dist.phase(dist):
            cbs.on_train_end(logs)
        return history

    def _epoch_rows(self, data: Any, steps: Optional[int], batch_size: int) -> Any:
        """All rows, or (with steps_per_epoch) the next window of steps * batch_size rows."""
        n = len(data)
        if steps is None or steps * batch_size >= n:
            return data
        start = (self._epochs_seen * steps * batch_size) % n
        return data.take(np.arange(start, start + steps * batch_size) % n)

    def _train_one_epoch(self, data: Any, batch_size: int, shuffle: bool,
                         pacing: BatchPacing, dist: Any = None) -> Dict[str, float]:
        ys = data.y
        y_pred = self._pred_buffer(len(data)) if dist is None else \
            _dist.pred_buffer(self, len(data))
        seed = _random.epoch_seed(self._shuffle_seed, self._epochs_seen)
        if dist is not None:
            seed = _dist.shuffle_seed(dist, seed)
        started = time.perf_counter()
        pacing.stopped = False
        core_logs = self._core.train_epoch(data, batch_size=batch_size, shuffle=shuffle,
                                           seed=seed, y_pred_out=y_pred,
                                           batch_callback=pacing.hook(self),
                                           callback_every=pacing.every,
                                           stop_on_nonfinite=pacing.stop_on_nonfinite,
                                           reducer=None if dist is None else dist._reducer)
        self._epochs_seen += 1
        rows = None  # all; stopped at a batch end, the rows of the batches trained
        if pacing.stopped:
            rows = min(len(data), (pacing.last_batch + 1) * min(batch_size, len(data)))
        else:
            pacing.measured(time.perf_counter() - started)
        if dist is not None:
            return _dist.logs(dist, self, core_logs, ys, y_pred, batch_size)
        return self._compiled_metrics.logs(dict(core_logs), ys, y_pred, batch_size, rows,
                                           seed if shuffle else None, data.sample_weight)

    # ---- evaluate / predict -------------------------------------------------------------------
    def _evaluate_dataset(self, data: Any, batch_size: int) -> Dict[str, float]:
        y_pred = self._pred_buffer(len(data))
        core_logs = self._core.evaluate(data, batch_size=batch_size, y_pred_out=y_pred)
        return self._compiled_metrics.logs(dict(core_logs), data.y, y_pred, batch_size,
                                           sample_weight=data.sample_weight)

    def evaluate(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None,
                 verbose: Union[str, int] = "auto", sample_weight: Any = None,
                 steps: Optional[int] = None, callbacks: Optional[Sequence[Any]] = None,
                 return_dict: bool = False) -> Union[float, List[float], Dict[str, float]]:
        """Loss and metrics on ``(x, y)`` in inference mode.

        Returns:
            The loss (a float) when no metrics were compiled, else ``[loss, *metrics]`` in the
            order given to ``compile`` (Keras's order); a dict with ``return_dict=True``.
        """
        self._require_compiled("evaluate")
        verbose_level = _args.verbosity(verbose)
        batch_size = _args.positive_int("batch_size", batch_size, 32)
        steps = _args.steps(steps)
        return_dict = _args.flag("return_dict", return_dict)
        cbs_list = as_callback_list(callbacks)
        source = _pysource.make(x, y, sample_weight) if _pysource.is_source(x) else None
        data = self._dataset(x, y, sample_weight)[0] if source is None else None
        cbs = CallbackList(cbs_list, model=self, params={"verbose": verbose_level, "epochs": 1,
                                                          "steps": None})
        cbs.on_test_begin()
        started = time.perf_counter()
        logs = self._evaluate_dataset(data, batch_size) if source is None else \
            _pysource.evaluate(self, source, steps, "x")
        cbs.on_test_end(logs)
        if verbose_level:
            bar = ProgbarLogger()
            bar.set_params({"verbose": verbose_level})
            bar.show_result(math.ceil(len(data) / batch_size) if source is None else
                            source.count, time.perf_counter() - started, logs)
        return self._ordered(logs, return_dict)

    def predict(self, x: Any, batch_size: Optional[int] = None,
                verbose: Union[str, int] = "auto", steps: Optional[int] = None,
                callbacks: Optional[Sequence[Any]] = None) -> np.ndarray:
        """Outputs for ``x`` in inference mode, as a new float32 array ``(n, outputs)``.

        Small inputs take a direct path (no threads, no progress line); larger ones run in
        parallel row blocks and print one progress line when ``verbose`` is not 0. A
        scipy.sparse ``x`` is densified block by block (as in ``fit`` and ``evaluate``).
        """
        # Checked here so that every path reports them the same way.
        if batch_size is not None:
            batch_size = _args.positive_int("batch_size", batch_size, 32)
        verbose_level = _args.verbosity(verbose)
        if steps is not None:
            _args.steps(steps)
        core = self._core
        if core is not None and (callbacks is None or (type(callbacks) in (list, tuple)
                                                       and not callbacks)):
            # The lean path: the core checks the layout itself and answers None when x is not a
            # small C-contiguous float32 matrix of the input width.
            out = core._predict_small(x)
            if out is not None:
                return out
        cbs_list = as_callback_list(callbacks)
        source = _pysource.make(x) if _pysource.is_source(x) else None
        if source is None:
            self._ensure_built(x)
            xs = prepare_x(x, self._sample_shape, sparse_ok=True)
        cbs = CallbackList(cbs_list, model=self, params={"verbose": verbose_level})
        cbs.on_predict_begin()
        started = time.perf_counter()
        # a CSR xs is densified block by block in the core
        out = self._core.predict(xs) if source is None else \
            _pysource.predict(self, source, steps)
        cbs.on_predict_end()
        if verbose_level and out.shape[0] > _SMALL_PREDICT_ROWS:
            bar = ProgbarLogger()
            bar.set_params({"verbose": verbose_level})
            bar.show_result(math.ceil(out.shape[0] / (batch_size or 32)) if source is None
                            else source.count, time.perf_counter() - started, {})
        return out

    def predict_on_batch(self, x: Any) -> np.ndarray:
        """Outputs for one batch, with no progress output (the fast path of ``predict``)."""
        core = self._core
        if core is not None:
            out = core._predict_small(x)
            if out is not None:
                return out
        return self.predict(x, verbose=0)

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                       class_weight: Optional[Dict[int, float]] = None,
                       return_dict: bool = False) -> Union[float, List[float], Dict[str, float]]:
        """One optimizer step on the whole of ``(x, y)``; returns that batch's loss/metrics
        (scalar or list as ``evaluate``). Metrics are of this batch only (not accumulated)."""
        dist = _distribution._active()
        with _dist.phase(dist):  # collective under a distribution, as fit
            self._require_compiled("train_on_batch")
            _quantize.refuse_training(self, "train_on_batch")
            return_dict = _args.flag("return_dict", return_dict)
            data = self._dataset(x, y, sample_weight, class_weight)[0]
            if not self._optimizer_tensors:
                warnings.warn(_freezing.NO_TRAINABLE, UserWarning, stacklevel=2)
        if dist is not None:
            return self._ordered(_dist.train_batch(dist, self, data), return_dict)
        y_pred = self._pred_buffer(len(data))
        core_logs = self._core.train_epoch(data, batch_size=len(data), shuffle=False, seed=0,
                                           y_pred_out=y_pred)
        logs = self._compiled_metrics.logs(dict(core_logs), data.y, y_pred, len(data),
                                           sample_weight=data.sample_weight)
        return self._ordered(logs, return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                      return_dict: bool = False) -> Union[float, List[float], Dict[str, float]]:
        """Loss/metrics of one batch in inference mode (as ``evaluate``)."""
        self._require_compiled("test_on_batch")
        return_dict = _args.flag("return_dict", return_dict)
        data = self._dataset(x, y, sample_weight)[0]
        return self._ordered(self._evaluate_dataset(data, len(data)), return_dict)
