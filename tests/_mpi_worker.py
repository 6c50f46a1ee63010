"""Run by tests/test_distribution.py under mpirun: ``python _mpi_worker.py DIR SCENARIO...``.

Every rank runs the scenarios in order and appends one JSON line per scenario to
DIR/results-<rank>.jsonl. A scenario that raises reports the exception instead; the next one then
runs, so the ranks must have left the failed one together. Other files also go to DIR.
"""

import json
import os
import signal
import sys
import zlib

import numpy as np

import fastmlp
from fastmlp import callbacks, distribution as D, layers

fastmlp.set_num_threads(1)
DIR = sys.argv[1]
WORLD = D.DataParallel()
SHARDED = D.DataParallel(auto_shard_dataset=False)
RANK, SIZE = WORLD.rank, WORLD.size


def top_prob(y_true, y_pred):
    """A metric of the user's own: computed in Python from the outputs of every rank's rows."""
    return np.max(y_pred, axis=-1)


def model(seed, dropout=False, bn=False, optimizer="sgd"):
    fastmlp.utils.set_random_seed(seed)
    stack = [fastmlp.Input((20,)), layers.Dense(32, activation="relu")]
    stack += [layers.Dropout(0.25)] if dropout else []
    stack += [layers.BatchNormalization()] if bn else []
    stack += [layers.Dense(16, activation="tanh"), layers.Dense(3, activation="softmax")]
    m = fastmlp.Sequential(stack)
    opt = fastmlp.optimizers.SGD(0.05, momentum=0.9) if optimizer == "sgd" else \
        fastmlp.optimizers.Adam(0.003)
    m.compile(opt, "sparse_categorical_crossentropy", metrics=["accuracy", "auc", top_prob])
    m.build((None, 20))
    return m


