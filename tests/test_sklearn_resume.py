"""fastmlp.sklearn: warm_start / partial_fit continue one run, partial_fit with early stopping,
the validation loss curve, and sample weights as repetitions."""

import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="fastmlp.sklearn needs the `sklearn` extra")

from sklearn import neural_network as sk_nn  # noqa: E402
from sklearn.datasets import make_regression  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from _sklearn_helpers import clf_data, quiet_fit  # noqa: E402,F401 (fixture)
from fastmlp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


def _weights(est):
    bn = [a for layer in (est.batch_norm_weights_ or []) for a in layer]
    return est.coefs_ + est.intercepts_ + bn


def _assert_same_bits(a, b):
    assert len(_weights(a)) == len(_weights(b))
    for u, v in zip(_weights(a), _weights(b)):
        np.testing.assert_array_equal(u, v)
    assert a.loss_curve_ == b.loss_curve_


@pytest.fixture(scope="module")
def reg_data():
    X, y = make_regression(n_samples=200, n_features=6, noise=5.0, random_state=0)
    return X, y / y.std()


def _held_out(est, n_samples, n_features):
    """(train, validation) row indices of the estimator's first early-stopping split: the
    random state after scikit-learn's weight initialization (two draws per layer)."""
    rng = np.random.RandomState(est.random_state)
    units = [n_features] + list(est.hidden_layer_sizes) + [1]
    for fan_in, fan_out in zip(units[:-1], units[1:]):
        rng.uniform(size=(fan_in, fan_out))
        rng.uniform(size=fan_out)
    return train_test_split(np.arange(n_samples), random_state=rng,
                            test_size=est.validation_fraction)


# ---------------------------------------------------------------- one uninterrupted run

_RUNS = [(MLPClassifier, dict(solver="adam")),
         (MLPClassifier, dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.1)),
         (MLPClassifier, dict(solver="adam", dropout=[0.3, 0.1], batch_norm=True)),
         (MLPRegressor, dict(solver="adam", dropout=0.2)),
         (MLPRegressor, dict(solver="sgd", loss="huber"))]


@pytest.mark.parametrize("cls,extra", _RUNS)
def test_two_warm_started_fits_are_one_fit_bitwise(clf_data, cls, extra):
    X, y = clf_data
    y = y if cls is MLPClassifier else y.astype(float)
    params = dict(hidden_layer_sizes=(16, 8), shuffle=True, random_state=0, tol=0.0,
                  n_iter_no_change=100, batch_size=64, **extra)
    once = quiet_fit(cls(max_iter=10, **params), X, y)
    warm = cls(max_iter=5, warm_start=True, **params)
    quiet_fit(warm, X, y)
    quiet_fit(warm, X, y)
    _assert_same_bits(warm, once)
    assert warm.t_ == once.t_ and warm.n_iter_ == 5


def test_partial_fits_are_one_fit_bitwise(clf_data):
    X, y = clf_data
    params = dict(hidden_layer_sizes=(16,), shuffle=True, random_state=3, dropout=0.25,
                  batch_size=50)
    fitted = quiet_fit(MLPClassifier(max_iter=6, tol=0.0, **params), X, y)
    inc = MLPClassifier(**params)
    for _ in range(6):
        inc.partial_fit(X, y, classes=np.unique(y))
    _assert_same_bits(inc, fitted)


def test_rebuilt_core_keeps_optimizer_step_and_dropout_stream(clf_data):
    X, y = clf_data
    # batch_size 'auto' is 150 for the first call and 200 for the second: the L2 factor
    # changes, so the core model is rebuilt, and must carry Adam's step and Dropout's step.
    clf = MLPClassifier(hidden_layer_sizes=(8,), dropout=0.5, random_state=0)
    clf.partial_fit(X[:150], y[:150], classes=[0, 1, 2])
    first = clf._core
    clf.partial_fit(X, y)
    assert clf._core is not first
    assert clf._core.iterations == 3 and clf._core.training_step == 3


