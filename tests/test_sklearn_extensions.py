"""fastmlp.sklearn's parameters beyond scikit-learn's: dropout, batch_norm, class_weight, the
Huber loss, the extra activations and n_threads."""

import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="fastmlp.sklearn needs the `sklearn` extra")

from sklearn import neural_network as sk_nn  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification, make_multilabel_classification  # noqa: E402
from sklearn.datasets import make_regression  # noqa: E402
from sklearn.metrics import balanced_accuracy_score  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.class_weight import compute_class_weight  # noqa: E402

import fastmlp  # noqa: E402
from _sklearn_helpers import clf_data, quiet_fit  # noqa: E402,F401 (fixture)
from fastmlp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from fastmlp.sklearn import _base  # noqa: E402


@pytest.fixture(scope="module")
def reg_data():
    X, y = make_regression(n_samples=240, n_features=6, n_targets=2, noise=2.0, random_state=0)
    return X, y / y.std(axis=0)


_NEW = {"dropout": 0.0, "batch_norm": False, "n_threads": None}


@pytest.mark.parametrize("cls,sk_cls,extra", [
    (MLPClassifier, sk_nn.MLPClassifier, {**_NEW, "class_weight": None}),
    (MLPRegressor, sk_nn.MLPRegressor, {**_NEW, "huber_delta": 1.0})])
def test_every_sklearn_parameter_and_its_default_plus_the_new_ones(cls, sk_cls, extra):
    ours, ref = cls().get_params(), sk_cls().get_params()
    assert ours == {**ref, **extra}


# ---------------------------------------------------------------- forward pass in NumPy

_NUMPY_ACTS = {
    "identity": lambda z: z, "relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
    "logistic": lambda z: 1 / (1 + np.exp(-z)),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.2 * z),
    "elu": lambda z: np.where(z > 0, z, np.expm1(z)),
    "selu": lambda z: 1.0507009873554805 * np.where(z > 0, z, 1.6732632423543772 * np.expm1(z)),
    "gelu": lambda z: 0.5 * z * (1 + np.vectorize(__import__("math").erf)(z / np.sqrt(2))),
    "silu": lambda z: z / (1 + np.exp(-z)), "softplus": lambda z: np.log1p(np.exp(z))}


def _numpy_forward(est, X):
    """The regressor's prediction from its fitted attributes (float64)."""
    h = X
    for i, (w, b) in enumerate(zip(est.coefs_, est.intercepts_)):
        h = h @ w.astype(np.float64) + b
        if i == len(est.coefs_) - 1:
            return h
        if est.batch_norm_weights_ is not None:
            gamma, beta, mean, var = est.batch_norm_weights_[i]
            h = gamma * (h - mean) / np.sqrt(var.astype(np.float64) + 1e-3) + beta
        h = _NUMPY_ACTS[est.activation](h)


@pytest.mark.parametrize("activation", sorted(_NUMPY_ACTS))
def test_activations_are_the_named_functions(reg_data, activation):
    X, y = reg_data
    reg = quiet_fit(MLPRegressor(hidden_layer_sizes=(9, 5), activation=activation, max_iter=3,
                                 random_state=0), X, y)
    np.testing.assert_allclose(reg.predict(X), _numpy_forward(reg, X), rtol=2e-5, atol=2e-5)


def test_batch_norm_is_fitted_and_predicts_with_moving_statistics(reg_data):
    X, y = reg_data
    reg = quiet_fit(MLPRegressor(hidden_layer_sizes=(12, 6), batch_norm=True, activation="tanh",
                                 max_iter=4, random_state=0, batch_size=32), X, y)
    assert [[a.shape for a in layer] for layer in reg.batch_norm_weights_] == \
        [[(12,)] * 4, [(6,)] * 4]
    mean, var = reg.batch_norm_weights_[0][2:]
    assert np.abs(mean).max() > 1e-3 and np.abs(var - 1).max() > 1e-3  # moving statistics moved
    np.testing.assert_allclose(reg.predict(X), _numpy_forward(reg, X), rtol=2e-5, atol=2e-5)
    plain = quiet_fit(MLPRegressor(hidden_layer_sizes=(12, 6), max_iter=1, random_state=0), X, y)
    assert plain.batch_norm_weights_ is None


# ---------------------------------------------------------------- dropout


