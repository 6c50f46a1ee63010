"""pickle and copy.deepcopy of models (issue 16), as Keras 3 models allow: through the .fastmlp
format in memory, so a copy has the same weights (bit-identical predictions), optimizer state and
compile settings, and the bytes are checked like a file on loading."""

import copy
import pickle
import warnings

import numpy as np
import pytest

import fastmlp
from fastmlp import layers, optimizers

from _mlp_helpers import blobs


def _trained():
    x, y = blobs(n=120)
    fastmlp.utils.set_random_seed(1)
    model = fastmlp.Sequential([fastmlp.Input(shape=(8,)), layers.Dense(16, activation="relu"),
                                layers.BatchNormalization(), layers.Dropout(0.3),
                                layers.Dense(3, activation="softmax")], name="net")
    model.compile(optimizer=optimizers.Adam(
        learning_rate=optimizers.schedules.ExponentialDecay(0.01, 5, 0.5)),
        loss="sparse_categorical_crossentropy", metrics=["accuracy", fastmlp.metrics.AUC()])
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    return model, x, y


def _pickled(model):
    return pickle.loads(pickle.dumps(model))


@pytest.mark.parametrize("copier", [_pickled, copy.deepcopy, copy.copy],
                         ids=["pickle", "deepcopy", "copy"])
def test_a_copy_predicts_and_trains_on_identically(copier):
    model, x, y = _trained()
    twin = copier(model)
    assert twin is not model and twin.name == "net"
    np.testing.assert_array_equal(twin.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(twin.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert twin.optimizer.iterations == model.optimizer.iterations > 0
    assert type(twin.optimizer._lr) is type(model.optimizer._lr)
    assert twin.metrics_names == model.metrics_names
    for a, b in zip(twin._core.get_optimizer_state()[1], model._core.get_optimizer_state()[1]):
        np.testing.assert_array_equal(a, b)
    assert twin._training_input == model._training_input
    # Dropout masks and the shuffle order continue from the same step.
    for m in (model, twin):
        m.fit(x, y, epochs=4, initial_epoch=2, batch_size=16, verbose=0)
    for a, b in zip(twin.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert twin.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def test_uncompiled_and_unbuilt_models_copy():
    built = fastmlp.Sequential([fastmlp.Input(shape=(3,)), layers.Dense(2)])
    twin = _pickled(built)
    assert twin.built and not twin.compiled
    np.testing.assert_array_equal(twin.get_weights()[0], built.get_weights()[0])
    unbuilt = fastmlp.Sequential([layers.Dense(4, activation="relu"), layers.Dense(1)])
    unbuilt.compile(optimizer="sgd", loss="mse")
    for twin in (_pickled(unbuilt), copy.deepcopy(unbuilt)):
        assert not twin.built and twin.compiled and len(twin.layers) == 2
        assert [layer.name for layer in twin.layers] == [layer.name for layer in unbuilt.layers]
        x = np.ones((5, 6), np.float32)
        twin.fit(x, np.zeros((5, 1), np.float32), epochs=1, verbose=0)
        assert twin.input_shape == (None, 6) and isinstance(twin.optimizer, optimizers.SGD)


def test_custom_metric_functions_survive_copies_without_a_warning():
    model, x, y = _trained()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", _zero_metric])
    model.fit(x, y, epochs=1, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        copies = [copy.deepcopy(model), _pickled(model)]
    for twin in copies:
        assert twin.metrics_names == ["loss", "accuracy", "_zero_metric"]
        assert twin.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def _zero_metric(y_true, y_pred):
    return np.zeros(len(y_pred))


def test_pickled_bytes_are_the_file_format_and_are_checked_on_loading():
    model, _, _ = _trained()
    data = pickle.dumps(model)
    assert b"fastmlp.json" in data and b"manifest.json" in data
    tampered = data.replace(b'"format": "fastmlp"', b'"format": "pickle!"')
    with pytest.raises(ValueError, match="Cannot load '<in-memory model>': the file is damaged .*CRC"):
        pickle.loads(tampered)


@pytest.mark.parametrize("kind", ["MLPClassifier", "MLPRegressor"])
def test_sklearn_estimators_pickle_copy_and_clone(kind):
    pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    from fastmlp import sklearn as fsk
    x, y = blobs(n=80)
    est = getattr(fsk, kind)(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(x, y)
        for twin in (_pickled(est), copy.deepcopy(est)):
            np.testing.assert_array_equal(twin.predict(x), est.predict(x))
            twin.partial_fit(x, y)
        fresh = clone(est)
    assert fresh.get_params() == est.get_params() and not hasattr(fresh, "coefs_")
