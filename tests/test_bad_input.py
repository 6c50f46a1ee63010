"""Bad input of every kind is a clear Python exception naming the problem, never a crash or a
silent wrong answer (issue 7). Each row of CASES is one distinct misuse: the exception type and a
pattern the message must contain (the argument, the shapes, the valid names, ...).

Decisions documented by the tests below the table:
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
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import layers

X = np.random.default_rng(0).random((10, 4)).astype(np.float32)
Y = np.arange(10) % 3


def model(loss="sparse_categorical_crossentropy", out=3, activation="softmax", compile=True,
          metrics=None):
    fastmlp.utils.set_random_seed(1)
    m = fastmlp.Sequential([fastmlp.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                            layers.Dense(out, activation=activation)])
    if compile:
        m.compile("adam", loss, metrics=metrics)
    return m


def fit(m, x, y, **kw):
    return m.fit(x, y, verbose=0, **kw)


def mse_model():
    return model("mse", activation=None)


def unbuilt():
    return fastmlp.Sequential([layers.Dense(3)])


def weights_like(m, change):
    w = m.get_weights()
    change(w)
    return w


def _readonly_out():
    out = np.zeros((2, 5), np.float32)
    out.flags.writeable = False
    return out


NAN_X = np.where(X > 0.5, np.nan, X).astype(np.float32)
BAD_KIND = "must hold real numbers"

CASES = {
    # ---- x against the model's input --------------------------------------------------------
    "x_rank3": (lambda: fit(model(), X.reshape(10, 2, 2), Y), ValueError,
                r"`x` must have shape \(None, 4\).*\(10, 2, 2\)"),
    "x_wrong_features": (lambda: fit(model(), np.zeros((10, 5)), Y), ValueError,
                         r"`x` must have shape \(None, 4\).*\(10, 5\)"),
    "x_rank1": (lambda: fit(model(), np.zeros(10), Y), ValueError, r"\(None, 4\).*\(10,\)"),
    "x_scalar": (lambda: fit(model(), np.float32(1), Y), ValueError, r"shape \(\)"),
    "x_ragged_list": (lambda: fit(model(), [[1, 2], [1]], Y), TypeError,
                      "`x` must be a NumPy array or convertible"),
    "x_none": (lambda: fit(model(), None, Y), TypeError, "`x` must hold real numbers"),
    "predict_wrong_features": (lambda: model().predict(np.zeros((3, 7), np.float32)),
                               ValueError, r"\(None, 4\).*\(3, 7\)"),
    "evaluate_wrong_features": (lambda: model().evaluate(np.zeros((3, 7)), Y[:3], verbose=0),
                                ValueError, r"\(None, 4\).*\(3, 7\)"),
    "validation_x_wrong": (lambda: fit(model(), X, Y, validation_data=(np.zeros((2, 5)), Y[:2])),
                           ValueError, r"validation_data: x.*\(2, 5\)"),
    # ---- y against the model's output -------------------------------------------------------
    "y_fewer_rows": (lambda: fit(model(), X, Y[:5]), ValueError,
                     r"same number of samples.*x.shape\[0\]=10, y.shape=\(5,\)"),
    "y_more_rows": (lambda: fit(model(), X, np.arange(12) % 3), ValueError,
                    r"x.shape\[0\]=10, y.shape=\(12,\)"),
    "y_missing": (lambda: fit(model(), X, None), ValueError, "`y`.*required"),
    "y_onehot_for_sparse": (lambda: fit(model(), X, np.zeros((10, 3))), ValueError,
                            r"integer class labels of shape \(None,\).*categorical_crossentropy"),
    "y_wrong_columns": (lambda: fit(mse_model(), X, np.zeros((10, 2))), ValueError,
                        r"`y` must have shape \(None, 3\).*\(10, 2\)"),
    "y_int_labels_for_dense_loss": (lambda: fit(model("categorical_crossentropy"), X, Y),
                                    ValueError, "to_categorical"),
    "sample_weight_length": (lambda: fit(model(), X, Y, sample_weight=np.ones(3)), ValueError,
                             r"`sample_weight` must have shape \(10,\).*\(3,\)"),
    "sample_weight_negative": (lambda: fit(model(), X, Y, sample_weight=-np.ones(10)),
                               ValueError, "finite non-negative"),
    "class_weight_not_dict": (lambda: fit(model(), X, Y, class_weight=[1, 2]), ValueError,
                              "`class_weight` must be a dict"),
    # ---- empty data and batch sizes ---------------------------------------------------------
    "fit_empty": (lambda: fit(model(), np.zeros((0, 4), np.float32), np.zeros(0, int)),
                  ValueError, "no samples"),
    "evaluate_empty": (lambda: model().evaluate(np.zeros((0, 4), np.float32), np.zeros(0, int),
                                                verbose=0), ValueError, "no rows"),
    "train_on_batch_empty": (lambda: model().train_on_batch(np.zeros((0, 4), np.float32),
                                                            np.zeros(0, int)),
                             ValueError, "`x` has no samples"),
    "validation_split_all": (lambda: fit(model(), X, Y, validation_split=1.0), ValueError,
                             r"`validation_split` must be in \[0, 1\)"),
    "validation_split_leaves_none": (lambda: fit(model(), X[:1], Y[:1], validation_split=0.5),
                                     ValueError, "leaves no training"),
    "batch_size_zero": (lambda: fit(model(), X, Y, batch_size=0), ValueError,
                        "`batch_size`.*positive integer.*batch_size=0"),
    "batch_size_negative": (lambda: fit(model(), X, Y, batch_size=-4), ValueError,
                            "batch_size=-4"),
    "batch_size_float": (lambda: fit(model(), X, Y, batch_size=2.5), ValueError,
                         "batch_size=2.5"),
    "batch_size_bool": (lambda: fit(model(), X, Y, batch_size=True), ValueError,
                        "batch_size=True"),
    "predict_batch_size_zero": (lambda: model().predict(X, batch_size=0), ValueError,
                                "batch_size must be a positive integer, got 0"),
    "predict_batch_size_negative_big": (
        lambda: model().predict(np.zeros((2000, 4), np.float32), batch_size=-1), ValueError,
        "batch_size=-1"),
    "evaluate_batch_size_zero": (lambda: model().evaluate(X, Y, batch_size=0, verbose=0),
                                 ValueError, "batch_size=0"),
    "epochs_negative": (lambda: fit(model(), X, Y, epochs=-1), ValueError, "epochs=-1"),
    "steps_per_epoch_zero": (lambda: fit(model(), X, Y, steps_per_epoch=0), ValueError,
                             "steps_per_epoch=0"),
    "verbose_nonsense": (lambda: model().fit(X, Y, verbose=5), ValueError, "verbose=5"),
    # ---- non-finite values ------------------------------------------------------------------
    "nan_in_x_fit": (lambda: fit(model(), NAN_X, Y, shuffle=False), ValueError,
                     r"x contains NaN or Inf \(row [0-9]+\)"),
    "inf_in_x_predict": (lambda: model().predict(np.full((2, 4), np.inf, np.float32)),
                         ValueError, r"x contains NaN or Inf \(row 0\)"),
    "nan_in_x_float64_evaluate": (lambda: model().evaluate(np.full((2, 4), np.nan), [0, 1],
                                                           verbose=0),
                                  ValueError, "x contains NaN or Inf"),
    "nan_in_y": (lambda: fit(mse_model(), X, np.full((10, 3), np.nan)), ValueError,
                 r"y contains NaN or Inf \(row 0\)"),
    "inf_in_y": (lambda: fit(mse_model(), X, np.where(np.eye(10, 3) > 0, np.inf, 0.0)),
                 ValueError, "y contains NaN or Inf"),
    "nan_sample_weight": (lambda: fit(model(), X, Y, sample_weight=np.full(10, np.nan)),
                          ValueError, "`sample_weight` must hold finite"),
    # ---- labels of sparse losses ------------------------------------------------------------
    "label_too_large": (lambda: fit(model(), X, Y + 1), ValueError,
                        r"label value of 3 in `y`.*\[0, 2\]"),
    "label_negative": (lambda: fit(model(), X, Y - 1), ValueError,
                       r"label value of -1 in `y`.*\[0, 2\]"),
    "label_fractional": (lambda: fit(model(), X, Y + 0.5), ValueError,
                         "integer class labels; received non-integer"),
    "label_nan": (lambda: fit(model(), X, np.full(10, np.nan)), ValueError, "non-integer"),
    "labels_rank2": (lambda: fit(model(), X, np.zeros((10, 2), int)), ValueError,
                     r"shape \(None,\)"),
    "core_labels_out_of_range": (lambda: _core_model().train_epoch(X, np.full(10, 7, np.int64)),
                                 ValueError, r"labels must lie in \[0, 3\)"),
    "core_float_labels": (lambda: _core_model().train_epoch(X, np.zeros(10, np.float32)),
                          ValueError, "needs integer labels, got dtype float32"),
    # ---- dtypes -----------------------------------------------------------------------------
    "x_object": (lambda: fit(model(), np.array([[object()] * 4] * 10), Y), TypeError,
                 BAD_KIND + "; received dtype object"),
    "x_str": (lambda: fit(model(), np.full((10, 4), "a"), Y), TypeError, BAD_KIND + ".*<U1"),
    "x_complex": (lambda: fit(model(), X.astype(complex), Y), TypeError,
                  BAD_KIND + ".*complex128"),
    "predict_complex": (lambda: model().predict(X.astype(np.complex64)), TypeError, "complex64"),
    "y_str": (lambda: fit(model(), X, np.array(["a"] * 10)), TypeError,
              "`y` must hold numbers.*<U1"),
    "y_complex": (lambda: fit(mse_model(), X, np.zeros((10, 3), complex)), TypeError,
                  "`y` must hold numbers.*complex128"),
    "core_x_int16": (lambda: _core_model().predict(X.astype(np.int16)), ValueError,
                     "x has dtype int16; expected float32, float64 or uint8"),
    "core_x_list": (lambda: _core_model().predict([[1.0] * 4]), TypeError,
                    "x must be a NumPy array, got list"),
    "core_x_rank3": (lambda: _core_model().predict(np.zeros((1, 2, 2), np.float32)), ValueError,
                     r"x must be 2-D.*\(1, 2, 2\)"),
    # ---- sizes no machine can hold: refused before allocating --------------------------------
    "dense_2_pow_40": (lambda: fastmlp.Sequential([fastmlp.Input(shape=(4,)),
                                                   layers.Dense(2**40)]),
                       ValueError, "outputs 1099511627776 features.*maximum of 2147483647"),
    "input_2_pow_31_squared": (lambda: fastmlp.Sequential([
        fastmlp.Input(shape=(2**31, 2**31)), layers.Flatten(), layers.Dense(2)]),
        ValueError, r"\(2147483648, 2147483648\) has 4611686018427387904 features"),
    "weights_beyond_memory": (lambda: fastmlp.Sequential([
        fastmlp.Input(shape=(2**20,)), layers.Dense(2**30)]),
        ValueError, "more than this machine's memory"),
    "input_shape_zero": (lambda: fastmlp.Input(shape=(0,)), ValueError, "positive integers"),
    "units_zero": (lambda: layers.Dense(0), ValueError, "`units`.*units=0"),
    "units_negative": (lambda: layers.Dense(-3), ValueError, "units=-3"),
    "dropout_rate_one": (lambda: layers.Dropout(1.0), ValueError, "`rate`.*rate=1.0"),
    # ---- unknown names: the message lists the valid ones -------------------------------------
    "unknown_activation": (lambda: layers.Dense(3, activation="relux"), ValueError,
                           r"Unknown activation.*'relu'.*'tanh'"),
    "unknown_loss": (lambda: model(compile=False).compile("adam", "msex"), ValueError,
                     r"Unknown loss.*'mean_squared_error'"),
    "unknown_optimizer": (lambda: model(compile=False).compile("adamx", "mse"), ValueError,
                          r"'adam'.*'sgd'.*Received: 'adamx'"),
    "unknown_metric": (lambda: model(compile=False).compile("adam", "mse", metrics=["acc_x"]),
                       ValueError, r"Unknown metric.*'mean_absolute_error'"),
    "unknown_initializer": (lambda: layers.Dense(3, kernel_initializer="glorot_x"), ValueError,
                            "glorot_uniform"),
    "learning_rate_nan": (lambda: fastmlp.optimizers.Adam(learning_rate=float("nan")),
                          ValueError, "learning_rate=nan"),
    # ---- order of calls ---------------------------------------------------------------------
    "fit_before_compile": (lambda: fit(model(compile=False), X, Y), RuntimeError,
                           "must call `compile\\(\\)` before using `fit`"),
    "evaluate_before_compile": (lambda: model(compile=False).evaluate(X, Y, verbose=0),
                                RuntimeError, "before using `evaluate`"),
    "fit_without_loss": (lambda: (lambda m: (m.compile("adam"), fit(m, X, Y)))(
        model(compile=False)), ValueError, "Provide a `loss`"),
    "predict_without_layers": (lambda: fastmlp.Sequential().predict(X), ValueError,
                               "has no layers"),
    "summary_before_build": (lambda: unbuilt().summary(), ValueError,
                             "call `summary` on model.*isn't built"),
    "set_weights_before_build": (lambda: unbuilt().set_weights([]), ValueError,
                                 "`set_weights`.*isn't built"),
    "add_non_layer": (lambda: model().add("dense"), ValueError,
                      "Only instances of `fastmlp.layers.Layer`"),
    # ---- set_weights ------------------------------------------------------------------------
    "set_weights_count": (lambda: model().set_weights([np.zeros((4, 8))]), ValueError,
                          "list of length 1, but the model expects 4"),
    "set_weights_shape": (lambda: (lambda m: m.set_weights(weights_like(
        m, lambda w: w.__setitem__(2, np.zeros((8, 4))))))(model()),
        ValueError, r"Weight 2 has shape \(8, 4\).*expects shape \(8, 3\)"),
    "set_weights_str": (lambda: (lambda m: m.set_weights(weights_like(
        m, lambda w: w.__setitem__(1, np.full(8, "a")))))(model()),
        TypeError, r"Weight 1 must be an array of real numbers of shape \(8,\)"),
    "layer_set_weights_count": (lambda: model().layers[0].set_weights([np.zeros((4, 8))]),
                                ValueError, "expects 2 weight arrays, received 1"),
    "core_set_weights_shape": (lambda: _core_model().set_weights(
        [np.zeros((4, 8)), np.zeros(9), np.zeros((8, 3)), np.zeros(3)]), ValueError,
        r"array 1 .* has shape \(9,\), expected \(8,\)"),
    # ---- threads ----------------------------------------------------------------------------
    "threads_negative": (lambda: fastmlp.set_num_threads(-1), ValueError, "at least 1, got -1"),
    "threads_zero": (lambda: fastmlp.set_num_threads(0), ValueError, "at least 1, got 0"),
    "threads_absurd": (lambda: fastmlp.set_num_threads(10**9), ValueError,
                       "at most 4096, got 1000000000"),
    "threads_str": (lambda: fastmlp.set_num_threads("4"), TypeError, "set_num_threads"),
    # ---- ops.matmul -------------------------------------------------------------------------
    "matmul_inner_dims": (lambda: fastmlp.ops.matmul(np.zeros((2, 3)), np.zeros((4, 5))),
                          ValueError, r"inner dimensions differ.*\(2, 3\).*\(4, 5\)"),
    "matmul_rank1": (lambda: fastmlp.ops.matmul(np.zeros(3), np.zeros((3, 5))), ValueError,
                     r"`a` must be 2-D, got shape \(3,\)"),
    "matmul_str": (lambda: fastmlp.ops.matmul(np.zeros((2, 3)), np.full((3, 5), "x")),
                   TypeError, "`b` must be a real numeric array"),
    "matmul_none": (lambda: fastmlp.ops.matmul(None, np.ones((3, 5))), TypeError,
                    "`a` must be a real numeric array, got dtype object"),
    "matmul_out_readonly": (lambda: fastmlp.ops.matmul(np.ones((2, 3)), np.ones((3, 5)),
                                                       out=_readonly_out()),
                            ValueError, "`out` is read-only"),
    "matmul_out_dtype": (lambda: fastmlp.ops.matmul(np.ones((2, 3)), np.ones((3, 5)),
                                                    out=np.zeros((2, 5))),
                         ValueError, "`out` must be a float32"),
    "matmul_out_shape": (lambda: fastmlp.ops.matmul(np.ones((2, 3)), np.ones((3, 5)),
                                                    out=np.zeros((5, 2), np.float32)),
                         ValueError, r"`out` has shape \(5, 2\).*\(2, 5\)"),
    "matmul_out_aliases_input": (lambda: (lambda a: fastmlp.ops.matmul(a, a, out=a))(
        np.ones((3, 3), np.float32)), ValueError, "must not overlap"),
    "matmul_beta_without_out": (lambda: fastmlp.ops.matmul(np.ones((2, 3)), np.ones((3, 5)),
                                                           beta=1.0),
                                ValueError, "beta != 0 needs `out`"),
    "matmul_alpha_str": (lambda: fastmlp.ops.matmul(np.ones((2, 3)), np.ones((3, 5)),
                                                    alpha="x"),
                         TypeError, "`alpha` must be a real number"),
}


def _core_model():
    m = model()
    m.fit(X, Y, verbose=0)  # builds and compiles the core
    return m._core


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_a_clear_error(case):
    call, exc_type, pattern = CASES[case]
    with pytest.raises(exc_type, match=pattern):
        call()


def test_there_are_at_least_fifty_cases():
    assert len(CASES) >= 50


@pytest.mark.parametrize("isa, message", [
    ("avx9000", "FASTMLP_ISA=avx9000 is not a known instruction set; valid values"),
    ("AVX2;rm -rf", "valid values: generic"),
    # A real instruction set this CPU lacks (on AVX-512 machines an unknown one instead).
    ("avx512" if "avx512" not in fastmlp.cpu_info()["supported_isas"] else "sse9",
     "FASTMLP_ISA="),
])
def test_fastmlp_isa_nonsense_is_a_python_exception_in_a_subprocess(isa, message):
    env = dict(os.environ, FASTMLP_ISA=isa)
    code = "import fastmlp, numpy as np; fastmlp.ops.matmul(np.ones((2, 2)), np.ones((2, 2)))"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1, proc.stderr  # an exception, not a signal or a hang
    assert "ValueError" in proc.stderr and message in proc.stderr, proc.stderr


# ---- accepted inputs with defined behaviour ---------------------------------------------------
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
    with pytest.raises(ValueError, match="label value of 2"):
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
