import io
import time

import numpy as np
import pytest

import fastmlp
from fastmlp import layers
from fastmlp.models import sequential


def make(units=(4, 3), features=5, **kw):
    return fastmlp.Sequential([fastmlp.Input(shape=(features,))] +
                              [layers.Dense(u, **kw) for u in units])


def test_built_from_input_and_weight_shapes_in_keras_order():
    model = make()
    assert model.built
    assert [w.shape for w in model.get_weights()] == [(5, 4), (4,), (4, 3), (3,)]
    assert model.count_params() == 5 * 4 + 4 + 4 * 3 + 3
    assert [v.path for v in model.weights] == [
        f"{model.layers[0].name}/kernel", f"{model.layers[0].name}/bias",
        f"{model.layers[1].name}/kernel", f"{model.layers[1].name}/bias"]


def test_input_shape_argument_of_first_layer_builds_too():
    model = fastmlp.Sequential([layers.Dense(2, input_shape=(3,))])
    assert model.built and model.input_shape == (None, 3)
    assert fastmlp.Sequential([layers.Dense(2, input_dim=6)]).input_shape == (None, 6)


def test_deferred_build_on_first_data():
    model = fastmlp.Sequential([layers.Dense(2)])
    assert not model.built
    with pytest.raises(ValueError, match="isn't built"):
        model.count_params()
    out = model.predict(np.ones((3, 7), np.float32), verbose=0)
    assert out.shape == (3, 2) and model.built and model.input_shape == (None, 7)


def test_add_and_pop_keep_existing_weights():
    model = make()
    first = model.layers[0].get_weights()
    model.pop()
    assert len(model.layers) == 1 and model.output_shape == (None, 4)
    model.add(layers.Dense(6))
    assert model.output_shape == (None, 6)
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], first[0])


def test_add_rejects_non_layers_and_misplaced_inputs():
    model = make()
    with pytest.raises(ValueError, match="Only instances"):
        model.add("dense")
    with pytest.raises(ValueError, match="first layer"):
        model.add(fastmlp.Input(shape=(3,)))


def test_set_weights_round_trip_and_shape_errors():
    model = make()
    new = [np.full(w.shape, i, np.float32) for i, w in enumerate(model.get_weights())]
    model.set_weights(new)
    for a, b in zip(model.get_weights(), new):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="shape"):
        model.set_weights([np.zeros((2, 2))] + new[1:])
    with pytest.raises(ValueError, match="length"):
        model.set_weights(new[:2])


def test_layer_level_weights_and_variables():
    model = make()
    dense = model.layers[1]
    dense.set_weights([np.ones((4, 3)), np.zeros(3)])
    np.testing.assert_array_equal(dense.kernel.numpy(), np.ones((4, 3), np.float32))
    dense.bias.assign(np.arange(3))
    np.testing.assert_array_equal(model.get_weights()[3], np.arange(3, dtype=np.float32))


def test_call_and_predict_agree_with_numpy_forward():
    model = make(activation="relu")
    x = np.random.default_rng(0).normal(size=(10, 5)).astype(np.float32)
    w = model.get_weights()
    h = np.maximum(x @ w[0] + w[1], 0)
    expected = np.maximum(h @ w[2] + w[3], 0)
    np.testing.assert_allclose(model(x), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x[:1]), expected[:1], rtol=1e-5,
                               atol=1e-6)


def test_predict_accepts_lists_float64_fortran_and_views():
    model = make()
    x = np.random.default_rng(1).normal(size=(6, 5))
    ref = model.predict(x.astype(np.float32), verbose=0)
    for variant in (x.tolist(), x, np.asfortranarray(x), np.repeat(x, 2, axis=0)[::2]):
        np.testing.assert_allclose(model.predict(variant, verbose=0), ref, rtol=1e-6)


