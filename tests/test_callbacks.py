import csv
import math
import os

import numpy as np
import pytest

import fastmlp
from fastmlp import callbacks, optimizers

from _mlp_helpers import blobs, classifier


class Scripted(callbacks.Callback):
    """Replaces the monitored value with a scripted sequence (one per epoch)."""

    def __init__(self, values, key="val_loss"):
        super().__init__()
        self.values, self.key = values, key

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def test_monitor_improvement_rules_shared_by_all():
    m = callbacks.Monitor("val_loss", "auto", min_delta=0.1)
    assert m.mode == "min" and m.improved(0.5, None) and m.improved(0.5, 0.7)
    assert not m.improved(0.65, 0.7)
    assert callbacks.Monitor("val_accuracy").mode == "max"
    assert callbacks.Monitor("auc", "auto").mode == "max"
    with pytest.raises(ValueError, match="mode"):
        callbacks.Monitor("loss", "up")


def test_early_stopping_stops_and_restores_best_weights():
    x, y = blobs(n=64)
    model = classifier()
    rec = Recorder()
    es = callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    values = [1.0, 0.5, 0.7, 0.8, 0.9, 1.0]
    history = model.fit(x, y, epochs=6, validation_split=0.25, verbose=0,
                        callbacks=[Scripted(values), rec, es])
    assert history.epoch == [0, 1, 2, 3]
    assert es.stopped_epoch == 3 and es.best_epoch == 1
    for a, b in zip(model.get_weights(), rec.weights[1]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_restores_best_weights_even_without_stopping():
    x, y = blobs(n=64)
    model = classifier()
    rec = Recorder()
    es = callbacks.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
    model.fit(x, y, epochs=4, validation_split=0.25, verbose=0,
              callbacks=[Scripted([0.9, 0.2, 0.5, 0.6]), rec, es])
    assert es.stopped_epoch == 0
    for a, b in zip(model.get_weights(), rec.weights[1]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_baseline_and_start_from_epoch():
    x, y = blobs(n=64)
    es = callbacks.EarlyStopping(monitor="loss", patience=1, start_from_epoch=3)
    history = classifier().fit(x, y, epochs=6, verbose=0,
                               callbacks=[Scripted([1, 2, 3, 4, 5, 6], "loss"), es])
    assert history.epoch == [0, 1, 2, 3, 4]
    es = callbacks.EarlyStopping(monitor="loss", patience=2, baseline=0.1)
    history = classifier().fit(x, y, epochs=6, verbose=0,
                               callbacks=[Scripted([1, 1, 1, 1, 1, 1], "loss"), es])
    assert history.epoch == [0, 1]  # the first value never beat the baseline


def test_model_checkpoint_writes_the_best_file(tmp_path):
    x, y = blobs(n=64)
    model = classifier()
    path = str(tmp_path / "best.fastmlp")
    rec = Recorder()
    ckpt = callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    model.fit(x, y, epochs=4, validation_split=0.25, verbose=0,
              callbacks=[Scripted([0.5, 0.3, 0.4, 0.6]), rec, ckpt])
    best = fastmlp.models.load_model(path)
    for a, b in zip(best.get_weights(), rec.weights[1]):
        np.testing.assert_array_equal(a, b)
    assert ckpt.best == 0.3


def test_model_checkpoint_formats_epoch_and_logs_and_saves_weights_only(tmp_path):
    x, y = blobs(n=64)
    model = classifier()
    pattern = str(tmp_path / "w-{epoch:02d}-{val_loss:.2f}.weights.h5")
    model.fit(x, y, epochs=2, validation_split=0.25, verbose=0,
              callbacks=[Scripted([0.5, 0.25]),
                         callbacks.ModelCheckpoint(pattern, save_weights_only=True)])
    assert sorted(os.listdir(tmp_path)) == ["w-01-0.50.weights.h5", "w-02-0.25.weights.h5"]
    clone = classifier(seed=9)
    clone.load_weights(str(tmp_path / "w-02-0.25.weights.h5"))
    for a, b in zip(clone.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name, weights_only, message", [
    ("w.h5", False, r"must end in `\.keras` .*legacy HDF5.*save_weights_only=True.*"
                    r"Received: filepath=w\.h5$"),
    ("w.hdf5", False, r"legacy HDF5"),
    ("w.ckpt", False, r"must end in `\.keras` \(Keras model format\) or `\.fastmlp`"),
    ("w.keras", True, r"save_weights_only=True.*must end in `\.weights\.h5`"),
    ("w.h5", True, r"must end in `\.weights\.h5`.*Received: filepath=w\.h5$")])
def test_model_checkpoint_refuses_names_it_cannot_write_when_created(name, weights_only,
                                                                     message):
    """ModelCheckpoint("w.h5") was accepted and wrote fastmlp's own ZIP under that name."""
    with pytest.raises(ValueError, match=message):
        callbacks.ModelCheckpoint(name, save_weights_only=weights_only)


def test_reduce_lr_on_plateau_reduces_and_logs_the_rate():
    x, y = blobs(n=64)
    model = classifier(optimizer=optimizers.Adam(learning_rate=0.01))
    cb = callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_lr=0.002)
    history = model.fit(x, y, epochs=5, verbose=0,
                        callbacks=[Scripted([1.0, 1.0, 1.0, 1.0, 1.0], "loss"), cb])
    # logged before the epoch's reduction, as Keras: reduced after epochs 1, 2 and 3
    assert history.history["learning_rate"] == pytest.approx([0.01, 0.01, 0.005, 0.0025,
                                                              0.002])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.002)


