"""scipy.sparse inputs (issue 16): fit / evaluate / predict (and the scikit-learn estimators)
accept them as Keras does; the core reads the CSR matrix and densifies one batch or row block at
a time (never the whole), giving the dense results: bitwise the same weights and predictions,
shuffled or not, the same logs. Everything else names the sparse argument."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import layers

sp = pytest.importorskip("scipy.sparse")

N, D = 300, 20


def data(n=N, d=D, density=0.2, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = sp.random(n, d, density=density, format="csr", random_state=seed, dtype=dtype)
    return x, rng.integers(0, 3, n)


def model(d=D, metrics=("accuracy", "auc")):
    fastmlp.utils.set_random_seed(4)
    m = fastmlp.Sequential([fastmlp.Input(shape=(d,)), layers.Dense(16, activation="relu"),
                            layers.Dropout(0.1), layers.Dense(3, activation="softmax")])
    m.compile("adam", "sparse_categorical_crossentropy", metrics=list(metrics))
    return m


def assert_same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def assert_same_logs(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-12, err_msg=k)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_predict_and_evaluate_equal_the_dense_results(fmt):
    x, y = data()
    xs, xd = x.asformat(fmt), x.toarray()
    m = model()
    np.testing.assert_array_equal(m.predict(xs, verbose=0), m.predict(xd, verbose=0))
    np.testing.assert_array_equal(m.predict(xs, batch_size=7, verbose=0),
                                  m.predict(xd, batch_size=7, verbose=0))
    np.testing.assert_array_equal(m.predict_on_batch(xs), m.predict_on_batch(xd))
    w = np.linspace(0.5, 2.0, N)
    assert_same_logs(m.evaluate(xs, y, batch_size=32, sample_weight=w, verbose=0,
                                return_dict=True),
                     m.evaluate(xd, y, batch_size=32, sample_weight=w, verbose=0,
                                return_dict=True))
    assert m.test_on_batch(xs, y) == pytest.approx(m.test_on_batch(xd, y), rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.bool_])
def test_fit_without_shuffle_equals_dense_bit_for_bit(dtype):
    x, y = data(dtype=np.float64)
    x = (x * 3).astype(dtype)
    a, b = model(), model()
    kw = dict(epochs=2, batch_size=24, shuffle=False, verbose=0, class_weight={0: 2.0},
              sample_weight=np.linspace(0.5, 1.5, N))
    ha = a.fit(x, y, validation_split=0.2, **kw)
    hb = b.fit(x.toarray(), y, validation_split=0.2, **kw)
    assert_same_weights(a, b)
    for k in hb.history:
        np.testing.assert_allclose(ha.history[k], hb.history[k], rtol=1e-12, err_msg=k)
    assert a.optimizer.iterations == b.optimizer.iterations == 2 * 10


def test_shuffled_epochs_equal_dense_bit_for_bit():
    x, y = data()
    a, b = model(), model()
    a.fit(x, y, epochs=2, batch_size=32, verbose=0)
    b.fit(x.toarray(), y, epochs=2, batch_size=32, verbose=0)
    assert_same_weights(a, b)


def test_the_cores_shuffled_order_is_a_seeded_permutation():
    order = fastmlp._core._shuffled_order(1000, 7)
    assert order.dtype == np.int64 and sorted(order) == list(range(1000))
    np.testing.assert_array_equal(order, fastmlp._core._shuffled_order(1000, 7))
    assert not np.array_equal(order, fastmlp._core._shuffled_order(1000, 8))
    assert len(fastmlp._core._shuffled_order(0, 1)) == 0


def test_train_on_batch_steps_and_validation_data_equal_dense():
    x, y = data()
    a, b = model(), model()
    assert a.train_on_batch(x[:50], y[:50]) == b.train_on_batch(x[:50].toarray(), y[:50])
    kw = dict(epochs=3, batch_size=16, steps_per_epoch=5, verbose=0, shuffle=False)
    ha = a.fit(x, y, validation_data=(x[:40], y[:40]), **kw)
    hb = b.fit(x.toarray(), y, validation_data=(x[:40].toarray(), y[:40]), **kw)
    assert_same_weights(a, b)
    np.testing.assert_allclose(ha.history["val_loss"], hb.history["val_loss"], rtol=1e-12)


class StopAt(fastmlp.callbacks.Callback):
    def __init__(self, batch):
        super().__init__()
        self.batch, self.seen = batch, []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append((batch, round(logs["loss"], 10)))
        if batch == self.batch:
            self.model.stop_training = True


def test_batch_callbacks_see_the_dense_batches_and_can_stop():
    x, y = data()
    a, b = model(metrics=["accuracy"]), model(metrics=["accuracy"])
    stop_a, stop_b = StopAt(6), StopAt(6)
    a.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0, callbacks=[stop_a])
    b.fit(x.toarray(), y, epochs=2, batch_size=16, shuffle=False, verbose=0, callbacks=[stop_b])
    assert stop_a.seen == stop_b.seen and [s[0] for s in stop_a.seen] == list(range(7))
    assert a.optimizer.iterations == b.optimizer.iterations == 7
    assert_same_weights(a, b)
    np.testing.assert_allclose(a.history.history["loss"], b.history.history["loss"], rtol=1e-12)


def test_non_finite_values_are_reported_with_their_row_and_column():
    x, y = data()
    x = x.tolil()
    x[123, 4] = np.nan
    with pytest.raises(ValueError, match=r"finite values\. Received: x\[123, 4\]=nan"):
        model().fit(x.tocsr(), y, verbose=0)
    with pytest.raises(ValueError, match=r"finite values\. Received: x\[123, 4\]=nan"):
        model().predict(x.tocsc(), verbose=0)
    x[123, 4] = 1e300  # finite in float64, inf in float32
    with pytest.raises(ValueError, match=r"Received: x\[123, 4\]=inf"):
        model().evaluate(x.tocsr(), y, verbose=0)


def test_duplicate_and_unsorted_entries_are_summed_as_toarray_sums_them():
    x, y = data(n=40)
    coo = x.tocoo()
    rows, cols, vals = coo.row, coo.col, coo.data
    # each entry split in two halves, the halves in reverse order: unsorted, duplicated indices
    dup = sp.csr_matrix((np.r_[vals / 2, vals / 2][::-1], (np.r_[rows, rows][::-1],
                                                           np.r_[cols, cols][::-1])),
                        shape=x.shape)
    dup.indices[:], dup.data[:] = dup.indices.copy(), dup.data.copy()
    raw = sp.csr_matrix((dup.data, dup.indices, dup.indptr), shape=x.shape)  # as given
    a, b = model(), model()
    a.fit(raw, y, epochs=2, batch_size=8, verbose=0)
    b.fit(raw.toarray(), y, epochs=2, batch_size=8, verbose=0)
    assert_same_weights(a, b)
    np.testing.assert_array_equal(a.predict(raw, verbose=0), b.predict(raw.toarray(), verbose=0))


@pytest.mark.parametrize("change, pattern", [
    (lambda m: m.indices.__setitem__(0, D + 5), r"column indices in \[0, 20\).*in row 0"),
    (lambda m: m.indices.__setitem__(0, -1), r"column indices in \[0, 20\)"),
    (lambda m: m.indptr.__setitem__(-1, m.indptr[-1] - 1), r"row offsets from 0 to nnz"),
    (lambda m: m.indptr.__setitem__(5, m.indptr[4] - 1), "non-decreasing CSR row offsets"),
])
def test_a_malformed_csr_matrix_is_refused_by_the_core_before_it_is_read(change, pattern):
    """scipy checks little of what a caller writes into a matrix's arrays; an index out of range
    must be an error, not a read or write out of bounds, in every call that takes a matrix."""
    x, y = data()
    m = model()
    core = m._core
    bad = x.copy()
    bad.sort_indices()
    change(bad)
    with pytest.raises(ValueError, match=pattern):
        fastmlp._core.Dataset(bad, y, outputs=3, loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=pattern):
        core.predict(bad)


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda m, x, y: m.predict(x[:, :5], verbose=0), ValueError,
     r"`x` must have shape \(None, 20\).*scipy.sparse matrix of shape \(300, 5\)"),
    (lambda m, x, y: m.predict(x.astype(np.complex64), verbose=0), TypeError,
     "`x` must hold real numbers; received a scipy.sparse matrix of dtype complex64"),
    (lambda m, x, y: m.fit(x, sp.csr_matrix(y.reshape(-1, 1)), verbose=0), TypeError,
     r"`y` is a scipy.sparse matrix; it must be a dense array here \(call `y.toarray\(\)`\)"),
    (lambda m, x, y: m.fit(x, y, sample_weight=sp.csr_matrix(np.ones((1, N))), verbose=0),
     TypeError, "`sample_weight` is a scipy.sparse matrix"),
    (lambda m, x, y: m(x, training=True), TypeError,
     "`x` is a scipy.sparse matrix.*accepted by fit, evaluate and predict"),
    (lambda m, x, y: fastmlp.ops.matmul(x, np.ones((D, 2))), TypeError,
     "`a` is a scipy.sparse matrix"),
])
def test_sparse_where_it_is_not_accepted_is_refused_by_name(call, exc, pattern):
    x, y = data()
    with pytest.raises(exc, match=pattern):
        call(model(), x, y)


def test_a_model_without_input_shape_is_built_from_sparse_x():
    x, _ = data()
    m = fastmlp.Sequential([layers.Dense(3)])
    assert m.predict(x, verbose=0).shape == (N, 3) and m.input_shape == (None, D)


_MEMORY_SCRIPT = r"""
import json, resource, sys
import numpy as np, scipy.sparse as sp, fastmlp
from fastmlp import layers
n, d, nnz = 200_000, 5000, 100_000
rng = np.random.default_rng(1)
x = sp.csr_matrix((rng.random(nnz, dtype=np.float32),
                   (rng.integers(0, n, nnz), rng.integers(0, d, nnz))), shape=(n, d))
