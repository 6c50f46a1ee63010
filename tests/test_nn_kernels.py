"""The per-ISA builds of the element-wise kernels (Dropout masks, activations), chosen at run time:
the same masks bit for bit whichever build runs (FASTMLP_ISA=generic vs the best one here), and
activations that agree to float rounding; plus the mirror augmentation of the 0.90 example."""

import importlib.util
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from _core_helpers import batchnorm, dense
from fastmlp import _core

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Dropout over 3 widths (ragged, vector-sized, odd), a few steps, then activations through a model.
PROBE = """
import numpy as np, sys
from fastmlp import _core
out = {}
for width in (7, 256, 785):
    m = _core.Model(width, [{"type": "dropout", "rate": 0.3, "seed": 12345}])
    x = np.linspace(-2, 2, 33 * width, dtype=np.float32).reshape(33, width)
    for step in (0, 5, 2**33 + 1):
        m.training_step = step
        out[f"drop{width}_{step}"] = m.forward(x, training=True)
x = np.linspace(-6, 6, 40 * 24, dtype=np.float32).reshape(40, 24)
for act in ("relu", "gelu", "tanh", "sigmoid", "silu", "softplus", "softmax", "elu", "selu"):
    m = _core.Model(24, [{"type": "activation", "activation": act}])
    out["act_" + act] = m.predict(x)
np.savez(sys.argv[1], **out)
"""


def run_probe(tmp_path, isa):
    path = tmp_path / f"{isa or 'default'}.npz"
    env = dict(os.environ)
    env.pop("FASTMLP_ISA", None)
    if isa:
        env["FASTMLP_ISA"] = isa
    proc = subprocess.run([sys.executable, "-c", PROBE, str(path)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return dict(np.load(path))


def test_dropout_masks_are_bitwise_the_same_in_every_build(tmp_path):
    if fastmlp.cpu_info()["supported_isas"] == ["generic"]:
        pytest.skip("only the generic build runs on this CPU")
    generic, best = run_probe(tmp_path, "generic"), run_probe(tmp_path, None)
    drops = [k for k in generic if k.startswith("drop")]
    assert len(drops) == 9
    for key in drops:
        np.testing.assert_array_equal(best[key], generic[key], err_msg=key)
        kept = generic[key] != 0
        assert 0.55 < kept.mean() < 0.85  # rate 0.3
    for key in (k for k in generic if k.startswith("act_")):
        np.testing.assert_allclose(best[key], generic[key], rtol=2e-6, atol=1e-7, err_msg=key)


def load_example():
    spec = importlib.util.spec_from_file_location(
        "fashion_mnist_90", ROOT / "examples" / "fashion_mnist_90.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_mirror_half_flips_a_fresh_random_half_each_call():
    mirror_half = load_example().MirrorHalf
    x = np.random.default_rng(0).integers(0, 256, (500, 28, 28), dtype=np.uint8)
    original = x.copy()
    aug, rng, ref_rng = mirror_half(x), np.random.default_rng(7), np.random.default_rng(7)
    flips = []
    for _ in range(4):
        out = aug(rng)
        flip = ref_rng.random(len(x)) < 0.5  # the same draws: the same images mirrored
        expected = x.copy()
        expected[flip] = x[flip, :, ::-1]
        np.testing.assert_array_equal(out, expected)
        flips.append(flip)
    np.testing.assert_array_equal(x, original)  # the caller's images are never modified
    assert not np.array_equal(flips[0], flips[1])


def test_recipe_stack_trains_bitwise_alike_on_one_and_two_threads(threads_restored):
    """The 0.90 example's layers (Rescaling, Dropout, Dense, BatchNorm, ReLU, softmax, AdamW with
    weight decay) wide enough that BatchNorm, Dropout and the activations split across threads."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (600, 784), dtype=np.uint8)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 600)]
    results = []
    for t in (1, 2):
        fastmlp.set_num_threads(t)
        m = _core.Model(784, [
            {"type": "rescaling", "scale": 1 / 80, "offset": -0.4},
            {"type": "dropout", "rate": 0.1, "seed": 3}, dense(512, use_bias=False), batchnorm(),
            {"type": "activation", "activation": "relu"},
            {"type": "dropout", "rate": 0.2, "seed": 4},
            dense(10, "softmax", 2)])
        m.compile({"name": "categorical_crossentropy", "label_smoothing": 0.1},
                  {"name": "adamw", "learning_rate": 1e-3, "weight_decay": 0.004}, [])
        for e in range(2):
            m.train_epoch(x, y, batch_size=300, seed=e)
        results.append(m.get_weights() + [m.predict(x)])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_example_pixel_statistics_match_numpy():
    x = np.random.default_rng(1).integers(0, 256, (300, 28, 28), dtype=np.uint8)
    mean, std = load_example().pixel_mean_std(x)
    assert mean == pytest.approx(float(x.mean()), rel=1e-12)
    assert std == pytest.approx(float(x.std()), rel=1e-12)