def test_dropout_trains_differently_and_predicts_deterministically(clf_data):
    X, y = clf_data
    params = dict(hidden_layer_sizes=(32, 16), max_iter=5, random_state=0)
    plain = quiet_fit(MLPClassifier(**params), X, y)
    drop = quiet_fit(MLPClassifier(dropout=[0.5, 0.0], **params), X, y)
    again = quiet_fit(MLPClassifier(dropout=[0.5, 0.0], **params), X, y)
    kinds = [spec["type"] for spec in drop._core_config[1]]
    assert kinds == ["dense", "dropout", "dense", "dense"]
    assert drop.loss_curve_ != plain.loss_curve_ and drop.loss_curve_ == again.loss_curve_
    # Dropping half the first layer's units makes the training loss higher than without.
    assert drop.loss_ > plain.loss_
    np.testing.assert_array_equal(drop.predict_proba(X), drop.predict_proba(X))
    np.testing.assert_array_equal(drop.predict_proba(X), again.predict_proba(X))


# ---------------------------------------------------------------- class_weight


def test_class_weight_is_sample_weight_per_class(clf_data):
    X, y = clf_data
    labels = np.array(["a", "b", "c"])[y]
    params = dict(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    sw = np.linspace(0.5, 1.5, len(y))
    for cw in ("balanced", {"a": 3.0, "c": 0.5}):
        per_class = compute_class_weight(cw, classes=np.unique(labels), y=labels,
                                         sample_weight=sw)
        want = sw * per_class[y]
        a = quiet_fit(MLPClassifier(class_weight=cw, **params), X, labels, sample_weight=sw)
        b = quiet_fit(MLPClassifier(**params), X, labels, sample_weight=want)
        for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
            np.testing.assert_array_equal(u, v)


def test_balanced_class_weight_lifts_the_minority_class():
    X, y = make_classification(n_samples=1200, n_features=10, weights=[0.93], flip_y=0.0,
                               random_state=0)
    X = StandardScaler().fit_transform(X)
    scores = {}
    for cw in (None, "balanced"):
        clf = quiet_fit(MLPClassifier(hidden_layer_sizes=(16,), class_weight=cw, max_iter=40,
                                      random_state=0), X[:600], y[:600])
        scores[cw] = balanced_accuracy_score(y[600:], clf.predict(X[600:]))
    assert scores["balanced"] > scores[None] + 0.05, scores


def test_class_weight_refusals(clf_data):
    X, y = clf_data
    Xm, Ym = make_multilabel_classification(n_samples=50, n_features=4, random_state=0)
    with pytest.raises(ValueError, match="`class_weight` is not supported for multi-label"):
        MLPClassifier(class_weight="balanced", max_iter=1).fit(Xm, Ym)
    with pytest.raises(ValueError, match="class_weight='balanced' is not supported for "
                                         "partial_fit"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])
    clf = MLPClassifier(class_weight={0: 2.0}, hidden_layer_sizes=(4,))
    clf.partial_fit(X, y, classes=[0, 1, 2])
    assert clf.n_iter_ == 1


# ---------------------------------------------------------------- Huber loss


@pytest.mark.parametrize("n_targets", [1, 2])
def test_huber_with_a_large_delta_is_squared_error(reg_data, n_targets):
    X, y = reg_data
    y = y[:, 0] if n_targets == 1 else y
    params = dict(hidden_layer_sizes=(10,), max_iter=5, random_state=0, alpha=0.01)
    huber = quiet_fit(MLPRegressor(loss="huber", huber_delta=1e6, **params), X, y)
    squared = quiet_fit(MLPRegressor(**params), X, y)
    np.testing.assert_allclose(huber.loss_curve_, squared.loss_curve_, rtol=1e-6)
    np.testing.assert_allclose(huber.predict(X), squared.predict(X), rtol=1e-5, atol=1e-6)


def test_huber_loss_value_sums_over_outputs(reg_data):
    X, y = reg_data
    delta, alpha = 0.3, 0.1
    # One batch and a learning rate so small that the loss is that of the weights returned.
    reg = quiet_fit(MLPRegressor(loss="huber", huber_delta=delta, alpha=alpha, max_iter=1,
                                 batch_size=len(X), learning_rate_init=1e-10, random_state=0,
                                 hidden_layer_sizes=(8,)), X, y)
    r = np.abs(y - reg.predict(X))
    huber = np.where(r <= delta, 0.5 * r ** 2, delta * (r - 0.5 * delta)).sum(axis=1).mean()
    penalty = alpha / (2 * len(X)) * sum(float((w.astype(np.float64) ** 2).sum())
                                         for w in reg.coefs_)
    np.testing.assert_allclose(reg.loss_, huber + penalty, rtol=1e-5)