def data(n, seed=0):
    """Three separable clusters, so that a few epochs reach high accuracy."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = rng.standard_normal((3, 20)).astype(np.float32) * 1.5
    x = (centers[y] + rng.standard_normal((n, 20))).astype(np.float32)
    return x, y


def twins(**kw):
    """A one-process reference model and a model for the ranks that starts from the same state
    on rank 0 only (fit must broadcast it; the others start elsewhere)."""
    ref, m = model(1, **kw), model(100 + RANK, **kw)
    if RANK == 0:
        m.set_weights(ref.get_weights())
        m.set_training_state(ref.get_training_state())
    return ref, m


def crc(m):
    return zlib.crc32(b"".join(w.tobytes() for w in m.get_weights()))


def max_diff(a, b):
    return max(float(np.max(np.abs(u - v))) for u, v in zip(a.get_weights(), b.get_weights()))


def distributed(dist, fn):
    D.set_distribution(dist)
    try:
        return fn()
    finally:
        D.set_distribution(None)


class EpochCrcs(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.crcs = []

    def on_epoch_end(self, epoch, logs=None):
        self.crcs.append(crc(self.model))


# ---- scenarios: each returns a JSON-able dict --------------------------------------------------

def one_step():
    """One step of the global batch equals one step of one process (weights, classes, shuffle)."""
    x, y = data(203)
    sw = np.linspace(0.5, 1.5, 203).astype(np.float32)
    kw = dict(batch_size=48, epochs=1, steps_per_epoch=1, verbose=0, sample_weight=sw,
              class_weight={0: 1.0, 1: 2.0, 2: 0.5})
    ref, m = twins()
    distributed(WORLD, lambda: m.fit(x, y, **kw))
    ref.fit(x, y, **kw)
    return {"diff": max_diff(ref, m), "moved": max_diff(model(1), m), "crc": crc(m)}


def one_batch_sharded():
    """train_on_batch on shards of different sizes equals one step on their union."""
    x, y = data(60 + 7 * SIZE)
    cuts = np.cumsum([0] + [5 + 7 * r for r in range(SIZE)])
    ref, m = twins(optimizer="adam")
    distributed(SHARDED, lambda: m.train_on_batch(x[cuts[RANK]:cuts[RANK + 1]],
                                                  y[cuts[RANK]:cuts[RANK + 1]]))
    ref.train_on_batch(x[:cuts[-1]], y[:cuts[-1]])
    return {"diff": max_diff(ref, m), "crc": crc(m)}


def last_batch_smaller_than_ranks():
    """65 rows in batches of 32: the last step has one row, so some ranks have none."""
    x, y = data(65)
    ref, m = twins()
    logs = distributed(WORLD, lambda: m.fit(x, y, batch_size=32, epochs=2, shuffle=False,
                                            verbose=0)).history
    ref_logs = ref.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0).history
    return {"diff": max_diff(ref, m), "crc": crc(m), "logs": logs, "ref_logs": ref_logs}


def epochs_replicated():
    """Dropout + BatchNormalization, validation, several epochs: bitwise equal ranks."""
    x, y = data(3000)
    ref, m = twins(dropout=True, bn=True, optimizer="adam")
    seen = EpochCrcs()
    kw = dict(batch_size=64, epochs=4, validation_split=0.2, verbose=0)
    h = distributed(WORLD, lambda: m.fit(x, y, callbacks=[seen], **kw)).history
    ref_h = ref.fit(x, y, **kw).history
    return {"crcs": seen.crcs, "history": h, "ref_history": ref_h,
            "iterations": int(m.optimizer.iterations)}


def epochs_sharded():
    """Shards of different sizes: every rank ends its shard after the same steps."""
    x, y = data(400 + 150 * SIZE, seed=RANK + 1)  # each rank its own data
    n = 400 + 150 * RANK
    _, m = twins(bn=True, optimizer="adam")
    seen = EpochCrcs()
    h = distributed(SHARDED, lambda: m.fit(x[:n], y[:n], batch_size=50, epochs=3, verbose=0,
                                           validation_data=(x[n:], y[n:]),
                                           callbacks=[seen])).history
    return {"crcs": seen.crcs, "history": h, "rows": n,
            "iterations": int(m.optimizer.iterations)}


def callbacks_agree():
    """EarlyStopping and ReduceLROnPlateau decide alike; only rank 0 prints and writes."""
    x, y = data(600)
    _, m = twins()
    cbs = [callbacks.EarlyStopping(monitor="loss", min_delta=10.0, patience=1, verbose=1),
           callbacks.ReduceLROnPlateau(monitor="loss", min_delta=10.0, patience=1, factor=0.5),
           callbacks.ModelCheckpoint(os.path.join(DIR, f"ckpt-{RANK}.fastmlp")),
           callbacks.CSVLogger(os.path.join(DIR, f"log-{RANK}.csv"))]
    h = distributed(WORLD, lambda: m.fit(x, y, batch_size=32, epochs=6, verbose=2,
                                         callbacks=cbs)).history
    distributed(WORLD, lambda: m.save(os.path.join(DIR, f"model-{RANK}.fastmlp")))
    return {"epochs": len(h["loss"]), "final_lr": float(m.optimizer.learning_rate),
            "crc": crc(m)}


class StopOnRank(callbacks.Callback):
    def __init__(self, rank, batch):
        super().__init__()
        self.rank, self.batch = rank, batch

    def on_train_batch_end(self, batch, logs=None):
        if RANK == self.rank and batch == self.batch:
            self.model.stop_training = True


def stop_on_one_rank():
    """One rank's stop_training in the middle of an epoch stops every rank at the same step."""
    x, y = data(640)
    _, m = twins()
    h = distributed(WORLD, lambda: m.fit(x, y, batch_size=32, epochs=3, verbose=0,
                                         callbacks=[StopOnRank(SIZE - 1, 4)])).history
    return {"epochs": len(h["loss"]), "iterations": int(m.optimizer.iterations), "crc": crc(m)}


def nan_in_one_shard():
    x, y = data(300, seed=RANK)
    if RANK == SIZE - 1:
        x[123, 4] = np.nan
    _, m = twins()
    distributed(SHARDED, lambda: m.fit(x, y, batch_size=30, epochs=1, verbose=0))


def bad_argument_on_one_rank():
    x, y = data(300)
    _, m = twins()
    distributed(WORLD, lambda: m.fit(x, y, batch_size=0 if RANK == 1 else 30, verbose=0))


