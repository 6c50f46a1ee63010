import numpy as np
import pytest

import fastmlp
from fastmlp import callbacks, layers, losses, metrics, optimizers
from fastmlp.models._data import prepare_x

from _mlp_helpers import blobs, classifier, regression


def test_fit_learns_a_small_problem_to_low_loss_and_high_accuracy():
    x, y = blobs()
    model = classifier()
    history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.1 < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.97
    assert model.evaluate(x, y, verbose=0)[1] > 0.97


def test_regression_with_mse_and_mae_metric():
    x, y = regression()
    fastmlp.utils.set_random_seed(1)
    model = fastmlp.Sequential([fastmlp.Input(shape=(5,)), layers.Dense(1)])
    model.compile(optimizer=optimizers.Adam(learning_rate=0.05), loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=20, verbose=0)
    assert history.history["loss"][-1] < 0.05
    assert sorted(history.history) == ["loss", "mae"]


def test_history_keys_are_sorted_with_val_versions():
    x, y = blobs(n=200)
    model = classifier(metrics=["accuracy", "mae"])
    history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    assert list(history.history) == ["accuracy", "loss", "mae", "val_accuracy", "val_loss",
                                     "val_mae"]
    assert all(len(v) == 2 for v in history.history.values())
    assert history.epoch == [0, 1] and model.history is history


def test_evaluate_returns_scalar_without_metrics_list_with_metrics_in_compile_order():
    x, y = blobs(n=100)
    plain = classifier(metrics=None)
    loss = plain.evaluate(x, y, verbose=0)
    assert isinstance(loss, float)
    model = classifier(metrics=["mae", "accuracy"])
    result = model.evaluate(x, y, verbose=0)
    as_dict = model.evaluate(x, y, verbose=0, return_dict=True)
    assert isinstance(result, list) and len(result) == 3
    assert result == [as_dict["loss"], as_dict["mae"], as_dict["accuracy"]]
    assert model.metrics_names == ["loss", "mae", "accuracy"]


def test_accuracy_resolves_from_the_loss_like_keras():
    x, y = blobs(n=100)
    sparse = classifier(metrics=["accuracy"])
    assert sparse._metrics[0].core_name == "sparse_categorical_accuracy"
    onehot = classifier(loss="categorical_crossentropy", metrics=["acc"])
    onehot.fit(x, fastmlp.utils.to_categorical(y, 3), epochs=1, verbose=0)
    assert onehot._metrics[0].core_name == "categorical_accuracy"
    binary = fastmlp.Sequential([fastmlp.Input(shape=(8,)), layers.Dense(1,
                                                                         activation="sigmoid")])
    binary.compile(loss="binary_crossentropy", metrics=["accuracy"])
    assert binary._metrics[0].core_name == "binary_accuracy"


def test_validation_split_takes_the_last_fraction():
    x, y = blobs(n=100)
    model = classifier()
    seen = {}
    original = model._evaluate_dataset

    def spy(data, batch_size):
        seen["y"] = np.array(data.y)
        return original(data, batch_size)
    model._evaluate_dataset = spy
    model.fit(x, y, epochs=1, validation_split=0.2, verbose=0)
    np.testing.assert_array_equal(seen["y"], y[80:])


def test_validation_data_tuple_and_sample_weights():
    x, y = blobs(n=120)
    model = classifier()
    history = model.fit(x[:100], y[:100], validation_data=(x[100:], y[100:], np.ones(20)),
                        epochs=1, verbose=0)
    assert "val_loss" in history.history


