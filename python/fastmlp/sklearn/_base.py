"""The shared engine of fastmlp's scikit-learn estimators: scikit-learn's stochastic training
loop (stopping rules, learning-rate schedules, early stopping) driven one C++ epoch at a time.

How scikit-learn's objective maps onto the core (so training follows the same trajectory):
scikit-learn minimizes, per batch of B samples of weight sum S (S = B without sample weights),
``s * L_keras + alpha / (2 S) * sum ||W||^2`` where L_keras is the Keras-reduced loss the core
computes and ``s`` is 1 for single-label classification and absolute error, k for k-label
classification (a sum of binary log-losses) and for Huber over k outputs (summed over outputs,
so that it equals squared_error for residuals below ``huber_delta``), and k/2 for squared error
over k outputs (half squares, summed over outputs in the gradient). The core minimizes
``L_keras + l2 * sum ||W||^2``; with ``l2 = alpha / (2 B m s)``, m the mean sample weight, the
two objectives differ by the factor s, which Adam absorbs when its epsilon is divided by s, and
SGD (with or without momentum) when its learning rate is multiplied by s. Reported losses are
multiplied back by s. Sample weights (times class weights) are divided by m, so that a batch's
loss is its weighted mean as in scikit-learn; with one batch of all rows, a sample of weight 2
is then exactly a repeated sample. Differences that remain: the core applies the penalty with
the nominal B m also to a smaller last batch and to batches whose weight sum is not B m
(scikit-learn uses each batch's own S), and for k > 1 squared-error outputs ``loss_`` is the
minimized objective (scikit-learn reports half the mean instead, a quantity its gradient does
not follow).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from fastmlp import _core
from fastmlp.models import _sparse
from fastmlp.sklearn import _network, _params

_MIN_ADAPTIVE_LR = 1e-6  # scikit-learn's floor for learning_rate='adaptive'


class BaseMLP(BaseEstimator):
    """Fields and training loop shared by MLPClassifier and MLPRegressor."""

    def _validate_params(self):
        return _params.validate(self)

    # ---------------------------------------------------------------- the core model
    def _optimizer_spec(self):
        s = self._loss_scale
        if self.solver == "adam":
            return {"name": "adam", "learning_rate": float(self.learning_rate_init),
                    "beta_1": float(self.beta_1), "beta_2": float(self.beta_2),
                    "epsilon": float(self.epsilon) / s}
        return {"name": "sgd", "learning_rate": float(self.learning_rate_init) * s,
                "momentum": float(self.momentum), "nesterov": bool(self.nesterovs_momentum)}

    def _ensure_core(self, n_features, batch_size):
        """The core model for the current parameters and this batch size (the L2 factor
        depends on it), rebuilt only when they changed; a rebuilt model carries over the
        weights, the training step (Dropout's masks) and the optimizer's state (Adam's moments,
        SGD's velocities) unless the solver changed."""
        if any(r > 0.0 for r in self._dropout_rates) and self._dropout_seed is None:
            self._dropout_seed = int(self._random_state.randint(2**31 - 1))
        l2 = self.alpha / (2.0 * batch_size * self._loss_scale * self._weight_mean)
        config = (int(n_features), _network.layer_specs(self, l2), self._core_loss(),
                  self._optimizer_spec())
        old = self._core
        if old is not None and config == self._core_config:
            return
        step, state = 0, None
        if old is not None:
            step = old.training_step
            if config[3]["name"] == self._core_config[3]["name"]:
                state = old.get_optimizer_state()
        # Kept so that unpickling rebuilds exactly this model even if parameters changed since.
        self._core_config = config
        self._core = _network.core_from_config(config, _network.weights_list(self), step, state)

    def __getstate__(self):
        state = self.__dict__.copy()
        core = state.pop("_core", None)
        if core is not None:
            state["_optimizer_state"] = core.get_optimizer_state()
            state["_training_step"] = core.training_step
        return state

    def __setstate__(self, state):
        opt = state.pop("_optimizer_state", None)
        step = state.pop("_training_step", 0)
        self.__dict__.update(state)
        if opt is not None:
            self._core = _network.core_from_config(self._core_config,
                                                   _network.weights_list(self), step, opt)

    # ---------------------------------------------------------------- fitting
    def _fit(self, X, y, sample_weight=None, incremental=False):
        self._hidden_sizes, self._dropout_rates = self._validate_params()
        first = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        if not first:
            self._check_same_network()
        X, Y = self._validate_input(X, y, incremental, reset=first)
        # Sparse X stays sparse: trained and predicted block by block, never densified whole.
        X = X.tocsr() if _sparse.is_sparse(X) else np.ascontiguousarray(X)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        if not first and Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs but the model was fitted with "
                             f"{self.n_outputs_}")
        sample_weight = self._normalized_weights(self._class_weighted(Y, sample_weight,
                                                                      incremental))
        # A warm-started fit or a later partial_fit continues the random stream (the epochs'
        # shuffle seeds) where the previous call left it, as one uninterrupted run would.
        if first or not hasattr(self, "_random_state"):
            self._random_state = check_random_state(self.random_state)
        if first:
            self._initialize(X.shape[1], Y)
        elif self.early_stopping and self.validation_scores_ is None:
            self._start_validation()
        elif not self.early_stopping and self.best_loss_ is None:
            self.best_loss_ = np.inf  # early_stopping switched off between warm-started fits
        with _network.thread_count(self.n_threads):
            self._fit_stochastic(X, Y, sample_weight, incremental)
        if not all(np.isfinite(w).all() for w in self.coefs_ + self.intercepts_):
            raise ValueError("Solver produced non-finite parameter weights. The input data may "
                             "contain large values and need to be preprocessed.")
        return self

    def _check_same_network(self):
        fitted_bn = getattr(self, "batch_norm_weights_", None) is not None
        if len(self.coefs_) != len(self._hidden_sizes) + 1 or any(
                w.shape[1] != h for w, h in zip(self.coefs_, self._hidden_sizes)):
            raise ValueError(f"warm_start and partial_fit continue the fitted network, whose "
                             f"hidden layers are {[w.shape[1] for w in self.coefs_[:-1]]}; "
                             f"`hidden_layer_sizes` cannot change. Received: "
                             f"hidden_layer_sizes={self.hidden_layer_sizes!r}")
        if bool(self.batch_norm) != fitted_bn:
            raise ValueError(f"warm_start and partial_fit continue the fitted network, fitted "
                             f"with batch_norm={fitted_bn}; `batch_norm` cannot change. "
                             f"Received: batch_norm={self.batch_norm!r}")

    def _class_weighted(self, Y, sample_weight, incremental):
        return sample_weight  # the classifier multiplies in its class weights

    def _normalized_weights(self, sample_weight):
        """Weights of mean 1; their mean m enters the L2 factor (see the module docstring)."""
        self._weight_mean = 1.0
        if sample_weight is None:
            return None
        total = float(sample_weight.sum())
        if not total > 0:
            raise ValueError("sample_weight must have a positive sum. "
                             f"Received weights summing to {total}")
        self._weight_mean = total / len(sample_weight)
        return (sample_weight * (len(sample_weight) / total)).astype(np.float32)

    def _initialize(self, n_features, Y):
        self.n_outputs_ = Y.shape[1]
        self.out_activation_ = self._output_activation_name()
        self.n_layers_ = len(self._hidden_sizes) + 2
        self.n_iter_, self.t_ = 0, 0
        _network.init_weights(self, [n_features] + self._hidden_sizes + [self.n_outputs_])
        self.loss_curve_, self._no_improvement_count = [], 0
        self._lr = float(self.learning_rate_init)
        self.validation_scores_ = self.validation_loss_curve_ = None
        self.best_validation_score_ = None
        self.best_loss_ = np.inf
        if self.early_stopping:
            self._start_validation()
        self._core, self._best_weights = None, None
        self._dropout_seed, self._split_state = None, None

    def _start_validation(self):
        self.validation_scores_, self.validation_loss_curve_ = [], []
        self.best_validation_score_, self.best_loss_ = -np.inf, None

    def _split(self, X, Y, sample_weight):
        """Holds out validation_fraction of the rows. The first split's random state is kept:
        every later warm-started fit or partial_fit draws its split from that same state, so
        the same X gives the same held-out rows as the first fit (no row trains in one call and
        validates in another), and new data gets a held-out fraction of its own."""
        if not self.early_stopping:
            return X, Y, sample_weight, None, None, None
        if self._split_state is None:
            self._split_state = self._random_state.get_state()
            rng = self._random_state  # scikit-learn's draw order on the first fit
        else:
            rng = np.random.RandomState()
            rng.set_state(self._split_state)
        parts = train_test_split(X, Y, *([] if sample_weight is None else [sample_weight]),
                                 random_state=rng, test_size=self.validation_fraction,
                                 stratify=self._stratify_labels(Y))
        if parts[1].shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        sw_train, sw_val = (parts[4], parts[5]) if sample_weight is not None else (None, None)
        x_train = parts[0] if _sparse.is_sparse(parts[0]) else np.ascontiguousarray(parts[0])
        return (x_train, np.ascontiguousarray(parts[2]), sw_train, parts[1], parts[3], sw_val)

    def _batch_size_for(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. "
                          "It is going to be clipped", UserWarning)
        return int(np.clip(self.batch_size, 1, n_samples))

    def _fit_stochastic(self, X, Y, sample_weight, incremental):
        X_tr, Y_tr, sw_tr, X_val, Y_val, sw_val = self._split(X, Y, sample_weight)
        n = X_tr.shape[0]
        batch = self._batch_size_for(n)
        self._ensure_core(X.shape[1], batch)
        # Checked once, for every iteration (a CSR matrix is densified a batch at a time).
        data = self._dataset(X_tr, Y_tr, sw_tr)
        val = None if X_val is None else \
            (self._dataset(X_val, Y_val, sw_val), self._decode_targets(Y_val), sw_val, batch,
             X_val.dtype)
        self.n_iter_ = 0
        try:
            for _ in range(self.max_iter):
                self._core.learning_rate = self._lr * (self._loss_scale if self.solver == "sgd"
                                                       else 1.0)
                logs = self._core.train_epoch(data, batch_size=batch, shuffle=bool(self.shuffle),
                                              seed=int(self._random_state.randint(2**31 - 1)))
                self.n_iter_ += 1
                self.t_ += n
                self.loss_ = float(logs["loss"]) * self._loss_scale
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                self._update_no_improvement_count(val)
                if self.solver == "sgd" and self.learning_rate == "invscaling":
                    self._lr = float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t
                if self._no_improvement_count > self.n_iter_no_change:
                    if self._trigger_stopping():
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the "
                                  "optimization hasn't converged yet." % self.max_iter,
                                  ConvergenceWarning)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        # partial_fit is one epoch of a loop its caller runs: it keeps that epoch's weights.
        if self.early_stopping and not incremental and self._best_weights is not None:
            self._core.set_weights(self._best_weights)
        _network.pull_weights(self, self._core.get_weights())

    def _update_no_improvement_count(self, val):
        if self.early_stopping:
            score, loss = self._validate(*val)
            self.validation_scores_.append(score)
            self.validation_loss_curve_.append(loss)
            if self.verbose:
                print("Validation score: %f" % score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_weights = self._core.get_weights()
            return
        if self.loss_curve_[-1] > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])

    def _dataset(self, X, Y, sample_weight):
        """X, the core's targets for Y and the weights as a `_core.Dataset`, checked once."""
        return _core.Dataset(_sparse.canonical(X) if _sparse.is_sparse(X) else X,
                             self._core_targets(Y), sample_weight,
                             outputs=int(self._core.output_dim), loss=self._core_loss())

    def _validate(self, data, y_val, sw_val, batch, dtype):
        """(score, loss) on the held-out rows, from one inference pass; the loss is the
        training objective (scaled and penalized as loss_curve_)."""
        out = np.empty((len(data), self.n_outputs_), dtype=np.float32)
        logs = self._core.evaluate(data, batch_size=batch, y_pred_out=out)
        loss = float(logs["loss"]) * self._loss_scale
        if not np.isfinite(out).all():
            return np.nan, loss
        y_pred = self._decode_output(out.astype(dtype, copy=False))
        return self._score_function(y_val, y_pred, sample_weight=sw_val), loss

    def _trigger_stopping(self):
        what = "Validation score" if self.early_stopping else "Training loss"
        msg = (f"{what} did not improve more than tol={self.tol:f} for "
               f"{self.n_iter_no_change} consecutive epochs.")
        if self.solver == "adam" or self.learning_rate != "adaptive":
            stop = True
        elif self._lr <= _MIN_ADAPTIVE_LR:
            msg, stop = msg + " Learning rate too small. Stopping.", True
        else:
            self._lr /= 5.0
            msg, stop = msg + " Setting learning rate to %f" % self._lr, False
        if self.verbose:
            print(msg)
        return stop

    # ---------------------------------------------------------------- prediction
    def _forward(self, X, check_input=True):
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"],
                              dtype=(np.float64, np.float32), reset=False)
        with _network.thread_count(self.n_threads):
            if _sparse.is_sparse(X):
                out = self._core.predict(_sparse.canonical(X.tocsr()))  # densified by blocks
            else:
                out = self._core.predict(np.ascontiguousarray(X))
        return out.astype(X.dtype, copy=False)

    def _predict(self, X, check_input=True):
        return self._decode_output(self._forward(X, check_input))

    def export(self, filepath, format="onnx", opset=17):
        """Writes the fitted network as an ONNX graph (input "input" of shape (batch,
        n_features_in_), float32). Its output "output" is the output layer's activation:
        class probabilities (one logistic column for binary targets, one per label for
        multi-label, softmax columns for multiclass) or the regression targets. Dropout is
        left out and BatchNormalization uses its moving statistics, as in ``predict``.

        Args:
            filepath: the .onnx file to write.
            format: only "onnx". Defaults to "onnx".
            opset: ONNX opset. Defaults to 17.

        Returns:
            The ``onnx.ModelProto`` written.
        """
        check_is_fitted(self)
        if format != "onnx":
            raise ValueError(f"Received an invalid value for `format`, expected 'onnx'. "
                             f"Received: format={format!r}")
        from fastmlp.export import export_onnx

        n_features, specs = self._core_config[:2]
        return export_onnx(filepath, n_features, specs, _network.weights_list(self),
                           opset=opset)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
