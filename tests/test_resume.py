"""Resuming and stopping training exactly (issue 7's core gaps): a reloaded model with Dropout
continues bit-identically (the training step that keys the Dropout masks is saved), and a batch
callback that sets ``stop_training`` ends the epoch at that batch in the C++ loop."""

import numpy as np

import fastmlp
from fastmlp import callbacks, layers

from _mlp_helpers import blobs


def dropout_model():
    fastmlp.utils.set_random_seed(4)
    model = fastmlp.Sequential([fastmlp.Input(shape=(8,)), layers.Dense(32, activation="relu"),
                                layers.Dropout(0.5), layers.Dense(16, activation="relu"),
                                layers.Dropout(0.3), layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_save_load_resume_with_dropout_is_bit_identical(tmp_path):
    x, y = blobs(n=200)
    straight = dropout_model()
    straight.fit(x, y, epochs=4, batch_size=16, verbose=0)

    first = dropout_model()
    first.fit(x, y, epochs=2, batch_size=16, verbose=0)
    first.save(str(tmp_path / "half.fastmlp"))
    resumed = fastmlp.models.load_model(str(tmp_path / "half.fastmlp"))
    assert resumed._core.training_step == first._core.training_step > 0
    history = resumed.fit(x, y, epochs=4, initial_epoch=2, batch_size=16, verbose=0)
    assert len(history.history["loss"]) == 2
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_training_forward_passes_outside_fit_are_also_replayed(tmp_path):
    x, y = blobs(n=64)
    model = dropout_model()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model(x[:4], training=True)  # advances the step, as a training forward pass does
    model.save(str(tmp_path / "m.fastmlp"))
    loaded = fastmlp.models.load_model(str(tmp_path / "m.fastmlp"))
    np.testing.assert_array_equal(loaded(x[:4], training=True), model(x[:4], training=True))


class StopAt(callbacks.Callback):
    def __init__(self, batch):
        super().__init__()
        self.batch, self.seen = batch, []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(batch)
        if batch == self.batch:
            self.model.stop_training = True


def test_stop_training_in_a_batch_hook_stops_the_core_loop_at_that_batch():
    x, y = blobs(n=320)
    model = dropout_model()
    stop = StopAt(3)
    history = model.fit(x, y, epochs=5, batch_size=32, verbose=0, callbacks=[stop])
    assert stop.seen == [0, 1, 2, 3]
    assert model.optimizer.iterations == 4  # exactly the batches run, no more
    assert len(history.history["loss"]) == 1 and np.isfinite(history.history["loss"][0])
    assert np.isfinite(model.predict(x)).all()


def test_core_batch_callback_return_value_is_honoured():
    x, y = blobs(n=100)
    model = dropout_model()
    model.fit(x[:10], y[:10], verbose=0)
    core, start = model._core, model._core.iterations
    calls = []
    logs = core.train_epoch(x, y.astype(np.int32), batch_size=10, shuffle=False,
                            batch_callback=lambda b, logs: calls.append(b) or b == 2)
    assert calls == [0, 1, 2]
    assert core.iterations - start == 3 and np.isfinite(logs["loss"])
    falsy = core.train_epoch(x, y.astype(np.int32), batch_size=10, shuffle=False,
                             batch_callback=lambda b, logs: None)
    assert core.iterations - start == 13 and np.isfinite(falsy["loss"])
