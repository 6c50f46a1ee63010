"""Inputs that are accepted, each with a defined behaviour (the refused ones are the table of
test_bad_input.py). Decisions:
- batch_size larger than the data is allowed (as Keras): the epoch is one batch of all rows.
- categorical_crossentropy with targets whose rows do not sum to 1 is accepted as Keras does: the
  loss is -sum(y * log(p)) per row, with no normalization.
- Float labels holding whole numbers are accepted for sparse losses (as Keras); fractional ones
  are refused.
- A layer added after compile rebuilds the core and keeps the compile settings: the next fit
  trains the new graph (Keras 3 would need compile() again; silently training the old graph is
  what must never happen).
- predict on a model without an input shape builds it from the data (as Keras).
- NaN weights given to set_weights are accepted (as Keras); NaN inputs are refused.
- class_weight keys of classes that cannot occur are ignored (as Keras), however large.
- Scalar arguments take NumPy scalars as well as Python numbers; a lone callback may be passed
  without a list (as Keras).
"""

import os

import numpy as np
import pytest

import fastmlp
from fastmlp import layers

from _bad_input_helpers import X, Y, fit, model, unbuilt


def test_batch_size_larger_than_the_data_is_one_batch():
    big, exact = model(), model()
    fit(big, X, Y, batch_size=10**6, shuffle=False)
    fit(exact, X, Y, batch_size=len(X), shuffle=False)
    assert big.optimizer.iterations == 1
    for a, b in zip(big.get_weights(), exact.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(big.predict(X, batch_size=10**6), big.predict(X))


def test_zero_rows_predict_gives_an_empty_result():
    for dtype in (np.float32, np.float64, np.uint8):
        out = model().predict(np.zeros((0, 4), dtype))
        assert out.shape == (0, 3) and out.dtype == np.float32


def _layouts():
    base = np.random.default_rng(3).random((40, 8)).astype(np.float32)
    readonly = base[:, :4].copy()
    readonly.flags.writeable = False
    return {"readonly": readonly, "fortran": np.asfortranarray(base[:, :4]),
            "column_slice": base[:, 2:6], "row_step": base[::2, :4].repeat(2, axis=0)[:40],
            "reversed": base[::-1, :4][::-1], "float64_strided": base.astype(np.float64)[:, ::2]}


@pytest.mark.parametrize("layout", sorted(_layouts()))
def test_readonly_and_non_contiguous_arrays_give_the_contiguous_result(layout):
    x = _layouts()[layout]
    y = np.arange(len(x)) % 3
    contiguous = np.ascontiguousarray(x, dtype=np.float32)
    a, b = model(), model()
    np.testing.assert_array_equal(a.predict(x), b.predict(contiguous))
    fit(a, x, y, epochs=2, batch_size=8)
    fit(b, contiguous, y, epochs=2, batch_size=8)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert a.evaluate(x, y, verbose=0) == b.evaluate(contiguous, y, verbose=0)
    if not x.flags.writeable:
        assert not x.flags.writeable  # nothing flipped the flag


def test_whole_float_labels_are_accepted_for_sparse_losses():
    a, b = model(), model()
    fit(a, X, Y.astype(np.float64), shuffle=False)
    fit(b, X, Y, shuffle=False)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_categorical_crossentropy_takes_unnormalized_targets_as_keras():
    m = model("categorical_crossentropy")
    y = np.full((10, 3), 0.7, np.float32)  # rows sum to 2.1
    p = np.clip(m.predict(X).astype(np.float64), 1e-7, 1 - 1e-7)
    expected = np.mean(-np.sum(y * np.log(p), axis=1))
    assert m.evaluate(X, y, verbose=0) == pytest.approx(expected, rel=1e-4)


def test_layer_added_after_compile_is_trained_not_the_old_graph():
    m = model()
    m.add(layers.Dense(2, activation="softmax"))
    assert m.predict(X).shape == (10, 2)
    before = m.layers[-1].get_weights()[0].copy()
    history = fit(m, X, Y % 2, epochs=2)
    assert len(history.history["loss"]) == 2
    assert not np.array_equal(before, m.layers[-1].get_weights()[0])
    with pytest.raises(ValueError, match=r"class labels in \[0, 1\] for 2 outputs.*y\[2\]=2"):
        fit(m, X, Y)  # labels checked against the new output width


def test_predict_on_a_model_without_input_shape_builds_it():
    m = unbuilt()
    assert not m.built
    assert m.predict(X).shape == (10, 3)
    assert m.built and m.input_shape == (None, 4)
    with pytest.raises(ValueError, match=r"\(None, 4\)"):
        m.predict(np.zeros((2, 5), np.float32))


def test_nan_weights_are_accepted_as_keras_and_show_in_predictions():
    m = model()
    m.set_weights([np.full_like(w, np.nan) for w in m.get_weights()])
    assert np.isnan(m.predict(X)).all()


def test_bool_and_integer_inputs_are_converted():
    a, b = model(), model()
    xb = X > 0.5
    np.testing.assert_array_equal(a.predict(xb), b.predict(xb.astype(np.float32)))
    np.testing.assert_array_equal(a.predict(xb.astype(np.int64)), b.predict(xb.astype(np.uint8)))


def test_thread_count_errors_leave_the_setting_unchanged():
    before = fastmlp.get_num_threads()
    with pytest.raises(ValueError):
        fastmlp.set_num_threads(-1)
    assert fastmlp.get_num_threads() == before


def test_class_weight_keys_beyond_the_classes_are_ignored():
    a, b = model(), model()
    fit(a, X, Y, shuffle=False, class_weight={0: 2.0, 10**20: 5.0, 7: 3.0})
    fit(b, X, Y, shuffle=False, class_weight={0: 2.0})
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_numpy_scalars_are_accepted_for_optimizer_and_callback_arguments():
    opt = fastmlp.optimizers.SGD(learning_rate=np.float32(0.05), momentum=np.float64(0.5))
    assert opt.learning_rate == pytest.approx(0.05) and opt.momentum == 0.5
    opt.learning_rate = np.float32(0.01)
    assert opt.learning_rate == pytest.approx(0.01)
    stop = fastmlp.callbacks.EarlyStopping(patience=np.int64(2), min_delta=np.float32(0.1))
    assert stop.patience == 2 and isinstance(stop.patience, int)


def test_a_lone_callback_and_a_one_argument_schedule_work():
    m = model()
    history = m.fit(X, Y, epochs=2, verbose=0, callbacks=fastmlp.callbacks.LearningRateScheduler(
        lambda epoch: 0.01 / (epoch + 1)))
    assert history.history["learning_rate"] == pytest.approx([0.01, 0.005])


def _open_paths():
    fds = os.listdir("/proc/self/fd")
    return {os.path.realpath(os.path.join("/proc/self/fd", fd)) for fd in fds
            if os.path.exists(os.path.join("/proc/self/fd", fd))}


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd (Linux)")
def test_csv_logger_holds_no_file_open_when_fit_fails(tmp_path):
    path = tmp_path / "log.csv"

    class Fail(fastmlp.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("stop here")

    logger = fastmlp.callbacks.CSVLogger(path)
    with pytest.raises(RuntimeError, match="stop here"):
        model().fit(X, Y, epochs=3, verbose=0, callbacks=[logger, Fail()])
    assert str(path.resolve()) not in _open_paths()
    rows = path.read_text().splitlines()
    assert rows[0].startswith("epoch,") and [r.split(",")[0] for r in rows[1:]] == ["0", "1"]
