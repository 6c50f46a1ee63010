"""BackupAndRestore (Keras 3's semantics): a fit killed with SIGKILL and run again ends with the
bits of an uninterrupted run (weights, Adam's state, the shuffle and Dropout streams), backups
are atomic, ``double_checkpoint`` falls back to the previous backup, ``save_freq=N`` backs up
every N batches and reruns the interrupted epoch from its start."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import fastmlp
from fastmlp import callbacks, layers


_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    import fastmlp
    from fastmlp import callbacks, layers

    backup, out, kill_epoch, kill_batch, save_freq = sys.argv[1:]
    kill_epoch, kill_batch = int(kill_epoch), int(kill_batch)
    fastmlp.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 8)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)
    model = fastmlp.Sequential([fastmlp.Input(shape=(8,)), layers.Dense(16, activation="relu"),
                                layers.Dropout(0.3), layers.BatchNormalization(),
                                layers.Dense(3, activation="softmax")])
    model.compile(fastmlp.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])

    class Kill(callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if (self.epoch, batch) == (kill_epoch, kill_batch):
                os.kill(os.getpid(), signal.SIGKILL)

    freq = save_freq if save_freq == "epoch" else int(save_freq)
    cbs = [callbacks.BackupAndRestore(backup, save_freq=freq)]
    history = model.fit(x, y, epochs=6, batch_size=16, verbose=0,
                        callbacks=cbs + ([Kill()] if kill_epoch >= 0 else []))
    np.savez(out, *model.get_weights(), epochs=np.array(history.epoch),
             iterations=np.array(model.optimizer.iterations))
""")


def _run(tmp_path, backup, out, kill=(-1, -1), save_freq="epoch"):
    script = tmp_path / "train.py"
    script.write_text(_SCRIPT)
    # the fastmlp this test imported (the installed one, or python/ in a development tree)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(fastmlp.__file__)))
    env = dict(os.environ, PYTHONPATH=package_parent + os.pathsep +
               os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, str(script), str(backup), str(out), str(kill[0]),
                           str(kill[1]), save_freq], env=env, capture_output=True, text=True,
                          timeout=300)


def _result(path):
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    return ([arrays[f"arr_{i}"] for i in range(len(arrays) - 2)], list(arrays["epochs"]),
            int(arrays["iterations"]))


