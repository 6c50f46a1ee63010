"""Real Keras 3 files (issue 19): ``.keras`` archives and ``.weights.h5`` files that fastmlp
writes open in Keras 3 and predict the same, Keras 3's open in fastmlp, in both directions with
the compile settings and the optimizer state; Keras's JSON both ways; ``clone_model``.
Hostile files: tests/test_file_safety_keras.py."""

import os
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import layers

from _mlp_helpers import blobs, classifier

os.environ.setdefault("KERAS_BACKEND", "jax")  # Keras 3 defaults to TensorFlow
h5py = pytest.importorskip("h5py", reason="h5py (the optional extra fastmlp[keras]) is absent")
# Keras 3.15's own save calls np.array(variable, copy=False) on NumPy 2.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras", reason="keras (optional, with the JAX backend) is not "
                                               "installed")


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _every_shared_layer(lib, mod):
    """A model with each layer both libraries have (Keras names and arguments)."""
    return lib.Sequential([
        lib.Input(shape=(2, 4)), mod.Rescaling(0.5, offset=0.25), mod.Flatten(),
        mod.Dense(16, activation="relu", kernel_regularizer=lib.regularizers.L2(1e-3)),
        mod.BatchNormalization(momentum=0.9), mod.Dropout(0.2, seed=3),
        mod.Activation("tanh"), mod.Dense(3, activation="softmax", use_bias=False)])


def _data(n=96):
    x, y = blobs(n=n)
    return x.reshape(n, 2, 4), y


def test_fastmlp_to_keras_to_fastmlp_predicts_identically(keras, tmp_path):
    x, y = _data()
    fastmlp.utils.set_random_seed(0)
    ours = _every_shared_layer(fastmlp, layers)
    ours.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                 metrics=["accuracy", fastmlp.metrics.AUC(num_thresholds=50)])
    ours.fit(x, y, epochs=2, batch_size=16, verbose=0)
    ours.save(str(tmp_path / "a.keras"))
    theirs = keras.models.load_model(str(tmp_path / "a.keras"))
    _close(theirs.predict(x, verbose=0), ours.predict(x, verbose=0))
    assert [type(layer).__name__ for layer in theirs.layers] == \
        [type(layer).__name__ for layer in ours.layers]
    assert int(theirs.optimizer.iterations.value) == ours.optimizer.iterations == 12
    assert type(theirs.optimizer).__name__ == "Adam"
    assert type(theirs.loss).__name__ == "SparseCategoricalCrossentropy"
    theirs.save(str(tmp_path / "b.keras"))
    back = fastmlp.models.load_model(str(tmp_path / "b.keras"))
    np.testing.assert_array_equal(back.predict(x, verbose=0), ours.predict(x, verbose=0))
    assert back.get_config() == ours.get_config()
    assert back.metrics_names == ours.metrics_names
    assert back.optimizer.iterations == 12


def test_a_fresh_keras_model_of_every_shared_layer_loads_here(keras, tmp_path):
    x, y = _data()
    keras.utils.set_random_seed(1)
    theirs = _every_shared_layer(keras, keras.layers)
    theirs.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                   metrics=["accuracy"])
    theirs.fit(x, y, epochs=2, batch_size=16, verbose=0)  # BatchNormalization moves
    theirs.save(str(tmp_path / "k.keras"))
    ours = fastmlp.models.load_model(str(tmp_path / "k.keras"))
    _close(ours.predict(x, verbose=0), theirs.predict(x, verbose=0))
    assert ours.layers[3].momentum == 0.9 and ours.layers[4].seed == 3
    assert ours.layers[2].kernel_regularizer.l2 == pytest.approx(1e-3)
    assert isinstance(ours.optimizer, fastmlp.optimizers.RMSprop)
    assert ours.optimizer.iterations == 12


_ACTIVATIONS = ["linear", "relu", "leaky_relu", "elu", "selu", "gelu", "sigmoid",
                "hard_sigmoid", "tanh", "softplus", "silu", "swish", "softmax"]


@pytest.mark.parametrize("activation", _ACTIVATIONS)
def test_every_activation_both_ways(keras, tmp_path, activation):
    rng = np.random.default_rng(2)
    x = rng.normal(0, 2, (32, 5)).astype(np.float32)
    theirs = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(7, activation),
                               keras.layers.Activation(activation)])
    theirs.save(str(tmp_path / "k.keras"))
    ours = fastmlp.models.load_model(str(tmp_path / "k.keras"))
    _close(ours.predict(x, verbose=0), theirs.predict(x, verbose=0))
    ours.save(str(tmp_path / "f.keras"))
    _close(keras.models.load_model(str(tmp_path / "f.keras")).predict(x, verbose=0),
           ours.predict(x, verbose=0))