def test_learning_rate_scheduler_sets_the_rate_each_epoch():
    x, y = blobs(n=64)
    model = classifier()
    seen = []
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    spy = callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: seen.append(float(model.optimizer.learning_rate)))
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[sched, spy])
    assert seen == pytest.approx([0.1, 0.05, 0.1 / 3])
    assert history.history["learning_rate"] == pytest.approx(seen)
    one_arg = callbacks.LearningRateScheduler(lambda epoch: 0.02)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[one_arg])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.02)


def test_terminate_on_nan_stops_training(capsys):
    x, y = blobs(n=64)
    model = classifier(optimizer=optimizers.SGD(learning_rate=0.1))
    history = model.fit(x, y, epochs=5, verbose=0,
                        callbacks=[Scripted([1.0, math.nan, 1.0, 1.0, 1.0], "loss"),
                                   callbacks.TerminateOnNaN()])
    assert history.epoch == [0, 1]
    assert "Invalid loss" in capsys.readouterr().out


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    x, y = blobs(n=64)
    path = tmp_path / "log.csv"
    classifier().fit(x, y, epochs=3, verbose=0, validation_split=0.25,
                     callbacks=[callbacks.CSVLogger(str(path))])
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    classifier().fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.CSVLogger(str(path),
                                                                                append=True)])
    with open(path) as f:
        assert len(list(csv.DictReader(f))) == 4


def test_callback_hooks_run_in_order_with_params():
    x, y = blobs(n=64)
    events = []

    class Log(callbacks.Callback):
        def on_train_begin(self, logs=None):
            events.append(("train_begin", self.params["epochs"], self.params["steps"]))

        def on_epoch_begin(self, epoch, logs=None):
            events.append(("epoch_begin", epoch))

        def on_epoch_end(self, epoch, logs=None):
            events.append(("epoch_end", epoch, sorted(logs)))

        def on_train_end(self, logs=None):
            events.append(("train_end",))
    classifier().fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[Log()])
    assert events == [("train_begin", 2, 4), ("epoch_begin", 0),
                      ("epoch_end", 0, ["accuracy", "loss"]), ("epoch_begin", 1),
                      ("epoch_end", 1, ["accuracy", "loss"]), ("train_end",)]


def test_callbacks_must_be_callback_instances():
    x, y = blobs(n=32)
    with pytest.raises(TypeError, match="Callback"):
        classifier().fit(x, y, verbose=0, callbacks=[lambda: None])