def test_flatten_reshapes_image_input_without_copy_semantics_changing_results():
    model = fastmlp.Sequential([fastmlp.Input(shape=(2, 3)), layers.Flatten(),
                                layers.Dense(2)])
    x = np.random.default_rng(2).normal(size=(4, 2, 3)).astype(np.float32)
    w = model.get_weights()
    np.testing.assert_allclose(model.predict(x, verbose=0), x.reshape(4, 6) @ w[0] + w[1],
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(None, 2, 3\)"):
        model.predict(np.ones((4, 3, 2), np.float32), verbose=0)


def test_dense_after_image_input_without_flatten_is_a_clear_error():
    with pytest.raises(ValueError, match="Flatten"):
        fastmlp.Sequential([fastmlp.Input(shape=(4, 4)), layers.Dense(2)])


def test_summary_table_and_parameter_counts():
    model = fastmlp.Sequential([fastmlp.Input(shape=(784,)), layers.Dense(64, activation="relu"),
                                layers.BatchNormalization(), layers.Dropout(0.1),
                                layers.Dense(10)], name="mnist")
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert lines[0] == 'Model: "mnist"'
    assert "Layer (type)" in text and "Output Shape" in text and "Param #" in text
    assert "(None, 64)" in text and "(None, 10)" in text
    assert "50,240" in text and "256" in text and "650" in text
    trainable = 50240 + 128 + 650
    assert f" Total params: {trainable + 128:,}" in text
    assert f" Trainable params: {trainable:,} (" in text
    assert " Non-trainable params: 128 (512.00 B)" in text
    assert model.count_params() == trainable + 128


def test_summary_of_an_unbuilt_model_lists_its_layers_as_keras_3():
    """Keras 3 prints "?" and "0 (unbuilt)" (tutorials call summary() before fit); it raised."""
    model = fastmlp.Sequential([layers.Dense(4), layers.Dropout(0.1), layers.Dense(1)],
                               name="later")
    lines = []
    model.summary(print_fn=lines.append, show_trainable=True)
    rows = [line for line in lines if "(Dense)" in line or "(Dropout)" in line]
    assert [[c.strip() for c in row.split("│")[2:5]] for row in rows] == \
        [["?", "0 (unbuilt)", "Y"], ["?", "0 (unbuilt)", "-"], ["?", "0 (unbuilt)", "Y"]]
    assert lines[-3:] == [" Total params: 0 (0.00 B)", " Trainable params: 0 (0.00 B)",
                          " Non-trainable params: 0 (0.00 B)"]
    assert not model.built


def test_summary_falls_back_to_ascii_on_narrow_encodings(monkeypatch):
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr("sys.stdout", stream)
    make().summary()
    stream.flush()
    text = stream.buffer.getvalue().decode("ascii")
    assert "Total params: 39 (156.00 B)" in text


def test_get_config_from_config_rebuilds_the_architecture():
    model = make(activation="tanh")
    clone = fastmlp.Sequential.from_config(model.get_config())
    assert clone.get_config()["layers"][1:] == model.get_config()["layers"][1:]
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in model.get_weights()]


def test_duplicate_layer_names_are_rejected():
    with pytest.raises(ValueError, match="unique names"):
        fastmlp.Sequential([layers.Dense(2, name="a"), layers.Dense(2, name="a")])


# ---- building stays linear in the number of layers (issue 16) ----------------------------------
def _seconds(build, n):
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        build(n)
        best = min(best, time.perf_counter() - started)
    return best


def _from_list(n):
    return fastmlp.Sequential([fastmlp.Input(shape=(2,))] + [layers.Dense(1) for _ in range(n)])


def _by_add(n):
    model = fastmlp.Sequential([fastmlp.Input(shape=(2,)), layers.Dense(1)])
    for _ in range(n):
        model.add(layers.Dense(1))
    model.predict(np.ones((1, 2), np.float32), verbose=0)  # the core is built here, once
    return model


@pytest.mark.parametrize("build", [_from_list, _by_add], ids=["list", "add"])
def test_building_time_is_linear_in_the_number_of_layers(build):
    """Four times the layers, about four times the time (the name check of every add rescanned
    all layers, and add rebuilt the core with per-layer weight copies: 1000 adds took 13 s)."""
    small, large = _seconds(build, 500), _seconds(build, 2000)
    assert large < 8 * small + 0.05, (small, large)


def test_adds_to_a_built_model_build_the_core_once_on_first_use(monkeypatch):
    model = make()
    kept = model.get_weights()
    built = []
    real = sequential._core.Model
    monkeypatch.setattr(sequential._core, "Model", lambda *a: built.append(1) or real(*a))
    for units in (5, 6, 7):
        model.add(layers.Dense(units))
    assert model.built and built == [] and model.output_shape == (None, 7)
    assert [w.shape for w in model.get_weights()][-2:] == [(6, 7), (7,)] and built == [1]
    for a, b in zip(model.get_weights(), kept):
        np.testing.assert_array_equal(a, b)
    model.pop()
    assert model.layers[-1].get_weights()[0].shape == (5, 6) and built == [1, 1]


def test_add_refuses_a_layer_the_model_cannot_take_and_keeps_the_model():
    """The refused layer used to stay in the model, which was left unbuilt."""
    model = fastmlp.Sequential([fastmlp.Input(shape=(4, 3)), layers.Rescaling(0.5)])
    with pytest.raises(ValueError, match="expects flat inputs"):
        model.add(layers.Dense(2))
    assert len(model.layers) == 1 and model.built
    model.add(layers.Flatten())
    model.add(layers.Dense(2))
    before = model.get_weights()
    with pytest.raises(ValueError, match="more than the supported maximum"):
        model.add(layers.Dense(2**31))
    assert len(model.layers) == 3
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    model.add(layers.Dense(3))
    assert model.predict(np.ones((1, 4, 3), np.float32), verbose=0).shape == (1, 3)
