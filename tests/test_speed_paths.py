"""Fast paths give the regular path's results; thread counts never change results; the batch
loops allocate nothing once warm (issue 9). Correctness only: speed is in bench/."""

import numpy as np
import pytest

import fastmlp
from fastmlp import _core, layers
from _core_helpers import hooks


def _seed_model(output="softmax"):
    model = fastmlp.Sequential([fastmlp.Input(shape=(784,)),
                                layers.Dense(128, activation="relu"),
                                layers.Dense(64, activation="relu"),
                                layers.Dense(10, activation=output)])
    model.compile(optimizer="adam",
                  loss=fastmlp.losses.SparseCategoricalCrossentropy(from_logits=output == "linear"))
    return model


def test_threads_available_stays_within_the_setting(threads_restored):
    fastmlp.set_num_threads(2)
    assert hooks().threads_available() == 2  # adaptation off: the setting
    _core.set_thread_adaptation(True)
    assert 1 <= hooks().threads_available() <= 2
    fastmlp.set_num_threads(1)
    assert hooks().threads_available() == 1


@pytest.fixture(scope="module")
def rows():
    return np.random.default_rng(7).random((600, 784), dtype=np.float32)


def test_lean_path_equals_the_general_path_bitwise(rows):
    model = _seed_model()
    x1 = rows[:1]
    lean = model._core._predict_small(x1)
    assert lean is not None
    # float64 input goes through the converting path (copy + cast): the same kernels run on the
    # same float32 values, so the results are bitwise equal.
    general = model.predict(x1.astype(np.float64), verbose=0)
    np.testing.assert_array_equal(lean, general)
    np.testing.assert_array_equal(model.predict(x1), lean)
    np.testing.assert_array_equal(model.predict_on_batch(x1), lean)
    np.testing.assert_array_equal(model(x1), lean)
    # a strided view is copied by the general path: still the same numbers
    wide = np.zeros((1, 1568), np.float32)
    wide[:, ::2] = x1
    np.testing.assert_array_equal(model.predict(wide[:, ::2], verbose=0), lean)


def test_lean_path_declines_what_it_does_not_handle(rows):
    core = _seed_model()._core
    assert core._predict_small(rows[:1].astype(np.float64)) is None
    assert core._predict_small(np.asfortranarray(rows[:3])) is None
    assert core._predict_small(rows[:1, :100]) is None
    assert core._predict_small(np.zeros((2000, 784), np.float32)) is None
    assert core._predict_small([[0.0] * 784]) is None


def test_lean_path_rejects_nonfinite_input(rows):
    model = _seed_model()
    bad = rows[:2].copy()
    bad[1, 5] = np.nan
    with pytest.raises(ValueError, match=r"expected finite values\. Received: x\[1, 5\]=nan"):
        model.predict(bad)


def test_one_row_matches_its_row_in_a_batch(rows):
    # A lone row runs the 1 x 64 row kernel (four B panels at once); rows of a batch run the
    # 6 x 16 tiles. Both keep one K-ordered FMA chain per element, so the bits are the same.
    model = _seed_model("linear")
    batch = model.predict(rows[:60], verbose=0)
    for i in (0, 17, 59):
        np.testing.assert_array_equal(model.predict(rows[i:i + 1]), batch[i:i + 1])
    wide = fastmlp.Sequential([fastmlp.Input(shape=(784,)), layers.Dense(200, activation="relu"),
                               layers.Dense(70)])  # full row-kernel groups plus edge panels
    np.testing.assert_array_equal(wide.predict(rows[3:4]), wide.predict(rows[:9], verbose=0)[3:4])


