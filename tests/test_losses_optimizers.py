import numpy as np
import pytest

import fastmlp
from fastmlp import activations, initializers, losses, optimizers


def test_loss_objects_reduce_like_keras():
    t = np.array([[0.0], [1.0]])
    p = np.array([[1.0], [3.0]])
    assert losses.MeanSquaredError()(t, p) == pytest.approx(2.5)
    assert losses.MeanSquaredError(reduction="sum")(t, p) == pytest.approx(5.0)
    np.testing.assert_allclose(losses.MeanSquaredError(reduction="none")(t, p), [1.0, 4.0])
    assert losses.MeanAbsoluteError()(t, p, sample_weight=[1.0, 0.0]) == pytest.approx(0.5)
    assert losses.Huber(delta=1.0)(t, p) == pytest.approx((0.5 + 1.5) / 2)


def test_crossentropies_against_torch_formulas():
    torch = pytest.importorskip("torch", reason="torch gives the reference cross-entropy")
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(16, 5))
    y = rng.integers(0, 5, 16)
    ref = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(y)).item()
    assert losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits) == \
        pytest.approx(ref, rel=1e-5)
    ref_ls = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(y),
                                               label_smoothing=0.1).item()
    cce = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    assert cce(np.eye(5)[y], logits) == pytest.approx(ref_ls, rel=1e-5)
    z = rng.normal(size=(16, 1))
    t = rng.integers(0, 2, (16, 1)).astype(float)
    ref_b = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(z),
                                                                 torch.tensor(t)).item()
    assert losses.BinaryCrossentropy(from_logits=True)(t, z) == pytest.approx(ref_b, rel=1e-5)


def test_loss_names_aliases_and_specs():
    assert losses.get("mse").to_spec()["name"] == "mean_squared_error"
    assert losses.get("MAE").name == "mean_absolute_error"
    assert losses.get(losses.categorical_crossentropy).to_spec()["name"] == \
        "categorical_crossentropy"
    spec = losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2).to_spec()
    assert spec == {"name": "binary_crossentropy", "from_logits": True, "label_smoothing": 0.2,
                    "delta": 1.0}
    assert losses.Huber(delta=2.0).to_spec()["delta"] == 2.0
    clone = losses.deserialize(losses.serialize(losses.Huber(delta=3.0)))
    assert isinstance(clone, losses.Huber) and clone.delta == 3.0


@pytest.mark.parametrize("cls, defaults", [
    (optimizers.SGD, {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}),
    (optimizers.Adam, {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
                       "amsgrad": False}),
    (optimizers.AdamW, {"learning_rate": 0.001, "weight_decay": 0.004}),
    (optimizers.RMSprop, {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0,
                          "centered": False}),
    (optimizers.Adagrad, {"learning_rate": 0.001, "initial_accumulator_value": 0.1}),
    (optimizers.Adamax, {"learning_rate": 0.001, "beta_1": 0.9}),
    (optimizers.Nadam, {"learning_rate": 0.001, "beta_2": 0.999}),
])
def test_optimizer_keras_defaults_and_config_round_trip(cls, defaults):
    opt = cls()
    config = opt.get_config()
    for k, v in defaults.items():
        assert config[k] == pytest.approx(v)
    clone = optimizers.deserialize(optimizers.serialize(opt))
    assert type(clone) is cls and clone.get_config() == config
    assert opt.to_spec()["name"] == cls.__name__.lower()


def test_optimizer_validation_and_lookup():
    with pytest.raises(ValueError, match="beta_1"):
        optimizers.Adam(beta_1=1.5)
    with pytest.raises(ValueError, match="clipnorm"):
        optimizers.SGD(clipnorm=1.0, global_clipnorm=1.0)
    assert isinstance(optimizers.get("rmsprop"), optimizers.RMSprop)
    spec = optimizers.SGD(clipvalue=0.5).to_spec()
    assert spec["clipvalue"] == 0.5 and spec["clipnorm"] is None


