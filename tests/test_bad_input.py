"""Bad input of every kind is a clear Python exception naming the problem, never a crash or a
silent wrong answer (issues 7 and 16). Each row of CASES is one distinct misuse: the exception
type and a pattern the message must contain (the argument, what it expects and the value
received, the shapes, the valid names, ...). Inputs that are accepted with a defined behaviour
are tested in test_input_decisions.py.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import layers

from _bad_input_helpers import (BAD_KIND, NAN_X, X, Y, core_model, fit, model, mse_model,
                                readonly_out, unbuilt, weights_like)

NO_SAMPLES = r"`x`, expected at least one sample\. Received: x\.shape\[0\]=0"

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
                           ValueError,
                           r"`validation_data\[0\]` must have shape \(None, 4\).*\(2, 5\)"),
    # ---- y against the model's output -------------------------------------------------------
    "y_fewer_rows": (lambda: fit(model(), X, Y[:5]), ValueError,
                     r"`y`, expected 10 samples \(as many as `x`\)\. Received: y\.shape\[0\]=5"),
    "y_more_rows": (lambda: fit(model(), X, np.arange(12) % 3), ValueError,
                    r"`y`, expected 10 samples.*y\.shape\[0\]=12"),
    "y_missing": (lambda: fit(model(), X, None), ValueError, "`y`.*required"),
    "y_onehot_for_sparse": (lambda: fit(model(), X, np.zeros((10, 3))), ValueError,
                            r"class labels of shape \(samples,\).*categorical_crossentropy.*"
                            r"y\.shape=\(10, 3\)"),
    "y_wrong_columns": (lambda: fit(mse_model(), X, np.zeros((10, 2))), ValueError,
                        r"`y`, expected targets of shape \(samples, 3\).*y\.shape=\(10, 2\)"),
    "y_int_labels_for_dense_loss": (lambda: fit(model("categorical_crossentropy"), X, Y),
                                    ValueError, "to_categorical"),
    "sample_weight_length": (lambda: fit(model(), X, Y, sample_weight=np.ones(3)), ValueError,
                             r"`sample_weight`, expected 10 samples.*sample_weight\.shape\[0\]=3"),
    "sample_weight_negative": (lambda: fit(model(), X, Y, sample_weight=-np.ones(10)),
                               ValueError, "finite non-negative"),
    "class_weight_not_dict": (lambda: fit(model(), X, Y, class_weight=[1, 2]), ValueError,
                              "`class_weight` must be a dict"),
    # ---- empty data and batch sizes ---------------------------------------------------------
    "fit_empty": (lambda: fit(model(), np.zeros((0, 4), np.float32), np.zeros(0, int)),
                  ValueError, NO_SAMPLES),
    "evaluate_empty": (lambda: model().evaluate(np.zeros((0, 4), np.float32), np.zeros(0, int),
                                                verbose=0),
                       ValueError, NO_SAMPLES),
    "train_on_batch_empty": (lambda: model().train_on_batch(np.zeros((0, 4), np.float32),
                                                            np.zeros(0, int)),
                             ValueError, NO_SAMPLES),
    "validation_split_all": (lambda: fit(model(), X, Y, validation_split=1.0), ValueError,
                             r"`validation_split`, expected a float in \[0, 1\)\. "
                             r"Received: validation_split=1\.0"),
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
                                "`batch_size`, expected a positive integer. Received: batch_size=0"),
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
                     r"`x`, expected finite values\. Received: x\[\d+, \d+\]=nan"),
    "inf_in_x_predict": (lambda: model().predict(np.full((2, 4), np.inf, np.float32)),
                         ValueError, r"`x`, expected finite values\. Received: x\[0, 0\]=inf"),
    "nan_in_x_float64_evaluate": (lambda: model().evaluate(np.full((2, 4), np.nan), [0, 1],
                                                           verbose=0),
                                  ValueError,
                                  r"`x`, expected finite values.*Received: x\[0, 0\]=nan"),
    "nan_in_y": (lambda: fit(mse_model(), X, np.full((10, 3), np.nan)), ValueError,
                 r"`y`, expected finite targets\. Received: y\[0, 0\]=nan"),
    "inf_in_y": (lambda: fit(mse_model(), X, np.where(np.eye(10, 3) > 0, np.inf, 0.0)),
                 ValueError, r"`y`, expected finite targets\. Received: y\[0, 0\]=inf"),
    "nan_sample_weight": (lambda: fit(model(), X, Y, sample_weight=np.full(10, np.nan)),
                          ValueError, r"`sample_weight`, expected finite non-negative weights\. "
                          r"Received: sample_weight\[0\]=nan"),
    # ---- labels of sparse losses ------------------------------------------------------------
    "label_too_large": (lambda: fit(model(), X, Y + 1), ValueError,
                        r"`y`, expected integer class labels in \[0, 2\].*Received: y\[2\]=3"),
    "label_negative": (lambda: fit(model(), X, Y - 1), ValueError,
                       r"`y`, expected integer class labels in \[0, 2\].*Received: y\[0\]=-1"),
    "label_fractional": (lambda: fit(model(), X, Y + 0.5), ValueError,
                         r"`y`, expected integer class labels.*Received: y\[0\]=0\.5"),
    "label_nan": (lambda: fit(model(), X, np.full(10, np.nan)), ValueError,
                  r"`y`, expected integer class labels.*Received: y\[0\]=nan"),
    "labels_rank2": (lambda: fit(model(), X, np.zeros((10, 2), int)), ValueError,
                     r"class labels of shape \(samples,\).*y\.shape=\(10, 2\)"),
    "core_labels_out_of_range": (lambda: core_model().train_epoch(X, np.full(10, 7, np.int64)),
                                 ValueError,
                                 r"`y`, expected integer class labels in \[0, 2\] for 3 outputs\. "
                                 r"Received: y\[0\]=7"),
    "core_fractional_labels": (lambda: core_model().train_epoch(X, np.full(10, 0.5, np.float32)),
                               ValueError, r"integer class labels.*Received: y\[0\]=0\.5"),
    # ---- dtypes -----------------------------------------------------------------------------
    "x_object": (lambda: fit(model(), np.array([[object()] * 4] * 10), Y), TypeError,
                 BAD_KIND + "; received dtype object"),
    "x_str": (lambda: fit(model(), np.full((10, 4), "a"), Y), TypeError, BAD_KIND + ".*<U1"),
    "x_complex": (lambda: fit(model(), X.astype(complex), Y), TypeError,
                  BAD_KIND + ".*complex128"),
    "predict_complex": (lambda: model().predict(X.astype(np.complex64)), TypeError, "complex64"),
    "y_str": (lambda: fit(model(), X, np.array(["a"] * 10)), TypeError,
              "`y` must hold real numbers.*<U1"),
    "y_complex": (lambda: fit(mse_model(), X, np.zeros((10, 3), complex)), TypeError,
                  "`y` must hold real numbers.*complex128"),
    "core_x_int16": (lambda: core_model().predict(X.astype(np.int16)), ValueError,
                     r"`x`, expected float32, float64 or uint8 data\. Received: x\.dtype=int16"),
    "core_x_list": (lambda: core_model().predict([[1.0] * 4]), TypeError,
                    "Argument `x` must be a NumPy array. Received: list"),
    "core_x_rank3": (lambda: core_model().predict(np.zeros((1, 2, 2), np.float32)), ValueError,
                     r"`x`, expected a 2-D array.*Received: x\.shape=\(1, 2, 2\)"),
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
    "core_set_weights_shape": (lambda: core_model().set_weights(
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
                                                       out=readonly_out()),
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