_INITIALIZERS = [("Zeros", {}), ("Ones", {}), ("Constant", {"value": 0.5}),
                 ("RandomUniform", {"minval": -0.1, "maxval": 0.2, "seed": 4}),
                 ("RandomNormal", {"mean": 0.1, "stddev": 0.3, "seed": 5}),
                 ("TruncatedNormal", {"stddev": 0.2, "seed": 6}), ("GlorotUniform", {}),
                 ("GlorotNormal", {"seed": 7}), ("HeUniform", {}), ("HeNormal", {}),
                 ("LecunUniform", {}), ("LecunNormal", {})]
_REGULARIZERS = [None, ("L1", {"l1": 0.01}), ("L2", {"l2": 0.002}),
                 ("L1L2", {"l1": 0.001, "l2": 0.003})]


@pytest.mark.parametrize("initializer, regularizer",
                         [(i, _REGULARIZERS[n % 4]) for n, i in enumerate(_INITIALIZERS)])
def test_initializers_and_regularizers_keep_their_arguments_both_ways(keras, tmp_path,
                                                                      initializer,
                                                                      regularizer):
    def dense(lib):
        init = getattr(lib.initializers, initializer[0])(**initializer[1])
        reg = None if regularizer is None else \
            getattr(lib.regularizers, regularizer[0])(**regularizer[1])
        return lib.layers.Dense(3, kernel_initializer=init, bias_regularizer=reg)

    def same(a, b):  # Keras keeps regularizer factors as float32
        ca, cb = a.get_config(), b.get_config()
        init_a, init_b = ca["kernel_initializer"], cb["kernel_initializer"]
        assert init_a["class_name"] == init_b["class_name"] == initializer[0]
        assert {k: init_a["config"][k] for k in initializer[1]} == \
            pytest.approx(initializer[1]) == {k: init_b["config"][k] for k in initializer[1]}
        reg_a, reg_b = ca["bias_regularizer"], cb["bias_regularizer"]
        if regularizer is None:
            assert reg_a is None and reg_b is None
        else:
            assert reg_a["class_name"] == reg_b["class_name"] == regularizer[0]
            assert reg_a["config"] == pytest.approx(reg_b["config"])

    theirs = keras.Sequential([keras.Input(shape=(4,)), dense(keras)])
    theirs.save(str(tmp_path / "k.keras"))
    same(fastmlp.models.load_model(str(tmp_path / "k.keras")).layers[0], theirs.layers[0])
    mine = fastmlp.Sequential([fastmlp.Input(shape=(4,)), dense(fastmlp)])
    mine.save(str(tmp_path / "f.keras"))
    same(keras.models.load_model(str(tmp_path / "f.keras")).layers[0], mine.layers[0])


@pytest.mark.parametrize("make", [
    lambda m: [m.Dense(6, use_bias=False), m.Dense(2)],
    lambda m: [m.Dense(6), m.BatchNormalization(center=False), m.Dense(2)],
    lambda m: [m.Dense(6), m.BatchNormalization(scale=False, epsilon=1e-2), m.Dense(2)],
    lambda m: [m.Dropout(0.5), m.Dense(2, activation="sigmoid")],
    lambda m: [m.Rescaling(2.0), m.Dense(3), m.Activation("softmax")],
    lambda m: [m.Dense(4), m.Dense(4), m.Dense(4), m.Dense(2)],  # dense, dense_1, ... paths
], ids=["no_bias", "bn_no_center", "bn_no_scale", "dropout", "rescaling", "many_dense"])
def test_keras_files_of_each_shared_layer_load_and_predict_identically(keras, tmp_path, make):
    x, _ = blobs(n=64, features=5)
    keras.utils.set_random_seed(3)
    theirs = keras.Sequential([keras.Input(shape=(5,)), *make(keras.layers)])
    theirs.compile(optimizer="adam", loss="mse")
    target = np.random.default_rng(0).normal(size=(64, theirs.output_shape[-1]))
    theirs.fit(x, target.astype(np.float32), epochs=1, batch_size=16, verbose=0)
    theirs.save(str(tmp_path / "k.keras"))
    ours = fastmlp.models.load_model(str(tmp_path / "k.keras"))
    _close(ours.predict(x, verbose=0), theirs.predict(x, verbose=0))
    ours.save(str(tmp_path / "f.keras"))
    again = keras.models.load_model(str(tmp_path / "f.keras"))
    _close(again.predict(x, verbose=0), theirs.predict(x, verbose=0))


def _optimizers(O):
    return [O.SGD(0.05), O.SGD(0.05, momentum=0.9, nesterov=True), O.Adam(amsgrad=True),
            O.AdamW(), O.RMSprop(momentum=0.5, centered=True), O.Adagrad(0.05), O.Adamax(),
            O.Nadam(), O.Adam(O.schedules.ExponentialDecay(0.01, 5, 0.9))]


