"""A model's state through public methods (issue 18): Keras 3's get/compile_from_config and
get/build_from_config, get/set_training_state, and per-tensor reads that do not copy the model."""

import ast
import json
import pathlib
import re

import numpy as np
import pytest

import fastmlp
from fastmlp import layers, metrics, optimizers

from _mlp_helpers import blobs

PACKAGE = pathlib.Path(fastmlp.__file__).parent


def _zero_metric(y_true, y_pred):
    return np.zeros(len(y_pred))


def _net(seed=3, name=None):
    fastmlp.utils.set_random_seed(seed)
    return fastmlp.Sequential([fastmlp.Input(shape=(8,)), layers.Dense(16, activation="relu"),
                               layers.BatchNormalization(), layers.Dropout(0.3),
                               layers.Dense(3, activation="softmax")], name=name)


def _compiled(seed=3):
    model = _net(seed)
    model.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", metrics.AUC(name="my_auc"), _zero_metric])
    return model


# ---- compile config ----------------------------------------------------------------------------
def test_compile_config_round_trips_through_a_fresh_model():
    model = _compiled()
    config = model.get_compile_config()
    assert config["optimizer"]["class_name"] == "Adam"
    assert config["loss"]["class_name"] == "SparseCategoricalCrossentropy"
    # Names and fastmlp objects as configs; a user function as itself (it cannot be stored).
    assert config["metrics"][:2] == ["accuracy", {"class_name": "AUC", "config": {
        "name": "my_auc", "num_thresholds": 200, "from_logits": False}}]
    assert config["metrics"][2] is _zero_metric
    json.dumps({**config, "metrics": config["metrics"][:2]})
    twin = _net()
    twin.compile_from_config(config)
    assert twin.metrics_names == model.metrics_names == ["loss", "accuracy", "my_auc",
                                                         "_zero_metric"]
    assert isinstance(twin.optimizer, optimizers.Adam) and twin.optimizer is not model.optimizer
    assert float(twin.optimizer.learning_rate) == pytest.approx(0.01)
    x, y = blobs(n=64)
    assert twin.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def test_an_uncompiled_model_has_an_empty_compile_config():
    assert _net().get_compile_config() == {}


@pytest.mark.parametrize("config", [None, "adam", {"loss": "mse"}, {"optimizer": "adam"}])
def test_compile_from_config_refuses_what_get_compile_config_cannot_return(config):
    with pytest.raises(ValueError, match="Received an invalid value for `config`"):
        _net().compile_from_config(config)


# ---- build config ------------------------------------------------------------------------------
def test_build_config_round_trips():
    unbuilt = fastmlp.Sequential([layers.Dense(4), layers.Dense(1)])
    assert unbuilt.get_build_config() is None
    unbuilt.build_from_config(None)
    assert not unbuilt.built
    built = _net()
    assert built.get_build_config() == {"input_shape": (None, 8)}
    unbuilt.build_from_config({"input_shape": [None, 6]})
    assert unbuilt.built and unbuilt.get_build_config() == {"input_shape": (None, 6)}
    with pytest.raises(ValueError, match="`config`"):
        fastmlp.Sequential([layers.Dense(1)]).build_from_config({"shape": (None, 2)})


