"""Wrongly typed arguments are a clear Python exception (issue 16): each row of CASES calls one
entry point with an argument of the wrong type or kind, and the message names the argument, what
it expects and what it got. The companion table of wrong values is test_bad_input.py."""

import numpy as np
import pytest

import fastmlp
from fastmlp import layers

from _bad_input_helpers import (C64, LR_OUTPUT, X, Y, bad, cb_fit, fit, load_damaged, model,
                                set_weight)

CASES = {
    # ---- wrongly typed arguments: each names the argument, what it expects and what it got ---
    # fit / evaluate / predict / *_on_batch
    "validation_split_str": (lambda: fit(model(), X, Y, validation_split="0.2"), ValueError,
                             r"`validation_split`, expected a float in \[0, 1\)\. "
                             r"Received: validation_split='0\.2'"),
    "validation_split_none": (lambda: fit(model(), X, Y, validation_split=None), ValueError,
                              bad("validation_split", "None")),
    "class_weight_str_key": (lambda: fit(model(), X, Y, class_weight={"a": 1.0}), ValueError,
                             r"invalid key in `class_weight`.*class index.*'a'"),
    "class_weight_str_value": (lambda: fit(model(), X, Y, class_weight={0: "x"}), ValueError,
                               r"invalid value in `class_weight`.*class_weight\[0\]='x'"),
    "class_weight_none_value": (lambda: model().train_on_batch(X, Y, class_weight={1: None}),
                                ValueError, r"class_weight\[1\]=None"),
    "class_weight_array_value": (lambda: fit(model(), X, Y, class_weight={0: np.ones(2)}),
                                 ValueError, r"finite non-negative number.*class_weight\[0\]"),
    "sample_weight_str_list": (lambda: fit(model(), X, Y, sample_weight=["a"] * 10), TypeError,
                               "`sample_weight` must hold real numbers.*<U1"),
    "sample_weight_complex": (lambda: fit(model(), X, Y, sample_weight=np.ones(10, complex)),
                              TypeError, "`sample_weight` must hold real numbers.*complex128"),
    "evaluate_sample_weight_object": (lambda: model().evaluate(
        X, Y, sample_weight=[None] * 10, verbose=0), TypeError, "`sample_weight`.*object"),
    "test_on_batch_sample_weight_complex": (lambda: model().test_on_batch(
        X, Y, sample_weight=np.ones(10, np.complex64)), TypeError, "complex64"),
    "shuffle_str": (lambda: fit(model(), X, Y, shuffle="yes"), ValueError,
                    bad("shuffle", "'yes'")),
    "initial_epoch_float": (lambda: fit(model(), X, Y, initial_epoch=1.5), ValueError,
                            bad("initial_epoch", "1.5")),
    "initial_epoch_negative": (lambda: fit(model(), X, Y, initial_epoch=-1), ValueError,
                               bad("initial_epoch", "-1")),
    "initial_epoch_str": (lambda: fit(model(), X, Y, initial_epoch="1"), ValueError,
                          bad("initial_epoch", "'1'")),
    "validation_steps_str": (lambda: fit(model(), X, Y, validation_steps="2"), ValueError,
                             bad("validation_steps", "'2'")),
    "verbose_array": (lambda: model().fit(X, Y, verbose=np.array([1, 2])), ValueError,
                      r"`verbose`, expected 'auto', 0, 1 or 2.*array"),
    "callbacks_int": (lambda: fit(model(), X, Y, callbacks=5), TypeError,
                      "`callbacks` must be a list of fastmlp.callbacks.Callback"),
    "evaluate_steps_zero": (lambda: model().evaluate(X, Y, steps=0, verbose=0), ValueError,
                            bad("steps", "0")),
    "evaluate_return_dict_str": (lambda: model().evaluate(X, Y, return_dict="yes", verbose=0),
                                 ValueError, bad("return_dict", "'yes'")),
    "evaluate_callbacks_float": (lambda: model().evaluate(X, Y, callbacks=1.5, verbose=0),
                                 TypeError, "`callbacks` must be a list"),
    "predict_verbose_str": (lambda: model().predict(X, verbose="x"), ValueError,
                            "verbose='x'"),
    "predict_steps_str": (lambda: model().predict(X, steps="3"), ValueError,
                          bad("steps", "'3'")),
    "predict_callbacks_array": (lambda: model().predict(X, callbacks=np.zeros(2)), TypeError,
                                "`callbacks` must contain Callback instances"),
    "train_on_batch_return_dict_str": (lambda: model().train_on_batch(X, Y, return_dict="x"),
                                       ValueError, bad("return_dict", "'x'")),
    "train_on_batch_class_weight_str_key": (lambda: model().train_on_batch(
        X, Y, class_weight={"0": 2.0}), ValueError, "invalid key in `class_weight`"),
    # compile
    "compile_metrics_int": (lambda: model(compile=False).compile("adam", "mse", metrics=5),
                            ValueError, bad("metrics", "5")),
    "compile_loss_weights_array": (lambda: model(compile=False).compile(
        "adam", "mse", loss_weights=np.ones(2)), ValueError, "`loss_weights` is not supported"),
    "compile_steps_per_execution_str": (lambda: model(compile=False).compile(
        "adam", "mse", steps_per_execution="2"), ValueError, bad("steps_per_execution", "'2'")),
    "compile_jit_compile_str": (lambda: model(compile=False).compile(
        "adam", "mse", jit_compile="yes"), ValueError, bad("jit_compile", "'yes'")),
    "compile_run_eagerly_none": (lambda: model(compile=False).compile(
        "adam", "mse", run_eagerly=None), ValueError, bad("run_eagerly", "None")),
    # set_weights: complex values are refused, not cast (the imaginary part would be dropped)
    "set_weights_complex": (lambda: (lambda m: set_weight(m, 0, m.get_weights()[0] + 1j))(
        model()), TypeError, r"Weight 0 must be an array of real numbers.*complex64"),
    "layer_set_weights_complex": (lambda: (lambda m: set_weight(
        m.layers[1], 1, np.zeros(3, np.complex64)))(model()), TypeError, r"Weight 3.*complex64"),
    "variable_assign_complex": (lambda: model().layers[0].kernel.assign(
        np.zeros((4, 8), complex)), TypeError, "real numbers.*complex128"),
    "set_weights_none": (lambda: model().set_weights(None), TypeError,
                         "`set_weights` expects a list of NumPy arrays"),
    "layer_set_weights_int": (lambda: model().layers[0].set_weights(3), TypeError,
                              "expects a list of NumPy arrays"),
    # layers
    "dense_use_bias_str": (lambda: layers.Dense(3, use_bias="no"), ValueError,
                           bad("use_bias", "'no'")),
    "dense_dtype_nonsense": (lambda: layers.Dense(3, dtype="x"), ValueError,
                             "invalid value for `dtype`.*'float32' and 'mixed_bfloat16'.*dtype='x'"),
    "dense_dtype_float16": (lambda: layers.Dense(3, dtype="mixed_float16"), ValueError,
                            "'mixed_float16' is not supported by fastmlp.*dtype='mixed_float16'"),
    "dense_dtype_type": (lambda: layers.Dense(3, dtype=3), ValueError,
                         "Invalid `dtype` argument.*dtype=3"),
    "dense_activation_list": (lambda: layers.Dense(3, activation=["relu"]), ValueError,
                              r"activation identifier.*activation=\['relu'\]"),
    "layer_trainable_str": (lambda: layers.Dense(3, trainable="yes"), ValueError,
                            bad("trainable", "'yes'")),
    "batchnorm_axis_bool": (lambda: layers.BatchNormalization(axis=True), ValueError,
                            bad("axis", "True")),
    "batchnorm_center_none": (lambda: layers.BatchNormalization(center=None), ValueError,
                              bad("center", "None")),
    "input_batch_size_str": (lambda: fastmlp.Input(shape=(4,), batch_size="32"), ValueError,
                             bad("batch_size", "'32'")),
    "input_shape_and_batch_shape": (lambda: fastmlp.Input(shape=(4,), batch_shape=(None, 5)),
                                    ValueError, "both `shape` and `batch_shape`"),
    "dropout_rate_complex": (lambda: layers.Dropout(0.5 + 0j), ValueError, r"rate=\(0\.5\+0j\)"),
    "rescaling_scale_str": (lambda: layers.Rescaling("1/255"), ValueError,
                            bad("scale", "'1/255'")),
    "flatten_data_format_array": (lambda: layers.Flatten(data_format=np.zeros(2)), ValueError,
                                  "data_format"),
    "relu_max_value_str": (lambda: layers.ReLU(max_value="6"), ValueError, bad("max_value", "'6'")),
    "leaky_relu_slope_negative": (lambda: layers.LeakyReLU(-0.1), ValueError,
                                  r"`negative_slope`.*negative_slope=-0.1"),
    "prelu_shared_axes_bool": (lambda: layers.PReLU(shared_axes=True), ValueError,
                               r"`shared_axes`.*shared_axes=True"),
    "softmax_axis_str": (lambda: layers.Softmax(axis="-1"), ValueError, r"`axis`.*axis='-1'"),
    "layer_norm_epsilon_nan": (lambda: layers.LayerNormalization(epsilon=float("nan")),
                               ValueError, bad("epsilon", "nan")),
    "normalization_axis_float": (lambda: layers.Normalization(axis=1.5), ValueError,
                                 r"`axis`.*axis=1.5"),
    "normalization_adapt_strings": (lambda: layers.Normalization().adapt(np.array([["a"]])),
                                    TypeError, "`data` must hold real numbers"),
    "normalization_adapt_int": (lambda: layers.Normalization().adapt(3), TypeError,
                                "Unsupported data type: int"),
    "gaussian_noise_stddev_nan": (lambda: layers.GaussianNoise(float("nan")), ValueError,
                                  r"`stddev`.*stddev=nan"),
    "alpha_dropout_rate_one": (lambda: layers.AlphaDropout(1), ValueError, r"rate=1"),
    "reshape_target_float": (lambda: layers.Reshape((2.5, 2)), ValueError,
                             r"target_shape=\(2.5, 2\)"),
    # optimizers and schedules
    "adam_amsgrad_str": (lambda: fastmlp.optimizers.Adam(amsgrad="no"), ValueError,
                         bad("amsgrad", "'no'")),
    "sgd_nesterov_none": (lambda: fastmlp.optimizers.SGD(nesterov=None), ValueError,
                          bad("nesterov", "None")),
    "rmsprop_centered_str": (lambda: fastmlp.optimizers.RMSprop(centered="x"), ValueError,
                             bad("centered", "'x'")),
    "optimizer_name_int": (lambda: fastmlp.optimizers.SGD(name=3), ValueError, bad("name", "3")),
    "adam_beta_1_str": (lambda: fastmlp.optimizers.Adam(beta_1="0.9"), ValueError,
                        bad("beta_1", "'0.9'")),
    "learning_rate_str": (lambda: fastmlp.optimizers.Adam(learning_rate="0.01"), ValueError,
                          r"`learning_rate`, expected a number >= 0 or a LearningRateSchedule"),
    "learning_rate_setter_str": (lambda: setattr(fastmlp.optimizers.Adam(), "learning_rate",
                                                 "x"), ValueError, bad("learning_rate", "'x'")),
    "learning_rate_setter_complex": (lambda: setattr(fastmlp.optimizers.Adam(), "learning_rate",
                                                     1j), ValueError, "learning_rate=1j"),
    "cosine_decay_initial_str": (lambda: fastmlp.optimizers.schedules.CosineDecay("0.1", 10),
                                 ValueError, bad("initial_learning_rate", "'0.1'")),
    "cosine_decay_alpha_negative": (lambda: fastmlp.optimizers.schedules.CosineDecay(
        0.1, 10, alpha=-1), ValueError, bad("alpha", "-1")),
    "cosine_decay_warmup_steps_none": (lambda: fastmlp.optimizers.schedules.CosineDecay(
        0.1, 10, warmup_steps=None), ValueError, bad("warmup_steps", "None")),
    "piecewise_boundaries_none": (lambda: fastmlp.optimizers.schedules.PiecewiseConstantDecay(
        None, [0.1]), ValueError, bad("boundaries", "None")),
    "piecewise_values_str": (lambda: fastmlp.optimizers.schedules.PiecewiseConstantDecay(
        [10], ["a", "b"]), ValueError, bad("values", r"\['a', 'b'\]")),
    "exponential_staircase_str": (lambda: fastmlp.optimizers.schedules.ExponentialDecay(
        0.1, 10, 0.9, staircase="no"), ValueError, bad("staircase", "'no'")),
    # callbacks
    "lr_scheduler_returns_none": (lambda: cb_fit(fastmlp.callbacks.LearningRateScheduler(
        lambda epoch, lr: None)), ValueError, LR_OUTPUT + r"\. Received: None .*NoneType"),
    "lr_scheduler_returns_str": (lambda: cb_fit(fastmlp.callbacks.LearningRateScheduler(
        lambda epoch: "0.1")), ValueError, LR_OUTPUT + r"\. Received: '0\.1'"),
    "lr_scheduler_returns_complex": (lambda: cb_fit(fastmlp.callbacks.LearningRateScheduler(
        lambda epoch, lr: lr * 1j)), ValueError, LR_OUTPUT + ".*complex"),
    "lr_scheduler_returns_negative": (lambda: cb_fit(fastmlp.callbacks.LearningRateScheduler(
        lambda epoch, lr: -lr)), ValueError, LR_OUTPUT + ".*-0.001"),
    "lr_scheduler_own_type_error": (lambda: cb_fit(fastmlp.callbacks.LearningRateScheduler(
        lambda epoch, lr: lr + "x")), TypeError, "unsupported operand"),
    "lr_scheduler_not_callable": (lambda: fastmlp.callbacks.LearningRateScheduler(0.1),
                                  ValueError, bad("schedule", "0.1")),
    "early_stopping_monitor_none": (lambda: fastmlp.callbacks.EarlyStopping(monitor=None),
                                    ValueError, bad("monitor", "None")),
    "early_stopping_patience_str": (lambda: fastmlp.callbacks.EarlyStopping(patience="3"),
                                    ValueError, bad("patience", "'3'")),
    "early_stopping_baseline_str": (lambda: fastmlp.callbacks.EarlyStopping(baseline="0.5"),
                                    ValueError, bad("baseline", "'0.5'")),
    "early_stopping_min_delta_none": (lambda: fastmlp.callbacks.EarlyStopping(min_delta=None),
                                      ValueError, bad("min_delta", "None")),
    "early_stopping_restore_str": (lambda: fastmlp.callbacks.EarlyStopping(
        restore_best_weights="yes"), ValueError, bad("restore_best_weights", "'yes'")),
    "early_stopping_mode_array": (lambda: fastmlp.callbacks.EarlyStopping(mode=np.zeros(2)),
                                  ValueError, "`mode`, expected 'auto', 'min' or 'max'"),
    "reduce_lr_factor_str": (lambda: fastmlp.callbacks.ReduceLROnPlateau(factor="0.5"),
                             ValueError, bad("factor", "'0.5'")),
    "reduce_lr_factor_nan": (lambda: fastmlp.callbacks.ReduceLROnPlateau(factor=float("nan")),
                             ValueError, bad("factor", "nan")),
    "reduce_lr_factor_one": (lambda: fastmlp.callbacks.ReduceLROnPlateau(factor=1.0),
                             ValueError, "does not support a factor >= 1.0"),
    "reduce_lr_cooldown_str": (lambda: fastmlp.callbacks.ReduceLROnPlateau(cooldown="2"),
                               ValueError, bad("cooldown", "'2'")),
    "reduce_lr_unknown_argument": (lambda: fastmlp.callbacks.ReduceLROnPlateau(epsilon=1e-4),
                                   TypeError, r"unrecognized arguments \['epsilon'\]"),
    "model_checkpoint_filepath_none": (lambda: fastmlp.callbacks.ModelCheckpoint(None),
                                       ValueError, bad("filepath", "None")),
    "model_checkpoint_verbose_str": (lambda: fastmlp.callbacks.ModelCheckpoint(
        "m.fastmlp", verbose="1"), ValueError, bad("verbose", "'1'")),
    "model_checkpoint_save_best_only_str": (lambda: fastmlp.callbacks.ModelCheckpoint(
        "m.fastmlp", save_best_only="no"), ValueError, bad("save_best_only", "'no'")),
    "csv_logger_separator_two_chars": (lambda: fastmlp.callbacks.CSVLogger(
        "log.csv", separator=", "), ValueError, bad("separator", "', '")),
    "csv_logger_filename_int": (lambda: fastmlp.callbacks.CSVLogger(3), ValueError,
                                bad("filename", "3")),
    "lambda_callback_not_callable": (lambda: fastmlp.callbacks.LambdaCallback(
        on_epoch_end="print"), ValueError, bad("on_epoch_end", "'print'")),
    "progbar_stream_str": (lambda: fastmlp.callbacks.ProgbarLogger(stream="out.txt"),
                           ValueError, bad("stream", "'out.txt'")),
    # complex data entering elsewhere
    "matmul_complex": (lambda: fastmlp.ops.matmul(np.ones((2, 2), complex), np.ones((2, 2))),
                       TypeError, "`a` must be a real numeric array, got dtype complex128"),
    "matmul_transpose_str": (lambda: fastmlp.ops.matmul(np.ones((2, 3)), np.ones((2, 3)),
                                                        transpose_a="yes"),
                             ValueError, bad("transpose_a", "'yes'")),
    "to_categorical_complex": (lambda: fastmlp.utils.to_categorical(np.array([1j])), TypeError,
                               "`x` must hold integer class labels; received dtype complex128"),
    "to_categorical_num_classes_str": (lambda: fastmlp.utils.to_categorical(
        [0, 1], num_classes="3"), ValueError, bad("num_classes", "'3'")),
    "loss_function_complex": (lambda: fastmlp.losses.mean_squared_error(X, C64), TypeError,
                              "`y_pred` must hold real numbers; received dtype complex64"),
    "metric_update_complex": (lambda: fastmlp.metrics.MeanAbsoluteError().update_state(X, C64),
                              TypeError, "`y_pred` must hold real numbers"),
    "activation_linear_complex": (lambda: fastmlp.activations.linear(C64), TypeError,
                                  "`x` must hold real numbers"),
    "regularizer_complex": (lambda: fastmlp.regularizers.L2(0.1)(C64), TypeError,
                            "`x` must hold real numbers"),
    # the central directory's offset (end record, 3rd byte from the end) pushed past 2**31
    "load_model_end_record_offset": (lambda: load_damaged(-3, 0x40), ValueError,
                                     "Cannot load .*the file is damaged"),
    "threads_float": (lambda: fastmlp.set_num_threads(1.5), TypeError,
                      r"`n` of set_num_threads, expected an integer.*Received: n=1\.5"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_wrongly_typed_argument_is_a_clear_error(case):
    call, exc_type, pattern = CASES[case]
    with pytest.raises(exc_type, match=pattern):
        call()


def test_there_are_at_least_a_hundred_cases():
    assert len(CASES) >= 100