def test_a_run_killed_with_sigkill_resumes_to_the_bits_of_an_uninterrupted_one(tmp_path):
    reference = _run(tmp_path, tmp_path / "ref_backup", tmp_path / "ref.npz")
    assert reference.returncode == 0, reference.stderr
    killed = _run(tmp_path, tmp_path / "backup", tmp_path / "unused.npz", kill=(3, 2))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert os.listdir(tmp_path / "backup") == ["latest.backup"]
    resumed = _run(tmp_path, tmp_path / "backup", tmp_path / "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr
    ref_weights, ref_epochs, ref_iterations = _result(tmp_path / "ref.npz")
    weights, epochs, iterations = _result(tmp_path / "resumed.npz")
    assert ref_epochs == list(range(6)) and epochs == [3, 4, 5]  # from the last backup on
    assert iterations == ref_iterations == 6 * 7
    for a, b in zip(weights, ref_weights):
        np.testing.assert_array_equal(a, b)
    assert not os.path.exists(tmp_path / "backup")  # delete_checkpoint=True, once completed


def test_a_run_killed_mid_epoch_with_batch_backups_reruns_that_epoch(tmp_path):
    killed = _run(tmp_path, tmp_path / "backup", tmp_path / "unused.npz", kill=(2, 4),
                  save_freq="4")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with zipfile.ZipFile(tmp_path / "backup" / "latest.backup") as zf:
        metadata = json.loads(zf.read("training_metadata.json"))
    # 7 batches an epoch; backups after batches 4, 8, 12, 16 (counted across epochs), i.e.
    # epoch 2's batch 1 (0-based) is the last before the kill at its batch 4
    assert metadata == {"epoch": 2, "batch": 1}
    resumed = _run(tmp_path, tmp_path / "backup", tmp_path / "resumed.npz", save_freq="4")
    assert resumed.returncode == 0, resumed.stderr
    weights, epochs, iterations = _result(tmp_path / "resumed.npz")
    assert epochs == [2, 3, 4, 5] and iterations == 16 + 4 * 7
    assert all(np.isfinite(w).all() for w in weights)


# ---- in-process --------------------------------------------------------------------------------
RNG = np.random.default_rng(2)
X = RNG.normal(size=(64, 5)).astype(np.float32)
Y = RNG.normal(size=(64, 1)).astype(np.float32)


def _model():
    fastmlp.utils.set_random_seed(4)
    model = fastmlp.Sequential([fastmlp.Input(shape=(5,)), layers.Dense(6, activation="tanh"),
                                layers.Dense(1)])
    model.compile(fastmlp.optimizers.SGD(0.05, momentum=0.9), "mse")
    return model


class _Stop(callbacks.Callback):
    """Raises at the start of an epoch (Keras's example of an interruption)."""

    def __init__(self, epoch):
        super().__init__()
        self.at = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise RuntimeError("Interrupting!")


class _Seen(callbacks.Callback):
    """The weights and optimizer step the fit starts from (after the restore)."""

    def on_train_begin(self, logs=None):
        self.weights = self.model.get_weights()
        self.iterations = self.model.optimizer.iterations


def _interrupted(backup, at, **kw):
    model = _model()
    with pytest.raises(RuntimeError, match="Interrupting"):
        model.fit(X, Y, epochs=6, verbose=0,
                  callbacks=[callbacks.BackupAndRestore(backup, **kw), _Stop(at)])
    return model


def test_an_interrupted_fit_resumes_at_the_epoch_with_the_weights_of_the_backup(tmp_path):
    interrupted = _interrupted(tmp_path / "b", 4)
    resumed, seen = _model(), _Seen()
    history = resumed.fit(X, Y, epochs=6, verbose=0,
                          callbacks=[callbacks.BackupAndRestore(tmp_path / "b"), seen])
    assert history.epoch == [4, 5] and len(history.history["loss"]) == 2
    assert seen.iterations == 4 * 2
    for a, b in zip(seen.weights, interrupted.get_weights()):
        np.testing.assert_array_equal(a, b)
    reference = _model()
    reference.fit(X, Y, epochs=6, verbose=0)
    for a, b in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    # the next fit of the model starts from its own initial_epoch again
    assert resumed.fit(X, Y, epochs=1, verbose=0).epoch == [0]


def test_double_checkpoint_falls_back_to_the_previous_backup(tmp_path):
    _interrupted(tmp_path / "b", 3, double_checkpoint=True)
    assert sorted(os.listdir(tmp_path / "b")) == ["latest.backup", "latest.backup.bkp"]
    with open(tmp_path / "b" / "latest.backup", "r+b") as f:
        f.truncate(100)
    history = _model().fit(X, Y, epochs=6, verbose=0, callbacks=[
        callbacks.BackupAndRestore(tmp_path / "b", double_checkpoint=True)])
    assert history.epoch == [2, 3, 4, 5]


def test_a_damaged_backup_without_double_checkpoint_is_an_error_naming_it(tmp_path):
    _interrupted(tmp_path / "b", 3)
    with open(tmp_path / "b" / "latest.backup", "r+b") as f:
        f.truncate(100)
    with pytest.raises(ValueError, match="latest.backup.* is not a readable BackupAndRestore"):
        _model().fit(X, Y, epochs=6, verbose=0,
                     callbacks=[callbacks.BackupAndRestore(tmp_path / "b")])


def test_killed_between_setting_the_previous_aside_and_the_next_write(tmp_path):
    _interrupted(tmp_path / "b", 3, double_checkpoint=True)
    os.replace(tmp_path / "b" / "latest.backup", tmp_path / "b" / "latest.backup.bkp")
    history = _model().fit(X, Y, epochs=6, verbose=0, callbacks=[
        callbacks.BackupAndRestore(tmp_path / "b", double_checkpoint=True)])
    assert history.epoch == [3, 4, 5]


def test_a_failed_write_leaves_the_previous_backup(tmp_path, monkeypatch):
    from fastmlp import _atomic
    real, calls = os.replace, []

    def failing_second(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("disk full")
        real(src, dst)
    monkeypatch.setattr(_atomic.os, "replace", failing_second)
    with pytest.raises(OSError, match="disk full"):
        _model().fit(X, Y, epochs=6, verbose=0,
                     callbacks=[callbacks.BackupAndRestore(tmp_path / "b")])
    monkeypatch.undo()
    assert [name for name in os.listdir(tmp_path / "b")] == ["latest.backup"]
    with zipfile.ZipFile(tmp_path / "b" / "latest.backup") as zf:
        assert json.loads(zf.read("training_metadata.json"))["epoch"] == 1


def test_delete_checkpoint_false_keeps_the_backup_and_a_finished_run_runs_nothing(tmp_path):
    cb = callbacks.BackupAndRestore(tmp_path / "b", delete_checkpoint=False)
    model = _model()
    model.fit(X, Y, epochs=3, verbose=0, callbacks=[cb])
    assert os.listdir(tmp_path / "b") == ["latest.backup"]
    assert model.fit(X, Y, epochs=3, verbose=0, callbacks=[cb]).epoch == []
    other = tmp_path / "b" / "notes.txt"
    other.write_text("mine")
    cb.delete_checkpoint = True
    model.fit(X, Y, epochs=3, verbose=0, callbacks=[cb])
    assert os.listdir(tmp_path / "b") == ["notes.txt"]  # only the callback's files go


def test_a_backup_of_another_model_is_refused_naming_it(tmp_path):
    _interrupted(tmp_path / "b", 2)
    other = fastmlp.Sequential([fastmlp.Input(shape=(5,)), layers.Dense(7), layers.Dense(1)])
    other.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"backup .*latest.backup' does not fit model"):
        other.fit(X, Y, epochs=6, verbose=0,
                  callbacks=[callbacks.BackupAndRestore(tmp_path / "b")])
    adam = _model()
    adam.compile("adam", "mse")  # another optimizer: its slots do not fit
    with pytest.raises(ValueError, match="does not fit .*optimizer slots"):
        adam.fit(X, Y, epochs=6, verbose=0,
                 callbacks=[callbacks.BackupAndRestore(tmp_path / "b")])


def test_epoch_backups_do_not_make_the_loop_call_back_per_batch():
    assert not callbacks.BackupAndRestore("d").wants_batches()
    assert callbacks.BackupAndRestore("d", save_freq=10).wants_batches()


@pytest.mark.parametrize("kwargs, match", [
    ({"backup_dir": ""}, "Empty `backup_dir` argument passed"),
    ({"backup_dir": None}, "Empty `backup_dir` argument passed"),
    ({"backup_dir": 3}, "`backup_dir`"),
    ({"backup_dir": "d", "save_freq": 0}, "`save_freq`.*Received: save_freq=0"),
    ({"backup_dir": "d", "save_freq": True}, "`save_freq`.*Received: save_freq=True"),
    ({"backup_dir": "d", "save_freq": "batch"}, "`save_freq`.*Received: save_freq='batch'"),
    ({"backup_dir": "d", "double_checkpoint": "yes"}, "`double_checkpoint`"),
    ({"backup_dir": "d", "delete_checkpoint": None}, "`delete_checkpoint`"),
])
def test_arguments_are_checked_when_created(kwargs, match):
    with pytest.raises(ValueError, match=match):
        callbacks.BackupAndRestore(**kwargs)