@pytest.mark.parametrize("index", range(9))
def test_optimizer_state_continues_training_identically_both_ways(keras, tmp_path, index):
    """Trained 2 epochs in Keras, continued 2 epochs in each library from the same file (and
    back): the losses agree, so every slot of every optimizer landed where its rule reads it."""
    x, y = blobs(n=128, features=6)
    keras.utils.set_random_seed(4)
    theirs = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(8, "tanh"),
                               keras.layers.BatchNormalization(),
                               keras.layers.Dense(3, "softmax")])
    theirs.compile(optimizer=_optimizers(keras.optimizers)[index],
                   loss="sparse_categorical_crossentropy")
    fit = dict(epochs=2, batch_size=32, shuffle=False, verbose=0)
    theirs.fit(x, y, **fit)
    theirs.save(str(tmp_path / "k.keras"))
    ours = fastmlp.models.load_model(str(tmp_path / "k.keras"))
    np.testing.assert_allclose(ours.fit(x, y, **fit).history["loss"],
                               theirs.fit(x, y, **fit).history["loss"], rtol=2e-5)
    ours.save(str(tmp_path / "f.keras"))
    again = keras.models.load_model(str(tmp_path / "f.keras"))
    np.testing.assert_allclose(again.fit(x, y, **fit).history["loss"],
                               ours.fit(x, y, **fit).history["loss"], rtol=2e-5)
    assert int(again.optimizer.iterations.value) == 24


def test_a_compiled_untrained_model_loads_in_keras_without_skipping_the_optimizer(keras,
                                                                                  tmp_path):
    """Keras builds the optimizer on load and warns when the file's variables differ; the
    file holds the fresh slots (warnings are errors here)."""
    for optimizer in ("adam", fastmlp.optimizers.Adagrad(initial_accumulator_value=0.3)):
        model = classifier(optimizer=optimizer)
        model.save(str(tmp_path / "u.keras"))
        theirs = keras.models.load_model(str(tmp_path / "u.keras"))
        assert int(theirs.optimizer.iterations.value) == 0
        theirs.save(str(tmp_path / "k.keras"))
        assert fastmlp.models.load_model(str(tmp_path / "k.keras")).optimizer.iterations == 0


def test_weights_h5_both_ways(keras, tmp_path):
    x, _ = blobs(n=32)
    ours = classifier()
    theirs = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(16, "relu"),
                               keras.layers.Dense(3, "softmax")])
    ours.save_weights(str(tmp_path / "f.weights.h5"))
    theirs.load_weights(str(tmp_path / "f.weights.h5"))
    _close(theirs.predict(x, verbose=0), ours.predict(x, verbose=0))
    theirs.set_weights([w * 0.5 for w in theirs.get_weights()])
    theirs.save_weights(str(tmp_path / "k.weights.h5"))
    ours.load_weights(str(tmp_path / "k.weights.h5"))
    _close(ours.predict(x, verbose=0), theirs.predict(x, verbose=0))
    theirs.save(str(tmp_path / "k.keras"))
    fresh = classifier(seed=9)
    fresh.load_weights(str(tmp_path / "k.keras"))  # a .keras archive's weights, as Keras
    _close(fresh.predict(x, verbose=0), theirs.predict(x, verbose=0))


def test_to_json_and_model_from_json_both_ways(keras):
    ours = _every_shared_layer(fastmlp, layers)
    ours.compile(optimizer=fastmlp.optimizers.SGD(0.1, momentum=0.5), loss="mse",
                 metrics=["mae"])
    theirs = keras.models.model_from_json(ours.to_json())
    assert [layer.name for layer in theirs.layers] == [layer.name for layer in ours.layers]
    assert theirs.layers[2].units == 16 and theirs.layers[-1].use_bias is False
    assert theirs.compiled and theirs.optimizer.momentum == 0.5
    back = fastmlp.models.model_from_json(theirs.to_json())
    assert back.compiled and back.optimizer.momentum == 0.5 and back.metrics_names[1] == "mae"
    strip = [{**c, "config": {k: v for k, v in c["config"].items() if k != "seed"}}
             for c in ours.get_config()["layers"][2:]]
    assert [{**c, "config": {k: v for k, v in c["config"].items() if k != "seed"}}
            for c in back.get_config()["layers"][2:]] == strip
    fresh = fastmlp.models.model_from_json(ours.to_json(indent=2))
    assert all(not np.array_equal(a, b) for a, b in zip(fresh.get_weights()[:1],
                                                          ours.get_weights()[:1]))


