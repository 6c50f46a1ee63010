"""Freezing (``trainable=False``) with Keras 3's semantics: the optimizer leaves a frozen layer's
weights and slots alone, a frozen BatchNormalization runs in inference mode, changes take effect
at the next compile, the flag is saved, and training matches Keras 3's from the same weights."""

import contextlib
import os
import warnings

import numpy as np
import pytest

import fastmlp
from fastmlp import layers

os.environ.setdefault("KERAS_BACKEND", "jax")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(96, 6)).astype(np.float32)
Y = RNG.normal(size=(96, 2)).astype(np.float32)


def _model(lib=fastmlp, regularized=False):
    if lib is fastmlp:
        fastmlp.utils.set_random_seed(3)
    reg = lib.regularizers.L2(0.1) if regularized else None
    return lib.Sequential([lib.Input(shape=(6,)),
                           lib.layers.Dense(8, activation="tanh", name="a",
                                            kernel_regularizer=reg),
                           lib.layers.BatchNormalization(name="bn"),
                           lib.layers.Dense(5, activation="relu", name="b"),
                           lib.layers.Dense(2, name="c")])


def _fit(model, epochs=2, **kw):
    return model.fit(X, Y, epochs=epochs, batch_size=16, shuffle=False, verbose=0, **kw)


def _changed(before, after):
    return [not np.array_equal(a, b) for a, b in zip(before, after)]


def _slots(model):
    return model.get_training_state()["optimizer"]["slots"]


@contextlib.contextmanager
def _keras_reads_frozen_variables():
    with warnings.catch_warnings():  # Keras 3.15 on JAX reads a frozen variable through a
        warnings.simplefilter("ignore", DeprecationWarning)  # NumPy-2-deprecated __array__
        yield


def _keras_weights(model):
    with _keras_reads_frozen_variables():
        return model.get_weights()


# ---- what the loop trains ---------------------------------------------------------------------
def test_a_frozen_layer_keeps_its_weights_and_gets_no_optimizer_slots():
    model = _model()
    model.get_layer("b").trainable = False
    model.compile("adam", "mse")
    before = model.get_weights()
    _fit(model)
    # a: kernel, bias; bn: gamma, beta, moving mean/variance; b: kernel, bias; c: kernel, bias
    assert _changed(before, model.get_weights()) == [True] * 6 + [False, False] + [True, True]
    trainable = [w for w in model.trainable_weights]
    assert [v.path for v in trainable] == ["a/kernel", "a/bias", "bn/gamma", "bn/beta",
                                           "c/kernel", "c/bias"]
    assert [s.size for s in _slots(model)] == [size for v in trainable
                                               for size in [int(np.prod(v.shape))] * 2]


def test_frozen_batch_normalization_uses_and_keeps_its_moving_statistics():
    model = _model()
    bn = model.get_layer("bn")
    bn.set_weights([np.full(8, 1.5, np.float32), np.full(8, 0.2, np.float32),
                    np.linspace(-1, 1, 8).astype(np.float32), np.full(8, 2.0, np.float32)])
    bn.trainable = False
    model.compile("sgd", "mse")
    before = bn.get_weights()
    # in training mode as in inference (no Dropout here): the moving statistics, not the batch's
    np.testing.assert_array_equal(model(X, training=True), model.predict(X, verbose=0))
    _fit(model)
    assert _changed(before, bn.get_weights()) == [False] * 4
    assert [v.trainable for v in bn.weights] == [False] * 4


def test_frozen_layers_get_no_gradients_and_the_others_the_same_ones():
    """Backward stops at the lowest layer that trains; a frozen layer above it passes dX only
    (its gradient buffer is never written)."""
    frozen, plain = _model(), _model()
    plain.set_weights(frozen.get_weights())
    for name in ("a", "b"):
        frozen.get_layer(name).trainable = False
    for m in (frozen, plain):
        m.compile("sgd", "mse")
    loss, grads = frozen._core.compute_gradients(X, Y)
    plain_loss, plain_grads = plain._core.compute_gradients(X, Y)
    assert loss == plain_loss
    for i, (g, p) in enumerate(zip(grads, plain_grads)):
        if i in (0, 1, 4, 5):  # a's and b's kernel and bias
            assert not g.any() and p.any()
        else:  # bn's gamma and beta (through b's dX), c's kernel and bias
            np.testing.assert_allclose(g, p, rtol=1e-6, atol=1e-7)