def test_same_seed_same_training_bits():
    x, y = blobs(n=200)
    runs = []
    for _ in range(2):
        model = classifier(seed=5)
        model.fit(x, y, epochs=2, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_float32_c_contiguous_input_is_not_copied_and_uint8_passes_through():
    x = np.zeros((4, 3, 2), np.float32)
    assert np.shares_memory(prepare_x(x, (3, 2)), x)
    u8 = np.zeros((4, 6), np.uint8)
    assert prepare_x(u8, (6,)).dtype == np.uint8 and np.shares_memory(prepare_x(u8, (6,)), u8)
    assert prepare_x(np.zeros((4, 6), np.int16), (6,)).dtype == np.float32


def test_uint8_images_with_rescaling_train():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    x = (rng.integers(0, 100, (300, 4, 4)) + 150 * y[:, None, None]).astype(np.uint8)
    fastmlp.utils.set_random_seed(0)
    model = fastmlp.Sequential([fastmlp.Input(shape=(4, 4)), layers.Rescaling(1 / 255),
                                layers.Flatten(), layers.Dense(2, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=10, verbose=0)
    assert history.history["accuracy"][-1] > 0.95
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               model.predict(x.astype(np.float32), verbose=0), rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int32, np.int64, np.float64])
def test_labels_of_any_integer_dtype(dtype):
    x, y = blobs(n=64)
    model = classifier()
    ref = model.evaluate(x, y.astype(np.int64), verbose=0)
    assert model.evaluate(x, y.astype(dtype), verbose=0) == ref
    assert model.evaluate(x, y.astype(dtype).reshape(-1, 1), verbose=0) == ref


def test_shape_and_label_errors_name_the_argument_and_expected_shape():
    x, y = blobs(n=50)
    model = classifier()
    with pytest.raises(ValueError, match=r"`x` must have shape \(None, 8\)"):
        model.fit(x[:, :7], y, verbose=0)
    with pytest.raises(ValueError, match=r"`y`, expected 50 samples \(as many as `x`\)"):
        model.fit(x, y[:-1], verbose=0)
    with pytest.raises(ValueError, match=r"class labels in \[0, 2\].*Received: y\[\d+\]=3"):
        model.fit(x, np.where(y == 0, 3, y), verbose=0)
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        model.fit(x, fastmlp.utils.to_categorical(y), verbose=0)
    onehot = classifier(loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        onehot.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=r"`sample_weight`, expected 50 samples"):
        model.fit(x, y, sample_weight=np.ones(3), verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(x, y, batch_size=0, verbose=0)


def test_fit_before_compile_is_an_error():
    model = fastmlp.Sequential([layers.Dense(1, input_shape=(2,))])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.ones((2, 2)), np.ones(2), verbose=0)


def test_compile_rejects_what_it_cannot_run():
    model = fastmlp.Sequential([layers.Dense(1, input_shape=(2,))])
    with pytest.raises(ValueError, match=r"does not run Python loss functions.*"
                                         r"'huber' / 'huber_loss': Huber\(delta=1.0\)"):
        model.compile(loss=lambda a, b: a)
    with pytest.raises(ValueError, match="reduction"):
        model.compile(loss=losses.MeanSquaredError(reduction="sum"))
    with pytest.raises(ValueError, match="loss_weights"):
        model.compile(loss="mse", loss_weights=[0.5, 0.5])
    with pytest.raises(ValueError, match="optimizer"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="Unknown metric"):
        model.compile(loss="mse", metrics=["accuracyy"])


def test_class_weight_and_sample_weight_change_the_loss():
    x, y = blobs(n=90)
    model = classifier()
    base = model.evaluate(x, y, verbose=0)[0]
    w = np.where(y == 0, 3.0, 1.0).astype(np.float32)
    weighted = model.evaluate(x, y, sample_weight=w, verbose=0)[0]
    per_sample = losses.sparse_categorical_crossentropy(y, model.predict(x, verbose=0))
    assert weighted == pytest.approx((per_sample * w).sum() / len(y), rel=1e-4)
    assert weighted != pytest.approx(base)
    a = classifier(seed=3)
    b = classifier(seed=3)
    a.fit(x, y, class_weight={0: 3.0}, epochs=1, shuffle=False, verbose=0)
    b.fit(x, y, sample_weight=w, epochs=1, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_train_and_test_on_batch():
    x, y = blobs(n=64)
    model = classifier(metrics=["accuracy", "auc"])
    before = model.test_on_batch(x, y)
    logs = model.train_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "accuracy", "auc"}
    assert model.optimizer.iterations == 1
    after = model.test_on_batch(x, y)
    assert len(before) == 3 and after[0] < before[0]


def test_learning_rate_is_live_and_settable():
    x, y = blobs(n=64)
    model = classifier(optimizer=optimizers.SGD(learning_rate=0.1))
    assert float(model.optimizer.learning_rate) == pytest.approx(0.1)
    model.optimizer.learning_rate = 0.0
    w = model.get_weights()
    model.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(w, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.optimizer.learning_rate.assign(0.5)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.5)


def test_stop_training_from_a_callback_ends_fit():
    x, y = blobs(n=64)
    model = classifier()

    class StopAfterTwo(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[StopAfterTwo()])
    assert history.epoch == [0, 1]


def test_batch_hooks_are_called_for_every_batch():
    x, y = blobs(n=100)
    model = classifier()
    begins, ends = [], []
    cb = callbacks.LambdaCallback(on_train_batch_begin=lambda b, logs: begins.append(b),
                                  on_train_batch_end=lambda b, logs: ends.append((b, logs)))
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[cb])
    assert begins == [0, 1, 2, 3] and [b for b, _ in ends] == [0, 1, 2, 3]
    assert "loss" in ends[-1][1]