def test_model_from_json_refuses_what_it_cannot_represent():
    ours = classifier()
    text = ours.to_json().replace('"Dense"', '"Conv2D"', 1)
    with pytest.raises(ValueError, match="layer class 'Conv2D' is not one fastmlp has"):
        fastmlp.models.model_from_json(text)
    with pytest.raises(ValueError, match="custom_objects"):
        fastmlp.models.model_from_json(ours.to_json(), custom_objects={"f": print})
    with pytest.raises(TypeError, match="json_string"):
        fastmlp.models.model_from_json({"class_name": "Sequential"})


def test_clone_model_has_fresh_weights_and_the_same_compile_settings():
    x, y = blobs(n=64)
    model = classifier(optimizer=fastmlp.optimizers.Adam(learning_rate=0.01))
    model.fit(x, y, epochs=1, verbose=0)
    clone = fastmlp.models.clone_model(model)
    assert clone is not model and clone.get_config() == model.get_config()
    assert all(not np.array_equal(a, b) for a, b in zip(clone.get_weights()[::2],
                                                          model.get_weights()[::2]))
    assert clone.compiled and clone.optimizer is not model.optimizer
    assert clone.optimizer.iterations == 0 and clone.optimizer.learning_rate == 0.01
    before = model.get_weights()
    clone.fit(x, y, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))


def test_clone_model_arguments():
    model = fastmlp.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dropout(0.1),
                                layers.Dense(2)])
    renamed = fastmlp.models.clone_model(
        model, clone_function=lambda layer: layer.__class__.from_config(
            {**layer.get_config(), "name": layer.name + "_copy"}))
    assert [layer.name for layer in renamed.layers] == \
        [layer.name + "_copy" for layer in model.layers]
    wider = fastmlp.models.clone_model(model, input_tensors=fastmlp.Input(shape=(5,)))
    assert wider.input_shape == (None, 5)
    assert not fastmlp.models.clone_model(fastmlp.Sequential([layers.Dense(2)])).built
    with pytest.raises(ValueError, match="cannot be shared"):
        fastmlp.models.clone_model(model, clone_function=lambda layer: layer)
    with pytest.raises(ValueError, match="`call_function` argument is not supported"):
        fastmlp.models.clone_model(model, call_function=lambda layer, x: layer(x))
    with pytest.raises(ValueError, match="must be a KerasTensor"):
        fastmlp.models.clone_model(model, input_tensors=np.zeros((1, 3)))
    with pytest.raises(ValueError, match="Sequential"):
        fastmlp.models.clone_model("model")


def test_the_keras_reader_knows_exactly_the_classes_fastmlp_deserializes():
    """Its tables come from the modules' public classes; a class added to a module (or to its
    deserializer only) shows here."""
    from fastmlp import initializers, losses, metrics, optimizers, regularizers
    from fastmlp.optimizers import schedules
    from fastmlp.saving import _keras_config
    for kind, module in (("layer", layers), ("initializer", initializers),
                         ("regularizer", regularizers), ("optimizer", optimizers),
                         ("schedule", schedules), ("loss", losses), ("metric", metrics)):
        assert _keras_config._TABLES[kind] == module._CLASSES, kind


def test_fastmlp_files_named_keras_still_load(tmp_path):
    """Before Keras 3's format, `save("m.keras")` wrote fastmlp's ZIP: those files load."""
    from fastmlp.saving import _fastmlp_format
    model = classifier()
    _fastmlp_format.save_model(model, str(tmp_path / "old.keras"), True)
    x, _ = blobs(n=8)
    np.testing.assert_array_equal(fastmlp.models.load_model(str(tmp_path / "old.keras"))
                                  .predict(x, verbose=0), model.predict(x, verbose=0))


def test_what_keras_cannot_represent_is_refused_before_writing(tmp_path):
    model = fastmlp.Sequential([fastmlp.Input(shape=(3,)),
                                layers.Dense(2, activation="gelu_tanh")])
    with pytest.raises(ValueError, match="'gelu_tanh' .* has no Keras 3 name"):
        model.save(str(tmp_path / "m.keras"))
    assert list(tmp_path.iterdir()) == []
    model.save(str(tmp_path / "m.fastmlp"))  # fastmlp's own format holds it


def test_without_h5py_keras_files_name_the_extra(tmp_path, monkeypatch):
    model = classifier()
    model.save(str(tmp_path / "m.keras"))
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now raises ImportError
    for call in (lambda: model.save(str(tmp_path / "n.keras")),
                 lambda: model.save_weights(str(tmp_path / "n.weights.h5")),
                 lambda: fastmlp.models.load_model(str(tmp_path / "m.keras"))):
        with pytest.raises(ImportError, match=r"needs h5py.*pip install 'fastmlp\[keras\]'"):
            call()
    model.save(str(tmp_path / "m.fastmlp"))
    assert sorted(os.listdir(tmp_path)) == ["m.fastmlp", "m.keras"]