def test_pickled_mid_run_continues_bitwise(clf_data):
    X, y = clf_data
    clf = MLPClassifier(hidden_layer_sizes=(12,), dropout=0.3, batch_norm=True, random_state=0,
                        batch_size=32)
    for _ in range(2):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    copy = pickle.loads(pickle.dumps(clf))
    for est in (clf, copy):
        est.partial_fit(X, y)
    _assert_same_bits(copy, clf)


def test_warm_start_keeps_the_network(clf_data):
    X, y = clf_data
    warm = quiet_fit(MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, warm_start=True,
                                   random_state=0), X, y)
    with pytest.raises(ValueError, match="same classes"):
        warm.fit(X, (y + 1) % 4)
    with pytest.raises(ValueError, match="`hidden_layer_sizes` cannot change"):
        warm.set_params(hidden_layer_sizes=(9,)).fit(X, y)
    with pytest.raises(ValueError, match="`batch_norm` cannot change"):
        warm.set_params(hidden_layer_sizes=(8,), batch_norm=True).fit(X, y)
    # Parameters that only change the computation rebuild the core model.
    quiet_fit(warm.set_params(batch_norm=False, alpha=0.5, dropout=0.2, solver="sgd"), X, y)
    assert warm._core_config[3]["name"] == "sgd" and len(warm.loss_curve_) == 4


# ---------------------------------------------------------------- early stopping


def test_validation_loss_curve_is_the_objective_on_held_out_rows(reg_data):
    X, y = reg_data
    est = quiet_fit(MLPRegressor(hidden_layer_sizes=(8,), early_stopping=True, alpha=0.3,
                                 validation_fraction=0.25, batch_size=50, random_state=0,
                                 max_iter=12, tol=0.0, n_iter_no_change=100), X, y)
    assert len(est.validation_loss_curve_) == len(est.validation_scores_) == est.n_iter_ == 12
    _, val = _held_out(est, len(X), X.shape[1])
    best = int(np.argmax(est.validation_scores_))  # restored at the end of fit
    residual = y[val] - est.predict(X[val])
    penalty = est.alpha / (2 * 50) * sum(float((w.astype(np.float64) ** 2).sum())
                                         for w in est.coefs_)
    np.testing.assert_allclose(est.validation_loss_curve_[best],
                               0.5 * np.mean(residual ** 2) + penalty, rtol=1e-5)
    np.testing.assert_allclose(est.best_validation_score_, r2_score(y[val], est.predict(X[val])),
                               rtol=1e-6)
    assert quiet_fit(MLPRegressor(max_iter=2), X, y).validation_loss_curve_ is None


def test_partial_fit_after_early_stopping_fit(reg_data):
    """scikit-learn#25693: fit(early_stopping=True) then partial_fit."""
    X, y = reg_data
    # With dropout: the held-out rows are scored in inference mode, as predict computes.
    est = quiet_fit(MLPRegressor(hidden_layer_sizes=(8,), early_stopping=True, random_state=0,
                                 max_iter=5, validation_fraction=0.2, dropout=0.3), X, y)
    n_scores = len(est.validation_scores_)
    est.partial_fit(X, y)
    _, val = _held_out(est, len(X), X.shape[1])
    # Scored on the rows fit held out, with the weights of the epoch just trained.
    assert len(est.validation_scores_) == len(est.validation_loss_curve_) == n_scores + 1
    np.testing.assert_allclose(est.validation_scores_[-1],
                               r2_score(y[val], est.predict(X[val])), rtol=1e-6)
    assert est.best_validation_score_ == max(est.validation_scores_)