def test_huber_resists_outliers():
    rng = np.random.RandomState(0)
    X = rng.randn(600, 5)
    y = X @ rng.randn(5) + 0.1 * rng.randn(600)
    y_dirty = y.copy()
    y_dirty[rng.rand(600) < 0.1] += 30.0  # one row in ten is an outlier
    errors = {}
    for loss in ("squared_error", "huber"):
        reg = quiet_fit(MLPRegressor(loss=loss, hidden_layer_sizes=(16,), max_iter=60,
                                     learning_rate_init=0.01, random_state=0),
                        X[:400], y_dirty[:400])
        errors[loss] = np.mean((reg.predict(X[400:]) - y[400:]) ** 2)
    assert errors["huber"] < 0.5 * errors["squared_error"], errors


# ---------------------------------------------------------------- n_threads


def test_n_threads_applies_during_fit_and_predict_only(clf_data, monkeypatch):
    X, y = clf_data
    seen = []
    train_epoch = _base._core.Model.train_epoch

    def spy(*args, **kwargs):
        seen.append(fastmlp.get_num_threads())
        return train_epoch(*args, **kwargs)

    monkeypatch.setattr(_base._core.Model, "train_epoch", spy)
    before = fastmlp.get_num_threads()
    results = []
    for n in (1, 2):
        clf = quiet_fit(MLPClassifier(hidden_layer_sizes=(16,), max_iter=2, n_threads=n,
                                      random_state=0), X, y)
        assert fastmlp.get_num_threads() == before
        results.append(clf.predict_proba(X))
    assert seen == [1, 1, 2, 2]
    np.testing.assert_array_equal(results[0], results[1])  # no sum is split across threads


# ---------------------------------------------------------------- parameter checks


@pytest.mark.parametrize("cls,param,value", [
    (MLPClassifier, "dropout", 1.0), (MLPClassifier, "dropout", -0.1),
    (MLPClassifier, "dropout", [0.1, 0.2]), (MLPClassifier, "dropout", "0.5"),
    (MLPClassifier, "dropout", True), (MLPRegressor, "dropout", None),
    (MLPClassifier, "batch_norm", "yes"), (MLPRegressor, "batch_norm", 1),
    (MLPClassifier, "class_weight", "auto"), (MLPClassifier, "class_weight", {0: -1.0}),
    (MLPClassifier, "class_weight", {0: float("nan")}), (MLPClassifier, "class_weight", [1, 2]),
    (MLPRegressor, "loss", "huber_loss"), (MLPRegressor, "huber_delta", 0.0),
    (MLPRegressor, "huber_delta", -1), (MLPRegressor, "huber_delta", float("inf")),
    (MLPRegressor, "huber_delta", "1"), (MLPClassifier, "n_threads", 0),
    (MLPClassifier, "n_threads", 1.5), (MLPRegressor, "n_threads", True),
    (MLPRegressor, "n_threads", 5000), (MLPClassifier, "activation", "swish")])
def test_bad_new_parameters_name_themselves(clf_data, cls, param, value):
    X, y = clf_data
    with pytest.raises(ValueError, match=f"`{param}`"):
        cls(hidden_layer_sizes=(4,), max_iter=1, **{param: value}).fit(X, y)


_SETTINGS = [
    (MLPClassifier, dict(dropout=[0.2, 0.1], batch_norm=True, class_weight={0: 2.0, 2: 0.5},
                         n_threads=1, activation="gelu")),
    (MLPRegressor, dict(dropout=0.1, batch_norm=True, loss="huber", huber_delta=0.5,
                        n_threads=2, activation="leaky_relu"))]


@pytest.mark.parametrize("cls,settings", _SETTINGS)
def test_new_parameters_round_trip_and_pickle(clf_data, cls, settings):
    X, y = clf_data
    y = y if cls is MLPClassifier else y.astype(float)
    est = cls(hidden_layer_sizes=(8, 4), max_iter=3, random_state=0).set_params(**settings)
    assert {k: est.get_params()[k] for k in settings} == settings
    twin = clone(est)
    assert twin.get_params() == est.get_params()
    quiet_fit(est, X, y)
    copy = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(copy.predict(X), est.predict(X))
    assert clone(copy).get_params() == est.get_params()


@pytest.mark.parametrize("cls,settings", _SETTINGS)
def test_export_onnx_with_dropout_and_batch_norm(clf_data, tmp_path, cls, settings):
    pytest.importorskip("onnx", reason="ONNX export needs the `onnx` extra")
    ort = pytest.importorskip("onnxruntime", reason="ONNX export tests need onnxruntime")
    X, y = clf_data
    y = y if cls is MLPClassifier else y.astype(float)
    est = quiet_fit(cls(hidden_layer_sizes=(8, 4), max_iter=3, random_state=0, **settings), X, y)
    est.export(tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {"input": X.astype(np.float32)})
    want = est.predict_proba(X) if cls is MLPClassifier else est.predict(X)[:, None]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