def test_regularization_of_a_frozen_layer_is_not_in_the_loss():
    """Keras adds the penalties of trainable weights only (Layer._get_regularization_losses)."""
    frozen, plain = _model(regularized=True), _model()
    plain.set_weights(frozen.get_weights())
    frozen.get_layer("a").trainable = False
    for m in (frozen, plain):
        m.compile("sgd", "mse")
    assert frozen.evaluate(X, Y, verbose=0) == pytest.approx(plain.evaluate(X, Y, verbose=0),
                                                             rel=1e-6)
    frozen.get_layer("a").trainable = True
    frozen.compile("sgd", "mse")
    assert frozen.evaluate(X, Y, verbose=0) > plain.evaluate(X, Y, verbose=0) + 1e-3


def test_model_trainable_false_freezes_every_layer_and_steps_nothing():
    model = _model()
    model.trainable = False
    assert [layer.trainable for layer in model.layers] == [False] * 4
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 10
    model.compile("adam", "mse")
    before = model.get_weights()
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        _fit(model)
    assert _changed(before, model.get_weights()) == [False] * 10
    assert model.optimizer.iterations == 0  # Keras: applying no gradients is a no-op
    model.trainable = True
    assert [layer.trainable for layer in model.layers] == [True] * 4


def test_an_untrainable_model_has_no_trainable_weights_whatever_its_layers_say():
    model = fastmlp.Sequential([fastmlp.Input(shape=(6,)), layers.Dense(3)], trainable=False)
    assert model.layers[0].trainable  # the constructor's flag is the model's own (as Keras)
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 2
    model.compile("sgd", "mse")
    before = model.get_weights()
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        model.fit(X, Y[:, :1].repeat(3, axis=1), verbose=0)
    assert _changed(before, model.get_weights()) == [False, False]


def test_summary_counts_trainable_and_non_trainable_parameters():
    model = _model()
    model.get_layer("a").trainable = False
    lines = []
    model.summary(print_fn=lines.append, show_trainable=True)
    text = "\n".join(lines)
    # a: 6*8+8 = 56 frozen; bn: 16 trainable + 16 moving; b: 45; c: 12
    assert " Trainable params: 73 (292.00 B)" in text
    assert " Non-trainable params: 72 (288.00 B)" in text
    rows = [line for line in lines if "(Dense)" in line or "(Batch" in line]
    assert [row.split("│")[4].strip() for row in rows] == ["N", "Y", "Y", "Y"]
    assert "Trainable" in lines[2]


def test_trainable_is_checked_like_keras():
    with pytest.raises(ValueError, match="`trainable`.*Received: trainable='no'"):
        layers.Dense(3, trainable="no")
    layer = layers.Dense(3, trainable=False)
    assert layer.trainable is False and layer.get_config()["trainable"] is False
    with pytest.raises(ValueError, match="`trainable`"):
        layer.trainable = None


# ---- when a change takes effect --------------------------------------------------------------
def test_a_change_after_compile_takes_effect_at_the_next_compile_with_keras_warning():
    model = _model()
    model.compile("sgd", "mse")
    model.get_layer("a").trainable = False
    assert [v.path for v in model.trainable_weights][:2] == ["bn/gamma", "bn/beta"]
    before = model.get_weights()
    with pytest.warns(UserWarning, match=r"trainable` state has changed since the model was "
                                         r"compiled.*Changed layers: \['a'\]"):
        _fit(model, epochs=1)
    assert _changed(before, model.get_weights())[:2] == [True, True]  # compiled: still trains
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per compile
        model.evaluate(X, Y, verbose=0)
        model.compile("sgd", "mse")
        before = model.get_weights()
        _fit(model, epochs=1)
    assert _changed(before, model.get_weights())[:2] == [False, False]


def test_a_new_optimizer_starts_afresh_and_the_same_instance_goes_on():
    model = _model()
    model.compile("adam", "mse")
    _fit(model, epochs=1)
    model.compile("adam", "mse")
    assert model.optimizer.iterations == 0 and model.get_training_state()["optimizer"] == {
        "iterations": 0, "slots": []}
    opt = fastmlp.optimizers.Adam()
    model.compile(opt, "mse")
    _fit(model, epochs=1)
    slots = _slots(model)
    model.compile(opt, "mse")
    assert opt.iterations == 6
    for a, b in zip(slots, _slots(model)):
        np.testing.assert_array_equal(a, b)


def test_slots_of_a_weight_frozen_meanwhile_resume_where_they_stopped():
    model, opt = _model(), fastmlp.optimizers.Adam()
    model.compile(opt, "mse")
    _fit(model, epochs=1)
    a_slots = [s.copy() for s in _slots(model)[:4]]  # a/kernel m, v, a/bias m, v
    model.get_layer("a").trainable = False
    model.compile(opt, "mse")
    assert len(_slots(model)) == 12  # Adam's 2 for each of the 6 tensors left
    _fit(model, epochs=1)
    model.get_layer("a").trainable = True
    model.compile(opt, "mse")
    assert opt.iterations == 12
    for kept, now in zip(a_slots, _slots(model)[:4]):
        np.testing.assert_array_equal(kept, now)  # not advanced while frozen