def test_partial_fit_with_early_stopping_trains_on_the_rest(reg_data):
    X, y = reg_data
    params = dict(hidden_layer_sizes=(8,), random_state=4, shuffle=False,
                  validation_fraction=0.3)
    held = MLPRegressor(early_stopping=True, **params)
    train, val = _held_out(held, len(X), X.shape[1])
    plain = MLPRegressor(**params)
    for _ in range(3):
        held.partial_fit(X, y)
        plain.partial_fit(X[train], y[train])
    for a, b in zip(held.coefs_ + held.intercepts_, plain.coefs_ + plain.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert len(held.validation_scores_) == 3 and plain.validation_scores_ is None
    np.testing.assert_allclose(held.validation_scores_[-1],
                               r2_score(y[val], held.predict(X[val])), rtol=1e-6)


def test_classifier_partial_fit_with_early_stopping(clf_data):
    X, y = clf_data
    clf = MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True, random_state=0,
                        learning_rate_init=0.01, batch_size=32)
    for _ in range(10):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert len(clf.validation_scores_) == 10 and clf.validation_scores_[-1] > 0.6
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_warm_started_fits_hold_out_the_same_rows(reg_data):
    X, y = reg_data
    est = MLPRegressor(hidden_layer_sizes=(8,), early_stopping=True, warm_start=True,
                       random_state=1, max_iter=3, tol=0.0)
    quiet_fit(est, X, y)
    quiet_fit(est, X, y)
    _, val = _held_out(est, len(X), X.shape[1])
    assert len(est.validation_scores_) == 6
    np.testing.assert_allclose(est.best_validation_score_,
                               r2_score(y[val], est.predict(X[val])), rtol=1e-6)


# ---------------------------------------------------------------- sample weights


def _weighted_and_repeated(n=40, seed=0, classify=True):
    rng = np.random.RandomState(seed)
    X = rng.rand(n, 6)
    y = rng.randint(0, 3, n) if classify else X @ rng.randn(6)
    sw = rng.randint(0, 4, n)
    return X, y, sw, X.repeat(sw, axis=0), y.repeat(sw)


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("sparse", [False, True])
def test_full_batch_weight_is_repetition(cls, sparse):
    """The property check_sample_weight_equivalence_* asks, to float32 tolerance: one batch of
    all rows (batch_size 'auto' with n < 200), Adam; alpha large so that the penalty counts."""
    X, y, sw, X_rep, y_rep = _weighted_and_repeated(classify=cls is MLPClassifier)
    if sparse:
        sp = pytest.importorskip("scipy.sparse")
        X, X_rep = sp.csr_matrix(X), sp.csr_matrix(X_rep)
    params = dict(hidden_layer_sizes=(10,), alpha=1.0, max_iter=30, random_state=0,
                  learning_rate_init=0.01)
    weighted = quiet_fit(cls(**params), X, y, sample_weight=sw)
    repeated = quiet_fit(cls(**params), X_rep, y_rep)
    method = "predict_proba" if cls is MLPClassifier else "predict"
    np.testing.assert_allclose(getattr(weighted, method)(X), getattr(repeated, method)(X),
                               rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=2e-5)


def test_uniform_sample_weight_scales_the_penalty(clf_data):
    X, y = clf_data
    params = dict(hidden_layer_sizes=(8,), random_state=0, max_iter=3)
    a = quiet_fit(MLPClassifier(alpha=0.2, **params), X, y, sample_weight=np.full(len(y), 2.5))
    b = quiet_fit(MLPClassifier(alpha=0.2 / 2.5, **params), X, y)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-6)
    with pytest.raises(ValueError, match="non-zero|positive sum"):
        MLPClassifier(**params).fit(X, y, sample_weight=np.zeros(len(y)))


@pytest.mark.parametrize("cls,sk_cls", [(MLPClassifier, sk_nn.MLPClassifier),
                                        (MLPRegressor, sk_nn.MLPRegressor)])
def test_sample_weight_matches_sklearn_full_batch(cls, sk_cls):
    X, y, sw, _, _ = _weighted_and_repeated(n=120, seed=1, classify=cls is MLPClassifier)
    params = dict(hidden_layer_sizes=(10,), alpha=0.5, max_iter=6, random_state=2,
                  shuffle=False, tol=0.0, batch_size=120)
    ours, ref = quiet_fit(cls(**params), X, y, sample_weight=sw), \
        quiet_fit(sk_cls(**params), X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=2e-4)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
