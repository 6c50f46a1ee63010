import numpy as np
import pytest

import fastmlp
from fastmlp import initializers, layers, regularizers


@pytest.mark.parametrize("units", [0, -3, 2.5, "8", True])
def test_dense_rejects_bad_units_with_keras_message(units):
    with pytest.raises(ValueError, match=r"Received an invalid value for `units`, expected a "
                                         r"positive integer. Received: units="):
        layers.Dense(units)


def test_dense_message_is_exactly_keras():
    with pytest.raises(ValueError) as e:
        layers.Dense(0)
    assert str(e.value) == ("Received an invalid value for `units`, expected a positive integer."
                            " Received: units=0")


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rate_is_checked(rate):
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(rate)


def test_unknown_activation_names_the_valid_ones():
    with pytest.raises(ValueError, match="relu"):
        layers.Dense(4, activation="relux")


def test_custom_activation_function_is_rejected_clearly():
    with pytest.raises(ValueError, match="Custom activation"):
        layers.Dense(4, activation=lambda x: x)


def test_activation_accepts_functions_and_names():
    a = layers.Dense(4, activation=fastmlp.activations.relu)
    b = layers.Dense(4, activation="relu")
    assert a.to_spec()["activation"] == b.to_spec()["activation"] == "relu"
    assert layers.Dense(2, activation="leaky_relu").to_spec()["activation_param"] == 0.2
    assert layers.Dense(2, activation="swish").to_spec()["activation"] == "silu"
    assert layers.Dense(2).to_spec()["activation"] == "linear"


def test_unsupported_arguments_fail_instead_of_being_ignored():
    with pytest.raises(ValueError, match="kernel_constraint"):
        layers.Dense(3, kernel_constraint="max_norm")
    with pytest.raises(TypeError, match="unrecognized"):
        layers.Dense(3, foo=1)


def test_dense_spec_carries_initializers_regularizers_and_seeds():
    spec = layers.Dense(5, kernel_initializer=initializers.HeNormal(seed=3),
                        kernel_regularizer=regularizers.L2(1e-3), use_bias=False).to_spec()
    assert spec["kernel_initializer"] == {"name": "he_normal", "seed": 3}
    assert spec["kernel_regularizer"] == {"l1": 0.0, "l2": 1e-3}
    assert spec["use_bias"] is False
    unseeded = layers.Dense(5).to_spec()["kernel_initializer"]
    assert unseeded["name"] == "glorot_uniform" and isinstance(unseeded["seed"], int)


def test_seeds_follow_set_random_seed():
    fastmlp.utils.set_random_seed(11)
    a = layers.Dense(3).to_spec()["kernel_initializer"]["seed"]
    fastmlp.utils.set_random_seed(11)
    b = layers.Dense(3).to_spec()["kernel_initializer"]["seed"]
    c = layers.Dense(3).to_spec()["kernel_initializer"]["seed"]
    assert a == b and b != c


def test_layer_names_are_unique_per_class():
    a, b = layers.Dense(2), layers.Dense(2)
    assert a.name != b.name and a.name.startswith("dense") and b.name.startswith("dense")


def test_config_round_trip_for_every_layer():
    for layer in [layers.Dense(7, activation="tanh", kernel_regularizer=regularizers.L1L2(1e-4,
                                                                                           2e-4)),
                  layers.Activation("softmax"), layers.Dropout(0.3, seed=4),
                  layers.BatchNormalization(momentum=0.9, center=False),
                  layers.Rescaling(1 / 255, offset=-0.5), layers.Flatten()]:
        clone = layers.deserialize(layers.serialize(layer))
        assert type(clone) is type(layer)
        assert clone.get_config() == layer.get_config()


def test_deserialize_refuses_unknown_classes():
    with pytest.raises(ValueError, match="Unknown layer class"):
        layers.deserialize({"class_name": "Lambda", "config": {}})


def test_output_shapes_and_flatten():
    assert layers.Flatten().compute_output_shape((None, 28, 28)) == (None, 784)
    assert layers.Dense(3).compute_output_shape((None, 9)) == (None, 3)
    with pytest.raises(ValueError, match="Flatten"):
        layers.Dense(3).compute_output_shape((None, 28, 28))


def test_input_gives_a_symbolic_batch():
    t = layers.Input(shape=(28, 28))
    assert t.shape == (None, 28, 28)
    with pytest.raises(ValueError, match="shape"):
        layers.Input(shape=(0,))
    assert fastmlp.Input is layers.Input


def test_batchnorm_weight_names_follow_center_and_scale():
    assert [n for n, _ in layers.BatchNormalization().weight_names()] == [
        "gamma", "beta", "moving_mean", "moving_variance"]
    assert [n for n, t in layers.BatchNormalization(scale=False).weight_names() if t] == ["beta"]


def test_regularizers_compute_penalties():
    w = np.array([[1.0, -2.0]])
    assert regularizers.L1(0.5)(w) == pytest.approx(1.5)
    assert regularizers.L2(0.1)(w) == pytest.approx(0.5)
    assert regularizers.get("l1_l2").get_config() == {"l1": 0.0, "l2": 0.0}
    with pytest.raises(ValueError, match="l2"):
        regularizers.L2(-1.0)


def test_keras_lowercase_aliases_and_clear_session():
    assert isinstance(regularizers.l2(1e-3), regularizers.L2)
    assert isinstance(initializers.he_normal(seed=1), initializers.HeNormal)
    fastmlp.utils.clear_session()
    assert layers.Dense(1).name == "dense"
    assert layers.Dense(1).name == "dense_1"
