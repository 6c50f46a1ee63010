"""Optimizers and learning-rate schedules of fastmlp._core against float64 NumPy transcriptions of
Keras 3's update_step formulas and (when installed) torch.optim."""
import math

import numpy as np
import pytest

from fastmlp import _core

STEPS = 6


def grads(t, shape):
    i = np.arange(np.prod(shape)).reshape(shape)
    return (np.sin(1.3 * t + 0.7 * i) * (1 + i % 5) * 0.5).astype(np.float32)


def keras_reference(cfg, w, steps, lr_of=lambda t, lr: lr):
    """Runs Keras 3's formulas in float64; returns the weights after `steps` updates."""
    name = cfg["name"]
    lr0 = cfg.get("learning_rate", 0.01 if name == "sgd" else 0.001)
    b1, b2, eps = cfg.get("beta_1", 0.9), cfg.get("beta_2", 0.999), cfg.get("epsilon", 1e-7)
    mu, rho = cfg.get("momentum", 0.0), cfg.get("rho", 0.9)
    wd = cfg.get("weight_decay", 0.004 if name == "adamw" else 0.0)
    w = w.astype(np.float64)
    z = np.zeros_like(w)
    m, v, vh, a = z.copy(), z.copy(), z.copy(), z.copy()
    acc = np.full_like(w, cfg.get("initial_accumulator_value", 0.1))
    u_prod = 1.0
    for t in range(steps):
        g = grads(t, w.shape).astype(np.float64)
        lr = lr_of(t, lr0)
        w = w - w * wd * lr
        if name == "sgd":
            if mu:
                m = mu * m - lr * g
                w = w + (mu * m - lr * g if cfg.get("nesterov") else m)
            else:
                w = w - lr * g
        elif name in ("adam", "adamw"):
            m += (g - m) * (1 - b1)
            v += (g * g - v) * (1 - b2)
            vh = np.maximum(vh, v)
            alpha = lr * math.sqrt(1 - b2 ** (t + 1)) / (1 - b1 ** (t + 1))
            w = w - m * alpha / (np.sqrt(vh if cfg.get("amsgrad") else v) + eps)
        elif name == "rmsprop":
            v = rho * v + (1 - rho) * g * g
            if cfg.get("centered"):
                a = rho * a + (1 - rho) * g
                inc = lr * g / np.sqrt(v - a * a + eps)
            else:
                inc = lr * g / np.sqrt(v + eps)
            if mu:
                m = mu * m + inc
                w = w - m
            else:
                w = w - inc
        elif name == "adagrad":
            acc += g * g
            w = w - lr * g / np.sqrt(acc + eps)
        elif name == "adamax":
            m += (g - m) * (1 - b1)
            v = np.maximum(b2 * v, np.abs(g))
            w = w - lr * m / ((1 - b1 ** (t + 1)) * (v + eps))
        elif name == "nadam":
            u_t = b1 * (1 - 0.5 * 0.96 ** (t + 1))
            u_t1 = b1 * (1 - 0.5 * 0.96 ** (t + 2))
            u_prod *= u_t
            m += (g - m) * (1 - b1)
            v += (g * g - v) * (1 - b2)
            m_hat = u_t1 * m / (1 - u_prod * u_t1) + (1 - u_t) * g / (1 - u_prod)
            w = w - m_hat * lr / (np.sqrt(v / (1 - b2 ** (t + 1))) + eps)
    return w


def run(cfg, shape=(4, 3), steps=STEPS):
    opt = _core.Optimizer(cfg)
    w = np.linspace(-1, 1, int(np.prod(shape)), dtype=np.float32).reshape(shape)
    w0 = w.copy()
    for t in range(steps):
        opt.step([w], [grads(t, shape)])
    assert opt.iterations == steps
    return w0, w