def different_batch_size():
    x, y = data(300)
    _, m = twins()
    distributed(WORLD, lambda: m.fit(x, y, batch_size=30 + RANK, verbose=0))


def different_model_in_train_on_batch():
    x, y = data(40)
    fastmlp.utils.set_random_seed(1)
    m = fastmlp.Sequential([fastmlp.Input((20,)), layers.Dense(8 + (RANK == 1)),
                            layers.Dense(3, activation="softmax")])
    m.compile("sgd", "sparse_categorical_crossentropy")
    distributed(WORLD, lambda: m.train_on_batch(x, y))


def different_data():
    x, y = data(300, seed=RANK)  # auto_shard_dataset=True expects the same arrays everywhere
    _, m = twins()
    distributed(WORLD, lambda: m.fit(x, y, batch_size=30, verbose=0))


class RaiseOnRank(callbacks.Callback):
    def __init__(self, rank, batch=None):
        super().__init__()
        self.rank, self.batch = rank, batch

    def on_epoch_end(self, epoch, logs=None):
        if self.batch is None and RANK == self.rank and epoch == 1:
            raise RuntimeError("boom at the end of epoch 2")

    def on_train_batch_end(self, batch, logs=None):
        if self.batch is not None and RANK == self.rank and batch == self.batch:
            raise KeyError("boom in batch 4")


def callback_raises_at_epoch_end():
    x, y = data(300)
    _, m = twins()
    distributed(WORLD, lambda: m.fit(x, y, batch_size=30, epochs=3, verbose=0,
                                     callbacks=[RaiseOnRank(SIZE - 1)]))


def callback_raises_in_batch():
    x, y = data(300)
    _, m = twins()
    distributed(WORLD, lambda: m.fit(x, y, batch_size=30, epochs=2, verbose=0,
                                     callbacks=[RaiseOnRank(0, batch=3)]))


class InterruptOnRank(callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if RANK == SIZE - 1 and batch == 2:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C on this rank alone


def interrupt_on_one_rank():
    x, y = data(300)
    _, m = twins()
    distributed(WORLD, lambda: m.fit(x, y, batch_size=30, epochs=2, verbose=0,
                                     callbacks=[InterruptOnRank()]))


def overflow_in_one_part():
    """Inputs of ~1e20 in the rows of the second batch: their gradients overflow, on whichever
    rank holds them, and every rank stops at that step."""
    x, _ = data(300)
    x[30:60] *= np.float32(1e20)
    fastmlp.utils.set_random_seed(1)
    m = fastmlp.Sequential([fastmlp.Input((20,)), layers.Dense(1)])
    m.compile("sgd", "mse")
    distributed(WORLD, lambda: m.fit(x, np.zeros((300, 1), np.float32), batch_size=30,
                                     epochs=1, shuffle=False, verbose=0))


def after_failures():
    """The ranks still train together after the failures above."""
    x, y = data(300)
    _, m = twins()
    distributed(WORLD, lambda: m.fit(x, y, batch_size=30, epochs=1, verbose=0))
    return {"crc": crc(m)}


class KillOnRank(callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if RANK == 1 and epoch == 1:
            os.kill(os.getpid(), signal.SIGKILL)


def killed_rank():
    """Rank 1 dies after epoch 2 while rank 0 checkpoints every epoch: MPI ends the job."""
    x, y = data(3000)
    _, m = twins()
    path = os.path.join(DIR, "killed.fastmlp")
    distributed(WORLD, lambda: m.fit(x, y, batch_size=32, epochs=50, verbose=0, callbacks=[
        callbacks.ModelCheckpoint(path), KillOnRank()]))


def main():
    for name in sys.argv[2:]:
        try:
            result = globals()[name]() or {}
        except BaseException as e:  # the agreed error, reported for the test to compare
            result = {"error": type(e).__name__, "message": str(e),
                      "failed_rank": getattr(e, "failed_rank", None),
                      "agreed": bool(getattr(e, "_fastmlp_agreed", False))}
        with open(os.path.join(DIR, f"results-{RANK}.jsonl"), "a", encoding="utf-8") as f:
            f.write(json.dumps({"scenario": name, **result}) + "\n")


if __name__ == "__main__":
    main()