def test_schedules_compute_keras_values():
    s = optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert s(20) == pytest.approx(0.025)
    st = optimizers.schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True)
    assert st(15) == pytest.approx(0.05)
    assert optimizers.schedules.InverseTimeDecay(1.0, 1, 1.0)(3) == pytest.approx(0.25)
    pc = optimizers.schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [pc(5), pc(10), pc(15), pc(25)] == [1.0, 1.0, 0.5, 0.1]
    cd = optimizers.schedules.CosineDecay(1.0, 100, alpha=0.1)
    assert cd(0) == pytest.approx(1.0) and cd(100) == pytest.approx(0.1)
    assert cd(50) == pytest.approx(0.55)
    assert s.to_spec()["name"] == "exponential_decay"


def test_initializers_by_name_and_config():
    assert isinstance(initializers.get("he_normal"), initializers.HeNormal)
    assert isinstance(initializers.get("GlorotUniform"), initializers.GlorotUniform)
    assert initializers.RandomNormal(stddev=0.1, seed=2).to_spec() == {
        "name": "random_normal", "mean": 0.0, "stddev": 0.1, "seed": 2}
    assert initializers.Constant(3.0).to_spec()["value"] == 3.0
    with pytest.raises(ValueError, match="initializer"):
        initializers.get("nope")


def test_activation_functions_on_arrays():
    x = np.array([[-2.0, -0.5, 0.0, 1.5]])
    np.testing.assert_allclose(activations.relu(x), np.maximum(x, 0))
    np.testing.assert_allclose(activations.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(activations.tanh(x), np.tanh(x), rtol=1e-6)
    np.testing.assert_allclose(activations.leaky_relu(x), np.where(x > 0, x, 0.2 * x),
                               rtol=1e-6)
    sm = activations.softmax(x)
    np.testing.assert_allclose(sm.sum(), 1.0, rtol=1e-6)
    assert activations.relu(np.array([-1.0, 2.0])).shape == (2,)
    assert activations.get("swish") is activations.silu


@pytest.mark.parametrize("make", [
    lambda v: losses.BinaryCrossentropy(from_logits=v),
    lambda v: losses.CategoricalCrossentropy(from_logits=v),
    lambda v: losses.SparseCategoricalCrossentropy(from_logits=v),
    lambda v: losses.binary_crossentropy([[1.0]], [[0.5]], from_logits=v),
    lambda v: losses.categorical_crossentropy([[0.0, 1.0]], [[0.5, 0.5]], from_logits=v),
    lambda v: losses.sparse_categorical_crossentropy([1], [[0.5, 0.5]], from_logits=v)],
    ids=["BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
         "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_from_logits_must_be_a_bool(make):
    """Any value was taken for True: from_logits="no" computed a loss on logits."""
    for bad in ("no", "False", None, 2, 0.5, [True]):
        with pytest.raises(ValueError, match=r"Received an invalid value for `from_logits`, "
                                             r"expected True or False. Received: from_logits="):
            make(bad)
    for good in (True, False, np.bool_(True), 0, 1):
        make(good)
    assert losses.BinaryCrossentropy(from_logits=np.bool_(True)).from_logits is True


def test_constant_takes_an_array_of_one_value_as_keras():
    """TensorFlow's imbalanced-data tutorial passes Constant(np.log([pos / neg])); float() of
    a 1-element array failed (NumPy 2: only 0-d arrays convert)."""
    bias = np.log([0.25])
    assert initializers.Constant(bias).get_config() == {"value": float(bias[0])}
    layer = fastmlp.layers.Dense(1, bias_initializer=initializers.Constant(bias))
    fastmlp.Sequential([fastmlp.Input(shape=(3,)), layer])
    np.testing.assert_array_equal(layer.get_weights()[1], np.float32(bias))
    with pytest.raises(ValueError, match=r"`value` must be a number or an array of one number"
                                         r".*shape \(2,\)"):
        initializers.Constant([1.0, 2.0])
    with pytest.raises(TypeError, match="`value` must hold a number"):
        initializers.Constant("one")