def test_unfreezing_a_weight_the_optimizer_never_had_is_keras_unknown_variable():
    model, opt = _model(), fastmlp.optimizers.SGD(momentum=0.9)
    model.get_layer("a").trainable = False
    model.compile(opt, "mse")
    _fit(model, epochs=1)
    model.get_layer("a").trainable = True
    with pytest.raises(ValueError, match=r"Unknown variable: <Variable path=a/kernel.*recreate "
                                         r"a new optimizer instance"):
        model.compile(opt, "mse")
    model.compile(fastmlp.optimizers.SGD(momentum=0.9), "mse")
    before = model.get_weights()
    _fit(model, epochs=1)
    assert _changed(before, model.get_weights())[:2] == [True, True]


# ---- saved files -----------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".fastmlp", ".keras"])
def test_saved_files_keep_the_flags_and_training_goes_on_frozen(tmp_path, suffix):
    if suffix == ".keras":
        pytest.importorskip("h5py")
    model = _model()
    model.get_layer("a").trainable = False
    model.get_layer("bn").trainable = False
    model.compile("adam", "mse")
    _fit(model, epochs=1)
    path = str(tmp_path / f"m{suffix}")
    model.save(path)
    loaded = fastmlp.models.load_model(path)
    assert [layer.trainable for layer in loaded.layers] == [False, False, True, True]
    for a, b in zip(_slots(model), _slots(loaded)):
        np.testing.assert_array_equal(a, b)
    for m in (model, loaded):
        _fit(m, epochs=1)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert loaded.get_config()["layers"][1]["config"]["trainable"] is False


def test_the_model_flag_is_saved_in_fastmlp_files(tmp_path):
    model = _model()
    model.trainable = False
    model.get_layer("c").trainable = True
    model.save(str(tmp_path / "m.fastmlp"))
    loaded = fastmlp.models.load_model(str(tmp_path / "m.fastmlp"))
    assert loaded.trainable is False and loaded.get_layer("c").trainable is True
    assert loaded.trainable_weights == []


def test_a_flag_changed_since_compile_leaves_the_optimizer_state_out_of_the_file(tmp_path):
    model = _model()
    model.compile("adam", "mse")
    _fit(model, epochs=1)
    model.get_layer("b").trainable = False
    with pytest.warns(UserWarning, match="optimizer state is left out"):
        model.save(str(tmp_path / "m.fastmlp"))
    loaded = fastmlp.models.load_model(str(tmp_path / "m.fastmlp"))
    assert loaded.optimizer.iterations == 0 and loaded.get_layer("b").trainable is False


# ---- against Keras 3 --------------------------------------------------------------------------
def test_training_with_frozen_layers_matches_keras():
    keras = pytest.importorskip("keras")
    ours, theirs = _model(), _model(keras)
    theirs.set_weights(ours.get_weights())
    for m in (ours, theirs):
        m.get_layer("a").trainable = False
        m.get_layer("bn").trainable = False
        m.compile(optimizer="adam", loss="mse")
    h_ours, h_theirs = _fit(ours, epochs=3).history, _fit(theirs, epochs=3).history
    np.testing.assert_allclose(h_ours["loss"], h_theirs["loss"], rtol=2e-5)
    for a, b in zip(ours.get_weights(), _keras_weights(theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert len(ours.trainable_weights) == len(theirs.trainable_weights) == 4
    assert len(ours.non_trainable_weights) == len(theirs.non_trainable_weights) == 6


def test_keras_reads_our_frozen_model_and_its_optimizer_state(tmp_path):
    keras = pytest.importorskip("keras")
    pytest.importorskip("h5py")
    ours = _model()
    ours.get_layer("a").trainable = False
    ours.compile("adam", "mse")
    _fit(ours, epochs=1)
    path = str(tmp_path / "m.keras")
    ours.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras warns when it skips optimizer variables
        theirs = keras.models.load_model(path)
    assert [layer.trainable for layer in theirs.layers] == [False, True, True, True]
    assert int(theirs.optimizer.iterations) == 6
    for m in (ours, theirs):
        _fit(m, epochs=1)
    for a, b in zip(ours.get_weights(), _keras_weights(theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    theirs.get_layer("c").trainable = False  # and back: Keras's file, frozen flags read
    with _keras_reads_frozen_variables():
        theirs.save(path)
    with pytest.warns(UserWarning, match="Skipping the optimizer state"):  # as Keras would:
        back = fastmlp.models.load_model(path)  # its slots are for c too, frozen since
    assert [layer.trainable for layer in back.layers] == [False, True, True, False]
    assert [v.path for v in back.trainable_weights] == ["bn/gamma", "bn/beta", "b/kernel",
                                                        "b/bias"]