def test_initial_epoch_and_epochs_count_like_keras():
    x, y = blobs(n=64)
    model = classifier()
    history = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0)
    assert history.epoch == [3, 4]


def test_python_metrics_are_computed_on_collected_predictions():
    x, y = blobs(n=100, classes=2)
    fastmlp.utils.set_random_seed(0)
    model = fastmlp.Sequential([fastmlp.Input(shape=(8,)), layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy",
                  metrics=[metrics.AUC(), metrics.Precision(), metrics.Recall(), "accuracy"])
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)[:, 0]
    tp = np.sum((p > 0.5) & (y == 1))
    assert logs["precision"] == pytest.approx(tp / max(np.sum(p > 0.5), 1), abs=1e-6)
    assert logs["recall"] == pytest.approx(tp / np.sum(y == 1), abs=1e-6)
    assert logs["accuracy"] == pytest.approx(np.mean((p > 0.5) == y), abs=1e-6)
    assert 0.0 <= logs["auc"] <= 1.0


def test_compile_before_build_then_fit_builds_from_data():
    x, y = blobs(n=64)
    fastmlp.utils.set_random_seed(0)
    model = fastmlp.Sequential([layers.Dense(8, activation="relu"), layers.Dense(3)])
    model.compile(optimizer="adam",
                  loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    assert not model.built
    history = model.fit(x, y, epochs=2, verbose=0)
    assert model.built and model.input_shape == (None, 8)
    assert history.history["loss"][1] < history.history["loss"][0]


def test_user_progbar_logger_replaces_the_default(capsys):
    x, y = blobs(n=32)
    classifier().fit(x, y, epochs=1, verbose=1, callbacks=[callbacks.ProgbarLogger()])
    assert capsys.readouterr().out.count("Epoch 1/1") == 1


def test_steps_per_epoch_and_validation_freq():
    x, y = blobs(n=100)
    model = classifier()
    history = model.fit(x, y, batch_size=10, steps_per_epoch=3, epochs=4, verbose=0,
                        validation_data=(x, y), validation_freq=2)
    assert model.optimizer.iterations == 12
    assert len(history.history["loss"]) == 4 and len(history.history["val_loss"]) == 2


def test_stop_training_at_a_batch_end_stops_within_the_epoch():
    x, y = blobs(n=200)
    model = classifier(metrics=["accuracy", "auc"])

    class StopAtBatch2(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.stop_training = True
    history = model.fit(x, y, epochs=3, batch_size=10, verbose=0, callbacks=[StopAtBatch2()])
    assert model.optimizer.iterations == 3 and history.epoch == [0]
    assert set(history.history) == {"accuracy", "auc", "loss"}
    assert np.isfinite(history.history["auc"][0])
    assert model.fit(x, y, epochs=1, batch_size=10, verbose=0).history["loss"]
