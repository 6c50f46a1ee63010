"""`_core.Dataset` (issue 18): the data fit, evaluate and the *_on_batch calls read is checked
once, when it enters, by one check per argument that names it, the index and the value; the
loops trust it. Validation data is checked once per fit, not once per epoch."""

import numpy as np
import pytest

import fastmlp
from fastmlp import _core, layers

X = np.random.default_rng(0).random((20, 4)).astype(np.float32)
Y = np.arange(20) % 3
SPARSE_CE = "sparse_categorical_crossentropy"


def model(loss=SPARSE_CE, out=3):
    fastmlp.utils.set_random_seed(1)
    m = fastmlp.Sequential([fastmlp.Input(shape=(4,)), layers.Dense(out, activation="softmax")])
    m.compile("sgd", loss)
    return m


class Recorder(fastmlp.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append("train_begin")

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(epoch)


@pytest.fixture
def made(monkeypatch):
    """The names of every `_core.Dataset` made, in order."""
    names = []
    real = _core.Dataset

    def counting(*args, **kwargs):
        names.append(tuple(kwargs.get("names", ("x", "y", "sample_weight"))))
        return real(*args, **kwargs)
    monkeypatch.setattr(_core, "Dataset", counting)
    return names


def test_validation_data_is_checked_once_per_fit(made):
    m = model()
    m.fit(X, Y, epochs=4, validation_data=(X[:8], Y[:8]), verbose=0)
    assert made == [("x", "y", "sample_weight"),
                    ("validation_data[0]", "validation_data[1]", "validation_data[2]")]


@pytest.mark.parametrize("kwargs", [dict(validation_split=0.25), dict(steps_per_epoch=2,
                                                                        batch_size=4)])
def test_splits_and_epoch_windows_are_rows_of_the_one_checked_dataset(made, kwargs):
    model().fit(X, Y, epochs=3, verbose=0, **kwargs)
    assert made == [("x", "y", "sample_weight")]


def test_bad_validation_labels_name_validation_data_before_training_starts():
    m, rec = model(), Recorder()
    before = m.get_weights()
    bad = Y[:8].copy()
    bad[5] = 9
    with pytest.raises(ValueError, match=r"Received an invalid value for `validation_data\[1\]`, "
                                         r"expected integer class labels in \[0, 2\] for 3 "
                                         r"outputs\. Received: validation_data\[1\]\[5\]=9"):
        m.fit(X, Y, epochs=2, validation_data=(X[:8], bad), callbacks=[rec], verbose=0)
    assert rec.events == []  # refused before on_train_begin: nothing trained
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))


def test_a_label_out_of_range_is_refused_once_at_the_boundary_by_name_value_and_index():
    m, rec = model(), Recorder()
    y = Y.copy()
    y[17] = 3
    with pytest.raises(ValueError) as err:
        m.fit(X, y, epochs=2, callbacks=[rec], verbose=0)
    assert str(err.value) == ("Received an invalid value for `y`, expected integer class labels "
                              "in [0, 2] for 3 outputs. Received: y[17]=3")
    assert rec.events == []
    # with validation_split the held-out rows keep their numbers in the message
    with pytest.raises(ValueError, match=r"Received: y\[17\]=3"):
        m.fit(X, y, validation_split=0.2, verbose=0)


@pytest.mark.parametrize("call", [
    lambda m, x, y: m.evaluate(x, y, verbose=0),
    lambda m, x, y: m.train_on_batch(x, y),
    lambda m, x, y: m.test_on_batch(x, y),
    lambda m, x, y: m._core.train_epoch(x, y),
    lambda m, x, y: m._core.compute_gradients(x, y),
])
def test_every_entry_point_refuses_the_same_way(call):
    m = model()
    x = X.copy()
    x[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"^Received an invalid value for `x`, expected finite "
                                         r"values\. Received: x\[3, 1\]=inf$"):
        call(m, x, Y)


def test_class_weight_weighs_as_the_same_sample_weights():
    a, b = model(), model()
    a.fit(X, Y, class_weight={1: 3.0, 7: 2.0}, epochs=2, batch_size=5, shuffle=False, verbose=0)
    b.fit(X, Y, sample_weight=np.where(Y == 1, 3.0, 1.0), epochs=2, batch_size=5, shuffle=False,
          verbose=0)
    assert all(np.array_equal(p, q) for p, q in zip(a.get_weights(), b.get_weights()))


def test_the_training_input_range_is_the_datasets():
    m = model()
    x = X.copy()
    x[2, 3] = -7.5
    m.fit(x, Y, verbose=0)
    assert (m._training_input["min"], m._training_input["max"]) == (-7.5, float(x.max()))


def test_a_dataset_is_a_checked_view():
    data = _core.Dataset(X, Y, outputs=3, loss=SPARSE_CE)
    assert (len(data), data.cols, data.outputs) == (20, 4, 3)
    np.testing.assert_array_equal(data.y, Y)
    assert data.y.dtype == np.int32 and not data.y.flags.writeable
    np.testing.assert_array_equal(data.slice(5, 8).y, Y[5:8])
    np.testing.assert_array_equal(data.take([19, 0]).y, Y[[19, 0]])
    with pytest.raises(IndexError):
        data.slice(5, 21)
    with pytest.raises(IndexError):
        data.take([20])
    y = Y.astype(np.int32)
    held = _core.Dataset(X, y, outputs=3, loss=SPARSE_CE)
    y[:] = 1000  # after the check: the Dataset trains on its own copy of the labels
    m = model()
    logs = m._core.train_epoch(held, batch_size=4, shuffle=False)
    assert np.isfinite(logs["loss"])


def test_the_model_checks_only_that_a_dataset_fits_it():
    m = model()
    m.fit(X, Y, verbose=0)
    core = m._core
    with pytest.raises(ValueError, match="class labels for 3 outputs"):
        core.train_epoch(_core.Dataset(X, Y, outputs=4, loss=SPARSE_CE))
    with pytest.raises(ValueError, match=r"class labels for 3 outputs.*Received: targets of 3"):
        core.evaluate(_core.Dataset(X, np.eye(3)[Y], outputs=3, loss="mse"))
    with pytest.raises(ValueError, match=r"expected 4 values per sample.*x\.shape\[1\]=5"):
        core.train_epoch(_core.Dataset(np.zeros((2, 5)), np.arange(2), outputs=3, loss=SPARSE_CE))
    data = _core.Dataset(X, Y, outputs=3, loss=SPARSE_CE)
    with pytest.raises(TypeError, match="part of the Dataset"):
        core.train_epoch(data, Y)
    with pytest.raises(ValueError, match=r"`batch_size`, expected a positive integer\. "
                                         r"Received: batch_size=0"):
        core.evaluate(data, batch_size=0)
