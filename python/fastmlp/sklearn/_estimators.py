"""MLPClassifier and MLPRegressor: scikit-learn's estimators, trained by fastmlp's C++ core."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.multiclass import (_check_partial_fit_first_call, type_of_target,
                                      unique_labels)
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from fastmlp.sklearn._base import BaseMLP

_SHARED_DOC = """
    Parameters, defaults and fitted attributes are scikit-learn's (see
    ``sklearn.neural_network.{name}``), with these differences:

    - ``solver``: 'adam' (default) or 'sgd'; 'lbfgs' raises a ValueError (the core trains with
      mini-batch optimizers). ``max_fun`` is accepted for compatibility and unused.
    - ``activation`` also accepts fastmlp's 'leaky_relu', 'elu', 'selu', 'gelu', 'silu' and
      'softplus' besides 'identity', 'logistic', 'tanh' and 'relu'.
    - ``warm_start=True`` and ``partial_fit`` keep the optimizer state (Adam moments, SGD
      velocities) between calls; scikit-learn restarts the optimizer on a warm-started ``fit``.
    - Training runs in float32; predictions are returned in the dtype of ``X``.
    - How the loss and its L2 term map onto the core: see ``fastmlp.sklearn._base``.
"""



def _store_init_params(estimator, params):
    """Sets every __init__ argument as an attribute of the same name, unchanged (scikit-learn's
    get_params/clone contract: __init__ only stores its arguments)."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)

class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier (log-loss), trained by fastmlp's C++ core.

    Binary targets use one logistic output, multiclass targets a softmax output, multi-label
    targets (an indicator matrix) one logistic output per label.
    """

    __doc__ += _SHARED_DOC.format(name="MLPClassifier")

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000):
        _store_init_params(self, locals())

    _score_function = staticmethod(accuracy_score)

    # ------------------------------------------------------------ hooks used by BaseMLP
    @property
    def _softmax(self):
        return self._label_binarizer.y_type_ == "multiclass"

    @property
    def _loss_scale(self):
        return 1.0 if self._softmax else float(self.n_outputs_)

    def _output_activation_name(self):
        return "softmax" if self._softmax else "logistic"

    def _core_output_activation(self):
        return "softmax" if self._softmax else "sigmoid"

    def _core_loss(self):
        name = "sparse_categorical_crossentropy" if self._softmax else "binary_crossentropy"
        return {"name": name, "from_logits": False, "label_smoothing": 0.0, "delta": 1.0}

    def _core_targets(self, Y):
        if self._softmax:
            return np.ascontiguousarray(np.argmax(Y, axis=1), dtype=np.int32)
        return np.ascontiguousarray(Y, dtype=np.float32)

    def _decode_targets(self, Y):
        return self._label_binarizer.inverse_transform(Y)

    def _stratify_labels(self, Y):
        if self._label_binarizer.y_type_ == "multilabel-indicator":
            return None
        labels = np.argmax(Y, axis=1) if self._softmax else Y.ravel()
        return labels if np.bincount(labels.astype(np.int64)).min(initial=2) >= 2 else None

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and not incremental and set(classes) != set(self.classes_):
                raise ValueError("warm_start can only be used where `y` has the same classes as "
                                 f"in the previous call to fit. Previously got {self.classes_}, "
                                 f"`y` has {classes}")
            if len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        Y = self._label_binarizer.transform(y).astype(np.float32)
        return X, Y.reshape(len(Y), -1)

    # ------------------------------------------------------------ public API
    def fit(self, X, y, sample_weight=None):
        """Fits the model to X and y (labels, or a label indicator matrix for multi-label).

        Returns:
            self
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y). ``classes`` (all labels of the task) is required on the first
        call, unless y is a label indicator matrix.

        Returns:
            self
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _predict(self, X, check_input=True):
        proba = self._forward(X, check_input)
        if self.n_outputs_ == 1:
            proba = proba.ravel()
        return self._label_binarizer.inverse_transform(proba)

    def predict(self, X):
        """Predicted class labels (an indicator matrix for multi-label targets)."""
        check_is_fitted(self)
        return self._predict(X)

    def predict_proba(self, X):
        """Class probabilities, columns ordered as ``classes_``."""
        check_is_fitted(self)
        proba = self._forward(X)
        if self.n_outputs_ == 1:
            return np.hstack([1 - proba, proba])
        return proba

    def predict_log_proba(self, X):
        """Logarithm of ``predict_proba``."""
        proba = self.predict_proba(X)
        return np.log(proba, out=proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor, trained by fastmlp's C++ core.

    ``loss``: 'squared_error' (scikit-learn's half squared error; default) or 'absolute_error'
    (mean absolute error, which scikit-learn's MLP lacks). scikit-learn's 'poisson' is not
    available. Multi-output targets (n_samples, n_outputs) are supported.
    """

    __doc__ += _SHARED_DOC.format(name="MLPRegressor")

    _LOSSES = {"squared_error": "mean_squared_error", "absolute_error": "mean_absolute_error"}

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000):
        _store_init_params(self, locals())

    _score_function = staticmethod(r2_score)

    def _validate_params(self):
        if self.loss not in self._LOSSES:
            raise ValueError(f"Received an invalid value for `loss`, expected one of "
                             f"{sorted(self._LOSSES)} (scikit-learn's 'poisson' is not "
                             f"available in fastmlp). Received: loss={self.loss!r}")
        return super()._validate_params()

    @property
    def _loss_scale(self):
        return self.n_outputs_ / 2.0 if self.loss == "squared_error" else 1.0

    def _output_activation_name(self):
        return "identity"

    def _core_output_activation(self):
        return "linear"

    def _core_loss(self):
        return {"name": self._LOSSES[self.loss], "from_logits": False, "label_smoothing": 0.0,
                "delta": 1.0}

    def _core_targets(self, Y):
        return np.ascontiguousarray(Y, dtype=np.float32)

    def _decode_targets(self, Y):
        return Y.ravel() if Y.shape[1] == 1 else Y

    def _stratify_labels(self, Y):
        return None

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, np.asarray(y, dtype=np.float32).reshape(len(y), -1)

    def fit(self, X, y, sample_weight=None):
        """Fits the model to X and y of shape (n_samples,) or (n_samples, n_outputs).

        Returns:
            self
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y).

        Returns:
            self
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _predict(self, X, check_input=True):
        y = self._forward(X, check_input)
        return y.ravel() if y.shape[1] == 1 else y

    def predict(self, X):
        """Predicted targets, (n_samples,) or (n_samples, n_outputs)."""
        check_is_fitted(self)
        return self._predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
