"""The shared engine of fastmlp's scikit-learn estimators: parameter checks, the `_core.Model`
they train, and scikit-learn's stochastic training loop (stopping rules, learning-rate schedules,
early stopping) driven one C++ epoch at a time.

How scikit-learn's objective maps onto the core (so training follows the same trajectory):
scikit-learn minimizes, per batch of B samples, ``s * L_keras + alpha / (2 B) * sum ||W||^2``
where L_keras is the Keras-reduced loss the core computes and ``s`` is 1 for single-label
classification, k for k-label classification (a sum of binary log-losses) and k/2 for squared
error over k outputs (half squares, summed over outputs in the gradient). The core minimizes
``L_keras + l2 * sum ||W||^2``; with ``l2 = alpha / (2 B s)`` the two objectives differ by the
factor s, which Adam absorbs when its epsilon is divided by s, and SGD (with or without momentum)
when its learning rate is multiplied by s. Reported losses are multiplied back by s. Differences
that remain: the core applies the penalty with the nominal batch size B also to a smaller last
batch, sample weights are normalized to mean 1 over the training set (scikit-learn normalizes
per batch), and for k > 1 squared-error outputs ``loss_`` is the minimized objective (scikit-learn
reports half the mean instead, a quantity its gradient does not follow).
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from fastmlp import _core
from fastmlp.models import _sparse

# scikit-learn's hidden activations, plus every fastmlp activation under its own name.
_ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
                "leaky_relu": "leaky_relu", "elu": "elu", "selu": "selu", "gelu": "gelu",
                "silu": "silu", "softplus": "softplus"}
_SOLVERS = ("adam", "sgd")
_LR_SCHEDULES = ("constant", "invscaling", "adaptive")
_MIN_ADAPTIVE_LR = 1e-6  # scikit-learn's floor for learning_rate='adaptive'


def _fail(name, value, expected):
    raise ValueError(f"Received an invalid value for `{name}`, expected {expected}. "
                     f"Received: {name}={value!r}")


def _check_number(est, name, low, high=None, integer=False, low_open=False, high_open=False):
    value = getattr(est, name)
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool) and np.isfinite(value)
    ok = ok and (value > low if low_open else value >= low)
    if high is not None:
        ok = ok and (value < high if high_open else value <= high)
    if not ok:
        lo, hi = ("(" if low_open else "["), (")" if high_open or high is None else "]")
        _fail(name, value, f"{'an int' if integer else 'a number'} in {lo}{low}, "
                           f"{'inf' if high is None else high}{hi}")


class BaseMLP(BaseEstimator):
    """Fields and training loop shared by MLPClassifier and MLPRegressor."""

    # ---------------------------------------------------------------- parameters
    def _validate_params(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else sizes
        try:
            sizes = list(sizes)
        except TypeError:
            _fail("hidden_layer_sizes", self.hidden_layer_sizes, "an int or a sequence of ints")
        if any(not isinstance(h, numbers.Integral) or isinstance(h, bool) or h <= 0
               for h in sizes):
            _fail("hidden_layer_sizes", self.hidden_layer_sizes, "positive ints")
        if self.activation not in _ACTIVATIONS:
            _fail("activation", self.activation, f"one of {sorted(_ACTIVATIONS)}")
        if self.solver == "lbfgs":
            raise ValueError("solver='lbfgs' is not supported by fastmlp, whose C++ core trains "
                             "with mini-batch optimizers; use solver='adam' (the default) or "
                             "'sgd'. Received: solver='lbfgs'")
        if self.solver not in _SOLVERS:
            _fail("solver", self.solver, f"one of {_SOLVERS}")
        if self.learning_rate not in _LR_SCHEDULES:
            _fail("learning_rate", self.learning_rate, f"one of {_LR_SCHEDULES}")
        if not (self.batch_size == "auto" or (isinstance(self.batch_size, numbers.Integral)
                                              and not isinstance(self.batch_size, bool)
                                              and self.batch_size >= 1)):
            _fail("batch_size", self.batch_size, "'auto' or a positive int")
        for name, low, high, kw in (
                ("alpha", 0, None, {}), ("learning_rate_init", 0, None, {"low_open": True}),
                ("power_t", 0, None, {}), ("max_iter", 1, None, {"integer": True}),
                ("tol", 0, None, {}), ("momentum", 0, 1, {}),
                ("validation_fraction", 0, 1, {"high_open": True}),
                ("beta_1", 0, 1, {"high_open": True}), ("beta_2", 0, 1, {"high_open": True}),
                ("epsilon", 0, None, {"low_open": True}),
                ("n_iter_no_change", 1, None, {"integer": True}),
                ("max_fun", 1, None, {"integer": True})):
            _check_number(self, name, low, high, **kw)
        return sizes

    # ---------------------------------------------------------------- the core model
    def _layer_specs(self, l2):
        act = _ACTIVATIONS[self.activation]
        zeros = {"name": "zeros"}
        reg = {"l1": 0.0, "l2": float(l2)}
        specs = []
        for units in self._hidden_sizes + [self.n_outputs_]:
            specs.append({"type": "dense", "units": int(units), "activation": act,
                          "activation_param": 0.0, "use_bias": True,
                          "kernel_initializer": zeros, "bias_initializer": zeros,
                          "kernel_regularizer": reg, "bias_regularizer": {"l1": 0.0, "l2": 0.0}})
        specs[-1]["activation"] = self._core_output_activation()
        return specs

    def _optimizer_spec(self):
        s = self._loss_scale
        if self.solver == "adam":
            return {"name": "adam", "learning_rate": float(self.learning_rate_init),
                    "beta_1": float(self.beta_1), "beta_2": float(self.beta_2),
                    "epsilon": float(self.epsilon) / s}
        return {"name": "sgd", "learning_rate": float(self.learning_rate_init) * s,
                "momentum": float(self.momentum), "nesterov": bool(self.nesterovs_momentum)}

    def _build_core(self, n_features, batch_size, keep_state):
        """(Re)creates the core model for this batch size (the L2 factor depends on it),
        carrying over the weights and, if asked, the optimizer state."""
        l2 = self.alpha / (2.0 * batch_size * self._loss_scale)
        old = getattr(self, "_core", None)
        state = old.get_optimizer_state() if (old is not None and keep_state) else None
        # Kept so that unpickling rebuilds exactly this model even if parameters changed since.
        self._core_config = (int(n_features), self._layer_specs(l2),
                             self._core_loss(), self._optimizer_spec())
        self._core, self._core_batch_size = self._core_from_config(), batch_size
        if state is not None:
            self._core.set_optimizer_state(*state)

    def _core_from_config(self):
        n_features, specs, loss, optimizer = self._core_config
        model = _core.Model(n_features, specs)
        model.compile(loss, optimizer, [])
        model.set_weights(self._weights_list())
        return model

    def _weights_list(self):
        out = []
        for w, b in zip(self.coefs_, self.intercepts_):
            out += [np.ascontiguousarray(w, dtype=np.float32),
                    np.ascontiguousarray(b, dtype=np.float32)]
        return out

    def _pull_weights(self):
        w = self._core.get_weights()
        self.coefs_, self.intercepts_ = list(w[0::2]), list(w[1::2])

    def _init_weights(self, layer_units):
        """scikit-learn's Glorot-uniform scheme, drawn in the same order from the same
        generator, so a given random_state starts from scikit-learn's weights."""
        factor = 2.0 if self.activation == "logistic" else 6.0
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            self.coefs_.append(self._random_state.uniform(-bound, bound, (fan_in, fan_out))
                               .astype(np.float32))
            self.intercepts_.append(self._random_state.uniform(-bound, bound, fan_out)
                                    .astype(np.float32))

    def __getstate__(self):
        state = self.__dict__.copy()
        core = state.pop("_core", None)
        if core is not None:
            state["_optimizer_state"] = core.get_optimizer_state()
        return state

    def __setstate__(self, state):
        opt = state.pop("_optimizer_state", None)
        self.__dict__.update(state)
        if opt is not None:
            self._core = self._core_from_config()
            self._core.set_optimizer_state(*opt)

    # ---------------------------------------------------------------- fitting
    def _fit(self, X, y, sample_weight=None, incremental=False):
        self._hidden_sizes = self._validate_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y = self._validate_input(X, y, incremental, reset=first)
        # Sparse X stays sparse: trained and predicted block by block, never densified whole.
        X = X.tocsr() if _sparse.is_sparse(X) else np.ascontiguousarray(X)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
            total = float(sample_weight.sum())
            if not total > 0:
                raise ValueError("sample_weight must have a positive sum. "
                                 f"Received weights summing to {total}")
            sample_weight = (sample_weight * (len(sample_weight) / total)).astype(np.float32)
        if not first and Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs but the model was fitted with "
                             f"{self.n_outputs_}")
        self._random_state = check_random_state(self.random_state)
        if first:
            self._initialize(X.shape[1], Y)
        self._fit_stochastic(X, Y, sample_weight, incremental)
        if not all(np.isfinite(w).all() for w in self.coefs_ + self.intercepts_):
            raise ValueError("Solver produced non-finite parameter weights. The input data may "
                             "contain large values and need to be preprocessed.")
        return self

    def _initialize(self, n_features, Y):
        self.n_outputs_ = Y.shape[1]
        self.out_activation_ = self._output_activation_name()
        self.n_layers_ = len(self._hidden_sizes) + 2
        self.n_iter_, self.t_ = 0, 0
        self._init_weights([n_features] + self._hidden_sizes + [self.n_outputs_])
        self.loss_curve_, self._no_improvement_count = [], 0
        self._lr = float(self.learning_rate_init)
        if self.early_stopping:
            self.validation_scores_, self.best_validation_score_ = [], -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_, self.validation_scores_ = np.inf, None
            self.best_validation_score_ = None
        self._core, self._best_weights = None, None

    def _split(self, X, Y, sample_weight):
        if not self.early_stopping:
            return X, Y, sample_weight, None, None, None
        stratify = self._stratify_labels(Y)
        parts = train_test_split(X, Y, *([] if sample_weight is None else [sample_weight]),
                                 random_state=self._random_state,
                                 test_size=self.validation_fraction, stratify=stratify)
        if parts[1].shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        sw_train, sw_val = (parts[4], parts[5]) if sample_weight is not None else (None, None)
        y_val = self._decode_targets(parts[3])
        x_train = parts[0] if _sparse.is_sparse(parts[0]) else np.ascontiguousarray(parts[0])
        return (x_train, np.ascontiguousarray(parts[2]), sw_train, parts[1], y_val, sw_val)

    def _batch_size_for(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. "
                          "It is going to be clipped", UserWarning)
        return int(np.clip(self.batch_size, 1, n_samples))

    def _fit_stochastic(self, X, Y, sample_weight, incremental):
        X_tr, Y_tr, sw_tr, X_val, y_val, sw_val = self._split(X, Y, sample_weight)
        n = X_tr.shape[0]
        batch = self._batch_size_for(n)
        if self._core is None or self._core_batch_size != batch:
            # warm_start and partial_fit keep the optimizer state (scikit-learn resets it on a
            # warm-started fit; keeping it is what users asked for, scikit-learn#6091).
            self._build_core(X.shape[1], batch, keep_state=self._core is not None)
        targets = self._core_targets(Y_tr)
        self.n_iter_ = 0
        try:
            for _ in range(self.max_iter):
                self._core.learning_rate = self._lr * (self._loss_scale if self.solver == "sgd"
                                                       else 1.0)
                logs = _sparse.train_epoch(self._core, X_tr, targets, sw_tr, batch,
                                           bool(self.shuffle),
                                           int(self._random_state.randint(2**31 - 1)),
                                           None, None, 1)
                self.n_iter_ += 1
                self.t_ += n
                self.loss_ = float(logs["loss"]) * self._loss_scale
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                self._update_no_improvement_count(X_val, y_val, sw_val)
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
        if self.early_stopping and self._best_weights is not None:
            self._core.set_weights(self._best_weights)
        self._pull_weights()

    def _update_no_improvement_count(self, X_val, y_val, sw_val):
        if self.early_stopping:
            score = self._score_core(X_val, y_val, sw_val)
            self.validation_scores_.append(score)
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
        if _sparse.is_sparse(X):
            out = _sparse.predict(self._core, X.tocsr(), None)
        else:
            out = self._core.predict(np.ascontiguousarray(X))
        return out.astype(X.dtype, copy=False)

    def export(self, filepath, format="onnx", opset=17):
        """Writes the fitted network as an ONNX graph (input "input" of shape (batch,
        n_features_in_), float32). Its output "output" is the output layer's activation:
        class probabilities (one logistic column for binary targets, one per label for
        multi-label, softmax columns for multiclass) or the regression targets.

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
        return export_onnx(filepath, n_features, specs, self._weights_list(), opset=opset)

    def _score_core(self, X, y, sample_weight):
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(np.asarray(y_pred).dtype, np.floating) and \
                not np.isfinite(y_pred).all():
            return np.nan
        return self._score_function(y, y_pred, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