CONFIGS = [
    {"name": "sgd"}, {"name": "sgd", "momentum": 0.9}, {"name": "sgd", "momentum": 0.9, "nesterov": True},
    {"name": "sgd", "learning_rate": 0.1, "weight_decay": 0.01},
    {"name": "adam", "learning_rate": 0.05}, {"name": "adam", "learning_rate": 0.05, "amsgrad": True},
    {"name": "adamw", "learning_rate": 0.05}, {"name": "adamw", "learning_rate": 0.05, "weight_decay": 0.1},
    {"name": "rmsprop"}, {"name": "rmsprop", "momentum": 0.5}, {"name": "rmsprop", "momentum": 0.5, "centered": True},
    {"name": "rmsprop", "rho": 0.8, "epsilon": 1e-4},
    {"name": "adagrad", "learning_rate": 0.1}, {"name": "adagrad", "initial_accumulator_value": 0.5},
    {"name": "adamax", "learning_rate": 0.02}, {"name": "nadam", "learning_rate": 0.02},
    {"name": "nadam", "learning_rate": 0.02, "beta_1": 0.8, "beta_2": 0.99},
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_steps_match_keras_formula(cfg):
    w0, w = run(cfg)
    np.testing.assert_allclose(w, keras_reference(cfg, w0, STEPS), rtol=2e-5, atol=1e-6)


def test_large_tensors_use_the_same_rule():
    # Large enough to be split across threads; element-wise, so the split cannot matter.
    cfg = {"name": "adam", "learning_rate": 0.01}
    w0, w = run(cfg, shape=(300, 250), steps=3)
    np.testing.assert_allclose(w, keras_reference(cfg, w0, 3), rtol=2e-5, atol=1e-6)


def test_clipping_matches_keras():
    g1, g2 = np.array([3.0, 4.0, 0.0], np.float32), np.array([12.0], np.float32)
    for cfg, expect1, expect2 in [
        ({"clipnorm": 1.0}, [-0.6, -0.8, 0.0], [-1.0]),           # per tensor: g * c / max(|g|, c)
        ({"global_clipnorm": 6.5}, [-1.5, -2.0, 0.0], [-6.0]),    # global norm 13
        ({"clipvalue": 2.5}, [-2.5, -2.5, 0.0], [-2.5]),
    ]:
        w1, w2 = np.zeros(3, np.float32), np.zeros(1, np.float32)
        _core.Optimizer(dict(cfg, name="sgd", learning_rate=1.0)).step([w1, w2], [g1, g2])
        np.testing.assert_allclose(w1, expect1, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(w2, expect2, rtol=1e-6)


def keras_schedule(d, step):
    n = d["name"]
    if n in ("exponential_decay", "inverse_time_decay"):
        p = step / d["decay_steps"]
        p = math.floor(p) if d.get("staircase") else p
        if n == "exponential_decay":
            return d["initial_learning_rate"] * d["decay_rate"] ** p
        return d["initial_learning_rate"] / (1 + d["decay_rate"] * p)
    if n == "piecewise_constant_decay":
        for b, v in zip(d["boundaries"], d["values"]):
            if step <= b:
                return v
        return d["values"][-1]
    alpha, ws, target = d.get("alpha", 0.0), d.get("warmup_steps", 0), d.get("warmup_target")
    lr0, ds = d["initial_learning_rate"], d["decay_steps"]
    if target is not None and step < ws:
        return lr0 + (target - lr0) * step / ws
    frm = lr0 if target is None else target
    s = min(step - (ws if target is not None else 0), ds)
    return ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * s / ds)) + alpha) * frm


