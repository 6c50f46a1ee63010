import numpy as np
import pytest

from fastmlp import metrics

sk = pytest.importorskip("sklearn.metrics", reason="scikit-learn gives the reference values")


@pytest.fixture
def binary():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    p = np.clip(0.35 * y + 0.65 * rng.random(2000), 0, 1).astype(np.float32)
    return y, p


def test_auc_matches_sklearn_within_threshold_resolution(binary):
    y, p = binary
    m = metrics.AUC()
    m.update_state(y[:1000], p[:1000])
    m.update_state(y[1000:], p[1000:])
    assert float(m.result()) == pytest.approx(sk.roc_auc_score(y, p), abs=2e-3)
    fine = metrics.AUC(num_thresholds=2000)
    assert float(fine(y, p)) == pytest.approx(sk.roc_auc_score(y, p), abs=2e-4)
    m.reset_state()
    assert float(m.result()) == 0.0


def test_auc_from_logits_and_sample_weights(binary):
    y, p = binary
    logits = np.log(p + 1e-6) - np.log1p(-p + 1e-6)
    assert float(metrics.AUC(from_logits=True)(y, logits)) == pytest.approx(
        sk.roc_auc_score(y, p), abs=3e-3)
    w = np.random.default_rng(1).random(len(y))
    assert float(metrics.AUC(num_thresholds=2000)(y, p, sample_weight=w)) == pytest.approx(
        sk.roc_auc_score(y, p, sample_weight=w), abs=1e-3)


def test_precision_recall_match_sklearn(binary):
    y, p = binary
    assert float(metrics.Precision()(y, p)) == pytest.approx(sk.precision_score(y, p > 0.5),
                                                              rel=1e-6)
    assert float(metrics.Recall()(y, p)) == pytest.approx(sk.recall_score(y, p > 0.5), rel=1e-6)
    assert float(metrics.Recall(thresholds=0.7)(y, p)) == pytest.approx(
        sk.recall_score(y, p > 0.7), rel=1e-6)
    assert float(metrics.Precision()(np.zeros(4), np.zeros(4))) == 0.0


def test_top_k_accuracies_match_sklearn():
    rng = np.random.default_rng(2)
    p = rng.random((500, 6)).astype(np.float32)
    y = rng.integers(0, 6, 500)
    onehot = np.eye(6)[y]
    for k in (1, 2, 5):
        ref = sk.top_k_accuracy_score(y, p, k=k, labels=range(6))
        assert float(metrics.SparseTopKCategoricalAccuracy(k=k)(y, p)) == pytest.approx(ref)
        assert float(metrics.TopKCategoricalAccuracy(k=k)(onehot, p)) == pytest.approx(ref)


def test_regression_metrics_match_numpy():
    rng = np.random.default_rng(3)
    t, p = rng.normal(size=(300, 2)), rng.normal(size=(300, 2))
    assert float(metrics.RootMeanSquaredError()(t, p)) == pytest.approx(
        np.sqrt(sk.mean_squared_error(t, p)), rel=1e-6)
    assert float(metrics.MeanAbsoluteError()(t, p)) == pytest.approx(
        sk.mean_absolute_error(t, p), rel=1e-6)
    assert float(metrics.MeanSquaredError()(t, p)) == pytest.approx(
        sk.mean_squared_error(t, p), rel=1e-6)


def test_accuracies_match_numpy():
    rng = np.random.default_rng(4)
    p = rng.random((100, 4))
    y = rng.integers(0, 4, 100)
    assert float(metrics.SparseCategoricalAccuracy()(y, p)) == pytest.approx(
        np.mean(p.argmax(1) == y))
    assert float(metrics.CategoricalAccuracy()(np.eye(4)[y], p)) == pytest.approx(
        np.mean(p.argmax(1) == y))
    b = rng.random(100)
    yb = rng.integers(0, 2, 100)
    assert float(metrics.BinaryAccuracy(threshold=0.3)(yb, b)) == pytest.approx(
        np.mean((b > 0.3) == yb))


def test_names_and_resolution():
    assert metrics.get("accuracy", "sparse_categorical_crossentropy", 10).core_name == \
        "sparse_categorical_accuracy"
    assert metrics.get("accuracy", "categorical_crossentropy", 10).core_name == \
        "categorical_accuracy"
    assert metrics.get("acc", "mse", 1).core_name == "binary_accuracy"
    assert metrics.get("mae").name == "mae" and metrics.get("mae").core_name == \
        "mean_absolute_error"
    assert metrics.get(metrics.AUC()).name == "auc"
    assert metrics.get("auc").core_name is None
    assert metrics.BinaryAccuracy(threshold=0.7).core_name is None
    with pytest.raises(ValueError, match="Unknown metric"):
        metrics.get("f1")


def test_custom_metric_function_is_averaged_per_sample():
    def under(y_true, y_pred):
        return (np.asarray(y_pred) < np.asarray(y_true)).astype(float).ravel()
    m = metrics.get(under)
    assert m.name == "under"
    assert m.compute(np.array([[1.0], [0.0]]), np.array([[0.0], [0.0]])) == 0.5