def test_one_row_with_zero_inputs_matches_its_row_in_a_batch(rows):
    # A lone row multiplies only its nonzero elements (zeros add exactly zero when the weights
    # are finite): images with empty borders, scattered zeros and all-zero rows keep the bits of
    # the batched tiles, which multiply every element.
    model = _seed_model("linear")
    sparse = rows[:40].copy()
    sparse[:10, :300] = 0.0                                   # an image's empty top rows
    sparse[10:20] *= np.random.default_rng(3).random((10, 784)) < 0.3  # 70% scattered zeros
    sparse[20:25] = 0.0                                       # nothing at all
    sparse[25:30, ::2] = -0.0
    batch = model.predict(sparse, verbose=0)
    for i in range(0, 40, 3):
        np.testing.assert_array_equal(model.predict(sparse[i:i + 1]), batch[i:i + 1])


def test_one_row_with_zero_inputs_sees_nonfinite_weights(rows):
    # 0 * Inf is NaN: with an Inf weight the zero-skipping shortcut is off, so a lone row gives
    # the batched path's NaN rather than a finite number.
    model = _seed_model("linear")
    weights = model.get_weights()
    weights[0][5, 3] = np.inf
    model.set_weights(weights)
    x = rows[:2].copy()
    x[:, :400] = 0.0  # enough zeros for the shortcut, one of them on the Inf
    batch = model.predict(x, verbose=0)
    assert np.isnan(batch).all()
    np.testing.assert_array_equal(model.predict(x[:1]), batch[:1])


def test_predictions_identical_on_one_and_two_threads(rows, threads_restored):
    model = _seed_model()
    big = np.tile(rows, (10, 1))  # 6,000 rows: the parallel row-block path
    fastmlp.set_num_threads(1)
    one = [model.predict(big, verbose=0), model.predict(rows[:5])]
    fastmlp.set_num_threads(2)
    two = [model.predict(big, verbose=0), model.predict(rows[:5])]
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("threads", [1, 2])
def test_parallel_blocks_read_float32_in_place_and_match_converted_input(rows, threads,
                                                                         threads_restored):
    # Contiguous float32 blocks are read in place; float64 and strided inputs are converted
    # into the block's workspace first. Both give the same bits.
    model = _seed_model()
    big = np.tile(rows, (10, 1))
    fastmlp.set_num_threads(threads)
    in_place = model.predict(big, verbose=0)
    np.testing.assert_array_equal(model.predict(big.astype(np.float64), verbose=0), in_place)
    wide = np.zeros((big.shape[0], 800), np.float32)
    wide[:, :784] = big
    np.testing.assert_array_equal(model.predict(wide[:, :784], verbose=0), in_place)


@pytest.mark.parametrize("threads", [1, 2])
def test_parallel_blocks_name_the_first_nonfinite_row(rows, threads, threads_restored):
    model = _seed_model()
    big = np.tile(rows, (10, 1))
    big[4321, 7] = np.inf  # a later block
    big[1234, 100] = np.nan  # the first bad row, in an earlier block
    fastmlp.set_num_threads(threads)
    for x in (big, big.astype(np.float64)):
        with pytest.raises(ValueError, match=r"Received: x\[1234, 100\]=nan"):
            model.predict(x, verbose=0)


@pytest.mark.parametrize("spec", [
    {"name": "sparse_categorical_crossentropy", "from_logits": True},
    {"name": "categorical_crossentropy", "label_smoothing": 0.1},
    {"name": "binary_crossentropy", "from_logits": True},
    {"name": "huber", "delta": 0.5}])
def test_batch_loss_is_the_same_on_one_and_two_threads(spec, threads_restored):
    # 300 rows: five 64-row chunks, summed in order whatever the thread count.
    rng = np.random.default_rng(5)
    x = rng.standard_normal((300, 10)).astype(np.float32)
    if spec["name"] == "sparse_categorical_crossentropy":
        target = rng.integers(0, 10, 300).astype(np.int32)
    elif spec["name"] == "categorical_crossentropy":
        x = np.abs(x) + 0.01  # probabilities up to a row scale
        target = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 300)]
    else:
        target = rng.uniform(0, 1, (300, 10)).astype(np.float32)
    fastmlp.set_num_threads(1)
    one = _core.loss(spec, target, x)
    fastmlp.set_num_threads(2)
    two = _core.loss(spec, target, x)
    assert one[0] == two[0]
    np.testing.assert_array_equal(one[1], two[1])
    per_row = [_core.loss(spec, target[i:i + 1], x[i:i + 1])[0] for i in range(300)]
    assert one[0] == pytest.approx(np.mean(per_row), rel=1e-12)


