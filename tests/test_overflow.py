"""Large but finite values (issue 16): no optimizer turns finite gradients into NaN, and a batch
whose loss or gradients overflow the float32 range is not applied: fit raises FloatingPointError
naming the epoch and the batch and keeps the weights of the last good step (with TerminateOnNaN
it stops training as Keras does, without an error)."""

import numpy as np
import pytest

import fastmlp
from fastmlp import _core, callbacks, layers

OPTIMIZERS = {
    "adam": {"name": "adam"}, "adam_amsgrad": {"name": "adam", "amsgrad": True},
    "adamw": {"name": "adamw"}, "nadam": {"name": "nadam"}, "adamax": {"name": "adamax"},
    "rmsprop": {"name": "rmsprop"}, "rmsprop_centered": {"name": "rmsprop", "centered": True},
    "rmsprop_centered_momentum": {"name": "rmsprop", "centered": True, "momentum": 0.9},
    "adagrad": {"name": "adagrad"}, "sgd": {"name": "sgd"},
    "sgd_momentum": {"name": "sgd", "momentum": 0.9},
    "sgd_nesterov": {"name": "sgd", "momentum": 0.9, "nesterov": True},
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("g", [1e19, 1e20, 1e30, 3e38, float(np.finfo(np.float32).max)])
def test_no_optimizer_turns_finite_gradients_into_nan(name, g):
    """Alternating gradients of +-g for 6 steps: the weights stay finite and the state never
    holds NaN (a second moment may saturate to +inf, which makes the update 0)."""
    opt = _core.Optimizer(dict(OPTIMIZERS[name], learning_rate=0.01))
    w = np.ones(5, np.float32)
    for step in range(6):
        opt.step([w], [np.full(5, g if step % 2 == 0 else -g, np.float32)])
        assert np.isfinite(w).all(), (step, w)
        assert not any(np.isnan(s).any() for s in opt.get_state()[1]), (step, opt.get_state())


@pytest.mark.parametrize("name", ["adam", "adamw", "nadam", "adam_amsgrad"])
def test_the_adam_family_keeps_its_second_moment_finite_while_g_squared_overflows(name):
    """g * g = 1e40 overflows float32, but (1 - beta_2) * g * g = 1e37 does not."""
    opt = _core.Optimizer(dict(OPTIMIZERS[name], learning_rate=0.01))
    w = np.ones(3, np.float32)
    for step in range(4):
        opt.step([w], [np.full(3, 1e20 if step % 2 == 0 else -1e20, np.float32)])
    assert all(np.isfinite(s).all() for s in opt.get_state()[1])
    assert np.isfinite(w).all() and not np.array_equal(w, np.ones(3, np.float32))


def _mse_model(optimizer):
    fastmlp.utils.set_random_seed(0)
    m = fastmlp.Sequential([fastmlp.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                            layers.Dense(1)])
    m.compile(_optimizer(optimizer), "mse")
    return m


def _optimizer(name):
    cfg = dict(OPTIMIZERS[name])
    cls = {"adam": fastmlp.optimizers.Adam, "adamw": fastmlp.optimizers.AdamW,
           "nadam": fastmlp.optimizers.Nadam, "adamax": fastmlp.optimizers.Adamax,
           "rmsprop": fastmlp.optimizers.RMSprop, "adagrad": fastmlp.optimizers.Adagrad,
           "sgd": fastmlp.optimizers.SGD}[cfg.pop("name")]
    return cls(**cfg)


def _ce_model(optimizer):
    fastmlp.utils.set_random_seed(0)
    m = fastmlp.Sequential([fastmlp.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                            layers.Dense(3, activation="softmax")])
    m.compile(_optimizer(optimizer), "sparse_categorical_crossentropy")
    return m


def _data(case):
    rng = np.random.default_rng(0)
    if case == "mse_1e10":
        return (rng.normal(size=(64, 4)) * 1e10).astype(np.float32), \
            rng.normal(size=(64, 1)).astype(np.float32), _mse_model
    return (rng.normal(size=(64, 4)) * 1e20).astype(np.float32), rng.integers(0, 3, 64), _ce_model


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("case", ["mse_1e10", "softmax_ce_1e20"])
def test_fit_on_huge_inputs_never_leaves_nan_weights(optimizer, case):
    x, y, build = _data(case)
    m = build(optimizer)
    try:
        h = m.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    except FloatingPointError as e:
        msg = str(e)
        assert "Training stopped in epoch " in msg and "of 4)" in msg, msg
        assert "learning rate" in msg and "TerminateOnNaN" in msg, msg
        if "The step was not applied" in msg:  # the weights of the last good step: replay it
            epoch = int(msg.split("epoch ")[1].split(":")[0])
            batch = int(msg.split("batch ")[1].split(" ")[0])
            ref = build(optimizer)
            for _ in range(epoch - 1):
                ref.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
            for b in range(batch - 1):
                ref.train_on_batch(x[16 * b:16 * b + 16], y[16 * b:16 * b + 16])
            for a, r in zip(m.get_weights(), ref.get_weights()):
                assert np.array_equal(a, r)
        else:
            assert "the others kept their values" in msg, msg
    else:
        assert np.isfinite(h.history["loss"]).all()
    assert all(np.isfinite(w).all() for w in m.get_weights())


def test_adam_on_1e10_inputs_trains_with_finite_weights():
    """The issue's case: NaN weights on the second step (v += (g * g - v) * c gave inf - inf)."""
    x, y, build = _data("mse_1e10")
    m = build("adam")
    h = m.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert np.isfinite(h.history["loss"]).all()
    assert all(np.isfinite(w).all() for w in m.get_weights())


def test_a_step_whose_loss_overflows_is_not_applied():
    x, y, build = _data("mse_1e10")
    m = build("sgd")
    x = np.full_like(x, 10.0)  # 1e38 * 10 * 4 overflows in the first layer
    m.set_weights([np.full_like(w, 1e38) for w in m.get_weights()])
    before = m.get_weights()
    what = r"the loss of batch 1 \(of 1\) is (inf|nan)"
    with pytest.raises(FloatingPointError, match=r"Training stopped in epoch 1: " + what +
                       r": a value overflowed the float32 range\. The step was not applied: the "
                       r"weights are those after the previous step\. Lower the learning rate"):
        m.fit(x, y, epochs=2, batch_size=64, verbose=0)
    for a, b in zip(m.get_weights(), before):
        assert np.array_equal(a, b)
    assert m.optimizer.iterations == 0
    with pytest.raises(FloatingPointError, match=what):
        m.train_on_batch(x, y)


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_gradients_that_overflow_leave_their_weights_alone(optimizer):
    """Inputs of ~1e20: the loss (summed in double) is finite, but X^T dY overflows float32 in the
    first layer's kernel. Those elements keep their values; the others take the step."""
    x, y, build = _data("mse_1e10")
    x = x * 1e10
    m = build(optimizer)
    w0 = m.get_weights()
    _, grads = m._core.compute_gradients(x, y)
    bad = [~np.isfinite(g) for g in grads]
    assert bad[0].any() and not all(b.all() for b in bad)
    with pytest.raises(FloatingPointError, match=r"the gradients of batch 1 \(of 1\) hold NaN or "
                       r"Inf \(the loss is [0-9.e+]+\): a value overflowed the float32 range\. "
                       r"The weights whose gradients are finite took the step, the others kept "
                       r"their values\."):
        m.fit(x, y, batch_size=64, verbose=0)
    assert m.optimizer.iterations == 1
    for w, w_before, b in zip(m.get_weights(), w0, bad):
        assert np.isfinite(w).all()
        assert np.array_equal(w[b], w_before[b])
    _, slots = m._core.get_optimizer_state()  # parameter-major: each parameter's slots in turn
    per_param = len(slots) // len(grads)
    initial = 0.1 if optimizer == "adagrad" else 0.0  # Keras's initial_accumulator_value
    for i, b in enumerate(bad):
        for slot in slots[i * per_param:(i + 1) * per_param]:
            assert np.all(slot.reshape(b.shape)[b] == np.float32(initial))
            assert not np.isnan(slot).any()
    if optimizer == "sgd":  # the rest is Keras's step
        for w, w_before, g, b in zip(m.get_weights(), w0, grads, bad):
            np.testing.assert_allclose(w[~b], (w_before - g * np.float32(0.01))[~b], rtol=1e-5)


def test_nan_weights_from_set_weights_are_named_when_training_stops():
    m = _mse_model("adam")
    m.set_weights([np.full_like(w, np.nan) for w in m.get_weights()])
    with pytest.raises(FloatingPointError, match="the weights already hold NaN or Inf"):
        m.fit(np.ones((8, 4), np.float32), np.ones((8, 1), np.float32), verbose=0)


@pytest.mark.parametrize("batch_hook", [False, True])
def test_terminate_on_nan_keeps_keras_behaviour_without_an_error(batch_hook):
    x, y, build = _data("mse_1e10")
    m = build("sgd")
    cbs = [callbacks.TerminateOnNaN()]
    if batch_hook:
        cbs.append(callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: None))
    h = m.fit(x * 1e10, y, epochs=5, batch_size=16, verbose=0, callbacks=cbs)
    assert len(h.history["loss"]) == 1 and not np.isfinite(h.history["loss"][0])


def test_the_core_guards_the_step_unless_told_otherwise():
    x, y, build = _data("mse_1e10")
    m = build("sgd")
    with pytest.raises(FloatingPointError, match=r"batch 1 \(of 4\)"):
        m._core.train_epoch(x * 1e10, y, None, 16, False, 0)
    assert all(np.isfinite(w).all() for w in m.get_weights())
    logs = m._core.train_epoch(x * 1e10, y, None, 16, False, 0, stop_on_nonfinite=False)
    assert not np.isfinite(logs["loss"]) and m._core.iterations == 5  # Keras: every step applied
    assert not all(np.isfinite(w).all() for w in m.get_weights())
    m2 = build("sgd")  # apply_gradients on its own applies what it is given, as Keras does
    m2._core.apply_gradients([np.full_like(w, np.inf) for w in m2.get_weights()])
    assert not np.isfinite(m2.get_weights()[0]).any()
