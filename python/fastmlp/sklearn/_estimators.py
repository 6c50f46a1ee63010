"""MLPClassifier and MLPRegressor: scikit-learn's estimators, trained by fastmlp's C++ core."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.multiclass import (_check_partial_fit_first_call, type_of_target,
                                      unique_labels)
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from fastmlp.sklearn import _params
from fastmlp.sklearn._base import BaseMLP

_SHARED_DOC = """
    Parameters, defaults and fitted attributes are scikit-learn's (see
    ``sklearn.neural_network.{name}``), with these differences and additions (every new
    parameter's default is scikit-learn's behaviour):

    - ``solver``: 'adam' (default) or 'sgd'; 'lbfgs' raises a ValueError (the core trains with
      mini-batch optimizers). ``max_fun`` is accepted for compatibility and unused.
    - ``activation`` also accepts fastmlp's 'leaky_relu' (slope 0.2), 'elu', 'selu', 'gelu',
      'silu' and 'softplus' besides 'identity', 'logistic', 'tanh' and 'relu'.
    - ``dropout``: a rate in [0, 1), or one per hidden layer, of Dropout after each hidden
      layer's activation (training only; masks drawn from ``random_state``). Defaults to 0.0.
    - ``batch_norm``: BatchNormalization (Keras's defaults) between each hidden Dense layer and
      its activation; its parameters are the fitted ``batch_norm_weights_`` (per hidden layer:
      gamma, beta, moving mean, moving variance; None without). Defaults to False.
    - ``n_threads``: threads fastmlp computes with during fit, partial_fit and predict (its
      process-wide setting, ``fastmlp.set_num_threads``, restored afterwards); None (default)
      leaves the setting as it is.
    - ``warm_start=True`` and ``partial_fit`` continue as one uninterrupted run would: the
      optimizer state (Adam's moments and step count, SGD's velocities), the Dropout masks'
      step and the random stream of the epochs' shuffles carry over (scikit-learn restarts the
      optimizer and the random state on every call), so two warm-started fits of 5 iterations
      give the bits of one fit of 10. ``hidden_layer_sizes`` and ``batch_norm`` cannot change.
    - ``early_stopping=True`` also records ``validation_loss_curve_``, the training objective
      on the held-out rows after each epoch, beside ``validation_scores_``. Warm-started fits
      hold out the rows the first fit held out (when X is the same).
    - ``partial_fit`` with ``early_stopping=True`` (scikit-learn refuses it; scikit-learn#25693
      asks for it after a fit with early stopping): each call holds out
      ``validation_fraction`` of its own rows (stratified for classifiers), trains one epoch on
      the rest and scores the held-out rows, extending ``validation_scores_``,
      ``validation_loss_curve_`` and ``best_validation_score_``. The held-out rows are drawn from
      the random state of the first split, so calls on the same X (and a fit before them) hold
      out the same rows and no row is trained on in one call and scored in another. partial_fit
      never stops or rolls back by itself: it keeps each epoch's weights, and the caller stops
      when ``best_validation_score_`` stops improving.
    - Sample weights are repetitions, as in scikit-learn: with one batch of all rows
      (``batch_size >= n_samples``) a sample of weight 2 trains as the sample repeated; with
      mini-batches the batches differ, so the two agree only in expectation.
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

    ``class_weight``: None (default), 'balanced' or ``{class label: weight}``, with
    ``sklearn.utils.class_weight.compute_class_weight``'s meaning ('balanced' gives class c the
    weight ``n_samples / (n_classes * count(c))``, sample weights counted; labels missing from
    the dict weigh 1). Class weights multiply the sample weights, in training, in the
    early-stopping score and in ``validation_loss_curve_``. Not for multi-label targets;
    partial_fit takes a dict only (as SGDClassifier).

    Example:
        >>> clf = MLPClassifier((64,), dropout=0.2, class_weight="balanced").fit(X, y)
    """

    __doc__ += _SHARED_DOC.format(name="MLPClassifier")

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0, batch_norm=False, class_weight=None, n_threads=None):
        _store_init_params(self, locals())

    _score_function = staticmethod(accuracy_score)

    def _validate_params(self):
        _params.check_class_weight(self.class_weight)
        return super()._validate_params()

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

    def _class_weighted(self, Y, sample_weight, incremental):
        """sample_weight times the class weights of the labels (compute_class_weight)."""
        cw = self.class_weight
        if cw is None:
            return sample_weight
        if self._label_binarizer.y_type_ == "multilabel-indicator":
            raise ValueError(f"`class_weight` is not supported for multi-label targets. "
                             f"Received: class_weight={cw!r}")
        if incremental and isinstance(cw, str):
            # As SGDClassifier.partial_fit: one call's labels are no estimate of the frequencies.
            raise ValueError("class_weight='balanced' is not supported for partial_fit: one "
                             "call's labels do not give the class frequencies. Compute the "
                             "weights once with sklearn.utils.class_weight.compute_class_weight"
                             "('balanced', classes=classes, y=y) on a large enough sample of "
                             "the targets and pass them as class_weight={label: weight}.")
        index = np.argmax(Y, axis=1) if self._softmax else Y[:, 0].astype(np.intp)
        weights = compute_class_weight(cw, classes=self.classes_, y=self.classes_[index],
                                       sample_weight=sample_weight)
        per_sample = np.asarray(weights, dtype=np.float64)[index]
        return per_sample if sample_weight is None else sample_weight * per_sample

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

    def _decode_output(self, proba):
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

    ``loss``: 'squared_error' (scikit-learn's half squared error; default), 'absolute_error'
    (the mean absolute error over outputs) or 'huber' (Keras's Huber loss, summed over outputs:
    half the squared residual up to ``huber_delta``, linear beyond, so that outliers pull less;
    scikit-learn's MLP has neither). ``huber_delta``: where the Huber loss turns linear, in
    units of the targets (SGDRegressor's ``epsilon`` for loss='huber', Keras's and PyTorch's
    ``delta``; named apart from Adam's ``epsilon``). Defaults to 1.0. scikit-learn's 'poisson'
    is not available. Multi-output targets (n_samples, n_outputs) are supported.

    Example:
        >>> reg = MLPRegressor(loss="huber", huber_delta=0.5, hidden_layer_sizes=(64,),
        ...                    batch_norm=True).fit(X, y)
    """

    __doc__ += _SHARED_DOC.format(name="MLPRegressor")

    _LOSSES = {"squared_error": "mean_squared_error", "absolute_error": "mean_absolute_error",
               "huber": "huber"}

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 huber_delta=1.0, dropout=0.0, batch_norm=False, n_threads=None):
        _store_init_params(self, locals())

    _score_function = staticmethod(r2_score)

    def _validate_params(self):
        if self.loss not in self._LOSSES:
            raise ValueError(f"Received an invalid value for `loss`, expected one of "
                             f"{sorted(self._LOSSES)} (scikit-learn's 'poisson' is not "
                             f"available in fastmlp). Received: loss={self.loss!r}")
        _params.check_number(self, "huber_delta", 0, low_open=True)
        return super()._validate_params()

    @property
    def _loss_scale(self):
        # Squared and Huber errors are summed over outputs as scikit-learn sums its squares.
        scales = {"squared_error": self.n_outputs_ / 2.0, "huber": float(self.n_outputs_)}
        return scales.get(self.loss, 1.0)

    def _output_activation_name(self):
        return "identity"

    def _core_output_activation(self):
        return "linear"

    def _core_loss(self):
        return {"name": self._LOSSES[self.loss], "from_logits": False, "label_smoothing": 0.0,
                "delta": float(self.huber_delta)}

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

    def _decode_output(self, y):
        return y.ravel() if y.shape[1] == 1 else y

    def predict(self, X):
        """Predicted targets, (n_samples,) or (n_samples, n_outputs)."""
        check_is_fitted(self)
        return self._predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