def _train(threads, x, y):
    fastmlp.set_num_threads(threads)
    fastmlp.utils.set_random_seed(3)
    model = _seed_model("linear")
    model.fit(x, y, batch_size=128, epochs=2, verbose=0)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    return model.get_weights()


def test_training_identical_on_one_and_two_threads(rows, threads_restored):
    y = np.random.default_rng(8).integers(0, 10, len(rows))
    for a, b in zip(_train(1, rows, y), _train(2, rows, y)):
        np.testing.assert_array_equal(a, b)


def test_adaptive_optimizer_split_keeps_training_identical(threads_restored):
    # Adam's square roots and divisions split across threads from two 8192-element chunks: the
    # 128 x 128 kernel here (16384 values) is updated in two halves on 2 threads, one pass on 1.
    rng = np.random.default_rng(4)
    x = rng.standard_normal((640, 10)).astype(np.float32)
    y = rng.integers(0, 10, 640)
    weights = []
    for threads in (1, 2):
        fastmlp.set_num_threads(threads)
        fastmlp.utils.set_random_seed(5)
        model = fastmlp.Sequential([fastmlp.Input(shape=(10,)), layers.Dense(128, activation="relu"),
                                    layers.Dense(128, activation="relu"), layers.Dense(10)])
        model.compile(optimizer=fastmlp.optimizers.Adam(1e-3, clipnorm=1.0),
                      loss=fastmlp.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, batch_size=32, epochs=2, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("threads", [1, 2])
def test_batch_loop_allocates_nothing_once_warm(rows, threads, threads_restored):
    fastmlp.set_num_threads(threads)
    model = _seed_model("linear")
    y = np.random.default_rng(9).integers(0, 10, len(rows))
    core = model._core
    model.fit(rows, y, batch_size=64, epochs=1, verbose=0)
    model.predict(rows[:1])
    warm = (hooks().workspace_allocations(core), hooks().gemm_buffer_growths())
    model.fit(rows, y, batch_size=64, epochs=2, verbose=0)
    for _ in range(20):
        model.predict(rows[:1])
    assert (hooks().workspace_allocations(core), hooks().gemm_buffer_growths()) == warm


def test_adam_step_is_bitwise_the_float32_formula():
    # The update runs in an AVX2 clone where the CPU has it; without FMA contraction every
    # operation rounds as float32 NumPy does, so weights are bitwise the same on any CPU.
    rng = np.random.default_rng(11)
    core = _core.Model(37, [{"type": "dense", "units": 29, "activation": "linear"}])
    core.compile({"name": "mean_squared_error"}, {"name": "adam", "learning_rate": 0.01}, [])
    w0 = [w.copy() for w in core.get_weights()]
    grads = [rng.standard_normal(w.shape).astype(np.float32) for w in w0]
    core.apply_gradients(grads)
    t, lr, b1, b2 = 1.0, 0.01, 0.9, 0.999
    a = np.float32(lr * np.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t))
    c1, c2, eps = np.float32(1.0 - b1), np.float32(1.0 - b2), np.float32(1e-7)
    for w, g, got in zip(w0, grads, core.get_weights()):
        m = np.zeros_like(w) + (g - np.zeros_like(w)) * c1
        # v * b2 + (g * c2) * g (PyTorch's form: Keras's v + (g * g - v) * c2 gives inf - inf
        # once g * g overflows; tests/test_overflow.py)
        v = np.zeros_like(w) * np.float32(b2) + (g * c2) * g
        np.testing.assert_array_equal(got, w - m * a / (np.sqrt(v) + eps))