# ---- training state ----------------------------------------------------------------------------
def test_training_state_is_what_fit_continues_from():
    """A fresh model given the config, weights, compile config and training state of a trained
    one continues training bit for bit like it (Dropout masks, shuffle order, Adam moments)."""
    x, y = blobs(n=96)
    model = _compiled()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    state = model.get_training_state()
    assert state["epochs_seen"] == 2 and state["training_step"] == 12
    assert state["optimizer"]["iterations"] == 12 and len(state["optimizer"]["slots"]) == 12
    assert state["training_input"]["shape"] == [8]
    assert model.get_training_state(include_optimizer=False)["optimizer"] is None

    twin = fastmlp.Sequential.from_config(model.get_config())
    twin.set_weights(model.get_weights())
    twin.compile_from_config(model.get_compile_config())
    twin.set_training_state(state)
    after = twin.get_training_state()
    for key in ("shuffle_seed", "epochs_seen", "training_step", "training_input"):
        assert after[key] == state[key]
    for m in (model, twin):
        m.fit(x, y, epochs=4, initial_epoch=2, batch_size=16, verbose=0)
    for a, b in zip(twin.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_training_state_of_unbuilt_and_uncompiled_models():
    unbuilt = fastmlp.Sequential([layers.Dense(2)])
    assert unbuilt.get_training_state() == {"shuffle_seed": 0, "epochs_seen": 0,
                                            "training_step": 0, "optimizer": None,
                                            "training_input": None}
    unbuilt.set_training_state({"shuffle_seed": 0, "epochs_seen": 3, "training_step": 5})
    assert unbuilt.get_training_state()["epochs_seen"] == 3
    built = _net()
    seed = built.get_training_state()["shuffle_seed"]
    assert seed > 0
    built.set_training_state({"shuffle_seed": 0})  # 0 (an unbuilt model's) keeps the seed
    assert built.get_training_state()["shuffle_seed"] == seed
    with pytest.raises(ValueError, match="must be built and compiled"):
        built.set_training_state({"optimizer": {"iterations": 1, "slots": []}})


@pytest.mark.parametrize("state, name", [
    ([1], "state"), ({"epochs_seen": -1}, "state['epochs_seen']"),
    ({"training_step": 1.5}, "state['training_step']"), ({"shuffle_seed": True},
                                                           "state['shuffle_seed']"),
    ({"training_input": [0, 1]}, "state['training_input']"),
    ({"optimizer": {"slots": []}}, "state['optimizer']")])
def test_set_training_state_checks_its_argument(state, name):
    model = _net()
    before = model.get_training_state()
    with pytest.raises(ValueError, match=f"Received an invalid value for `{re.escape(name)}`"):
        model.set_training_state(state)
    assert model.get_training_state() == before  # nothing half-applied


# ---- saving is a client of these ---------------------------------------------------------------
@pytest.mark.parametrize("module", sorted(f"saving/{p.name}" for p in (PACKAGE / "saving")
                                           .glob("*.py")) + ["_serialization.py",
                                                             "_file_checks.py"])
def test_saving_reads_no_private_attribute(module):
    """The file formats go through the model's public methods only (no ``model._core``...)."""
    tree = ast.parse((PACKAGE / module).read_text())
    private = sorted({f"{ast.unparse(node.value)}.{node.attr} (line {node.lineno})"
                      for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                      and node.attr.startswith("_") and not node.attr.endswith("__")})
    assert private == []


# ---- per-tensor reads ----------------------------------------------------------------------
class _CountingCore:
    """Wraps a core model and counts the values each method copies out."""

    def __init__(self, core):
        self._core, self.copied, self.calls = core, 0, {}

    def __getattr__(self, name):
        attr = getattr(self._core, name)
        if not callable(attr):
            return attr

        def counted(*args, **kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            out = attr(*args, **kwargs)
            arrays = out if isinstance(out, list) else [out]
            self.copied += sum(a.size for a in arrays if isinstance(a, np.ndarray))
            return out
        return counted


def _deep(n_layers):
    fastmlp.utils.set_random_seed(0)
    return fastmlp.Sequential([fastmlp.Input(shape=(4,))] +
                              [layers.Dense(4) for _ in range(n_layers)])


def test_reading_one_layer_copies_that_layer_only():
    """Reading one layer of a 200-layer model copied all 200 layers' weights (get_weights of the
    whole core); summary() and Variable.shape did too."""
    model = _deep(200)
    expected = model.get_weights()
    counter = model._core_model = _CountingCore(model._core_model)
    layer = model.layers[150]
    kernel, bias = layer.get_weights()
    np.testing.assert_array_equal(kernel, expected[300])
    np.testing.assert_array_equal(bias, expected[301])
    assert counter.copied == 4 * 4 + 4 and "get_weights" not in counter.calls
    assert layer.kernel.shape == (4, 4) and layer.bias.shape == (4,)
    assert layer.count_params() == 20 and model.count_params() == 200 * 20
    lines = []
    model.summary(print_fn=lines.append)
    assert " Total params: 4,000 (15.62 KB)" in lines
    assert counter.copied == 20 and "get_weights" not in counter.calls


def test_per_tensor_reads_match_get_weights():
    model = _net()
    core, weights = model._core, model.get_weights()
    assert core.num_tensors == len(weights)
    assert core.tensor_shapes() == [w.shape for w in weights]
    for i, w in enumerate(weights):
        assert core.tensor_shape(i) == w.shape
        copy = core.get_tensor(i)
        np.testing.assert_array_equal(copy, w)
        copy += 1  # a copy: the model is unchanged
    np.testing.assert_array_equal(model.get_weights()[0], weights[0])
    for bad in (-1, len(weights)):
        with pytest.raises(IndexError, match="out of range: the model has 8 tensors"):
            core.get_tensor(bad)
        with pytest.raises(IndexError, match="out of range"):
            core.tensor_shape(bad)