SCHEDULES = [
    {"name": "exponential_decay", "initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.5},
    {"name": "exponential_decay", "initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.5, "staircase": True},
    {"name": "inverse_time_decay", "initial_learning_rate": 0.2, "decay_steps": 5, "decay_rate": 0.3},
    {"name": "piecewise_constant_decay", "boundaries": [3, 10], "values": [1.0, 0.5, 0.1]},
    {"name": "cosine_decay", "initial_learning_rate": 0.1, "decay_steps": 20, "alpha": 0.1},
    {"name": "cosine_decay", "initial_learning_rate": 0.0, "decay_steps": 20, "warmup_target": 0.5,
     "warmup_steps": 5},
]


@pytest.mark.parametrize("sched", SCHEDULES, ids=lambda d: d["name"] + str(len(d)))
def test_schedules_match_keras(sched):
    for step in [0, 1, 3, 4, 5, 7, 10, 11, 14, 24, 40]:
        assert _core.learning_rate_schedule(sched, step) == pytest.approx(keras_schedule(sched, step), rel=1e-12, abs=1e-15)
    opt = _core.Optimizer({"name": "sgd", "learning_rate": sched})
    w, g = np.zeros(2, np.float32), np.ones(2, np.float32)
    for t in range(12):
        assert opt.learning_rate == pytest.approx(keras_schedule(sched, t), rel=1e-12, abs=1e-15)
        before = w.copy()
        opt.step([w], [g])
        np.testing.assert_allclose(before - w, keras_schedule(sched, t), rtol=1e-5, atol=1e-9)


def test_state_round_trip_and_learning_rate_override():
    cfg = {"name": "nadam", "learning_rate": 0.01}
    a = _core.Optimizer(cfg)
    wa = np.linspace(-1, 1, 12, dtype=np.float32)
    for t in range(3):
        a.step([wa], [grads(t, wa.shape)])
    b = _core.Optimizer(cfg)
    wb = np.linspace(-1, 1, 12, dtype=np.float32)
    for t in range(2):
        b.step([wb], [grads(t, wb.shape)])
    iterations, slots = b.get_state()
    assert iterations == 2 and len(slots) == 2 and slots[0].dtype == np.float32
    c = _core.Optimizer(cfg)
    c.set_state(iterations, slots)
    c.step([wb], [grads(2, wb.shape)])
    assert np.array_equal(wa, wb) and c.iterations == 3
    c.learning_rate = 0.5
    assert c.learning_rate == 0.5
    with pytest.raises(ValueError, match="learning_rate"):
        c.learning_rate = -1.0


def test_invalid_configs_are_value_errors():
    bad = [
        ({"name": "adamm"}, "valid names: sgd, adam"),
        ({"name": "adam", "lr": 0.1}, "unknown key 'lr'"),
        ({"name": "sgd", "learning_rate": -0.1}, "initial_learning_rate"),
        ({"name": "adam", "beta_1": 1.0}, "beta_1"),
        ({"name": "adam", "beta_2": -0.1}, "beta_2"),
        ({"name": "sgd", "momentum": 1.5}, "momentum"),
        ({"name": "sgd", "clipnorm": 1.0, "clipvalue": 1.0}, "only one of"),
        ({"name": "sgd", "learning_rate": "fast"}, "learning_rate"),
        ({"name": "sgd", "learning_rate": {"name": "step_decay"}}, "unknown learning-rate schedule"),
        ({"name": "sgd", "learning_rate": {"name": "exponential_decay", "decay_steps": 0}}, "decay_steps"),
        ({"name": "sgd", "learning_rate": {"name": "piecewise_constant_decay", "boundaries": [1],
                                           "values": [1.0]}}, "len\\(values\\)"),
    ]
    for cfg, match in bad:
        with pytest.raises(ValueError, match=match):
            _core.Optimizer(cfg)
    opt = _core.Optimizer({"name": "sgd"})
    w = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="float32"):
        opt.step([np.zeros(3)], [np.zeros(3)])
    with pytest.raises(ValueError, match="gradient 0"):
        opt.step([w], [np.zeros(4, np.float32)])
    adam = _core.Optimizer({"name": "adam"})
    adam.step([w], [np.ones(3, np.float32)])
    with pytest.raises(ValueError, match="values but its state has"):
        adam.step([np.zeros(4, np.float32)], [np.ones(4, np.float32)])


TORCH = [
    ({"name": "sgd", "learning_rate": 0.1, "momentum": 0.9}, "SGD", {"lr": 0.1, "momentum": 0.9}),
    ({"name": "sgd", "learning_rate": 0.1, "momentum": 0.9, "nesterov": True}, "SGD",
     {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ({"name": "adam", "learning_rate": 0.05, "epsilon": 1e-12}, "Adam", {"lr": 0.05, "eps": 1e-12}),
    ({"name": "adam", "learning_rate": 0.05, "epsilon": 1e-12, "amsgrad": True}, "Adam",
     {"lr": 0.05, "eps": 1e-12, "amsgrad": True}),
    ({"name": "adamw", "learning_rate": 0.05, "epsilon": 1e-12, "weight_decay": 0.1}, "AdamW",
     {"lr": 0.05, "eps": 1e-12, "weight_decay": 0.1}),
    ({"name": "rmsprop", "learning_rate": 0.01, "epsilon": 1e-12, "momentum": 0.5, "centered": True},
     "RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-12, "momentum": 0.5, "centered": True}),
    ({"name": "adagrad", "learning_rate": 0.1, "epsilon": 1e-12}, "Adagrad",
     {"lr": 0.1, "initial_accumulator_value": 0.1, "eps": 1e-12}),
    ({"name": "adamax", "learning_rate": 0.02, "epsilon": 1e-12}, "Adamax", {"lr": 0.02, "eps": 1e-12}),
]


@pytest.mark.parametrize("cfg,cls,kwargs", TORCH, ids=[c[1] + str(i) for i, c in enumerate(TORCH)])
def test_matches_torch_optim(cfg, cls, kwargs):
    # Nadam is left out: torch's momentum schedule is 0.96 ** (0.004 t), Keras's 0.96 ** t.
    torch = pytest.importorskip("torch")
    w0, w = run(cfg)
    p = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    opt = getattr(torch.optim, cls)([p], **kwargs)
    for t in range(STEPS):
        p.grad = torch.tensor(grads(t, w0.shape), dtype=torch.float64)
        opt.step()
    np.testing.assert_allclose(w, p.detach().numpy(), rtol=2e-5, atol=1e-6)