y = rng.integers(0, 2, n)
m = fastmlp.Sequential([fastmlp.Input(shape=(d,)), layers.Dense(8, activation="relu"),
                        layers.Dense(2, activation="softmax")])
m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
base = peak()
out = m.predict(x, verbose=0)
m.evaluate(x, y, batch_size=256, verbose=0)
m.fit(x, y, epochs=1, batch_size=256, verbose=0)
try:
    from fastmlp.sklearn import MLPClassifier
except ImportError:  # scikit-learn is optional
    MLPClassifier = None
if MLPClassifier is not None:
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after one iteration
        clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=1, batch_size=256).fit(x, y)
    assert clf.predict_proba(x).shape == (n, 2)
print(json.dumps({"growth": peak() - base, "rows": len(out)}))
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's")
def test_a_200k_by_5000_sparse_matrix_is_never_densified_whole():
    """Dense, x would take 4 GB; predict, evaluate, a training epoch and the scikit-learn
    estimator's fit and predict together must stay far below that."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(fastmlp.__file__)), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT], capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    dense_bytes = 200_000 * 5000 * 4
    assert result["rows"] == 200_000
    assert result["growth"] < dense_bytes / 10, result


def test_scipy_is_not_imported_by_fastmlp():
    code = ("import sys, numpy as np, fastmlp; m = fastmlp.Sequential([fastmlp.Input(shape=(3,)),"
            " fastmlp.layers.Dense(2)]); m.predict(np.ones((4, 3)), verbose=0); "
            "print('scipy' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(fastmlp.__file__)), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
