"""Batches from Python: generators and `fastmlp.utils.PyDataset` in fit / evaluate / predict
(Keras 3's semantics), one core call per batch, bitwise the in-memory results for the same
batches, bad batches named by their index."""

import threading
import time
import warnings

import numpy as np
import pytest

import fastmlp
from fastmlp import callbacks, layers

RNG = np.random.default_rng(0)
X = RNG.normal(size=(80, 6)).astype(np.float32)
LABELS = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 0.5)
BS = 16


def _model(build=True):
    fastmlp.utils.set_random_seed(5)
    model = fastmlp.Sequential(([fastmlp.Input(shape=(6,))] if build else []) + [
        layers.Dense(8, activation="relu"), layers.Dropout(0.2), layers.Dense(3)])
    model.compile(fastmlp.optimizers.Adam(0.01),
                  fastmlp.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def _batches(x=X, y=LABELS, with_y=True):
    return [(x[i:i + BS], y[i:i + BS]) if with_y else (x[i:i + BS],)
            for i in range(0, len(x), BS)]


def _forever(batches):
    while True:
        yield from batches


class Batches(fastmlp.utils.PyDataset):
    """The batches of a list, recording the calls."""

    def __init__(self, batches, **kwargs):
        super().__init__(**kwargs)
        self.batches, self.calls = batches, []

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        self.calls.append(index)
        return self.batches[index]

    def on_epoch_begin(self):
        self.calls.append("begin")

    def on_epoch_end(self):
        self.calls.append("end")


def _same_weights(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.get_weights(), b.get_weights()))


# ---- the same results as in-memory arrays -------------------------------------------------------
@pytest.mark.parametrize("workers", [1, 3])
def test_a_pydataset_trains_bitwise_as_the_arrays_it_slices(workers):
    ref, ours = _model(), _model()
    h_ref = ref.fit(X, LABELS, batch_size=BS, epochs=3, shuffle=False, verbose=0)
    data = Batches(_batches(), workers=workers, max_queue_size=2)
    h_ours = ours.fit(data, epochs=3, shuffle=False, verbose=0)
    assert _same_weights(ref, ours)
    assert h_ours.history == h_ref.history
    assert data.calls == (["begin"] + list(range(5)) + ["end"]) * 3


def test_a_generator_with_steps_per_epoch_trains_bitwise_as_arrays():
    ref, ours = _model(), _model()
    kw = dict(epochs=3, verbose=0, validation_data=(X[:32], LABELS[:32]))
    h_ref = ref.fit(X, LABELS, batch_size=BS, shuffle=False, **kw)
    # batch_size: not read for a generator's batches, but validation_batch_size defaults to it
    h_ours = ours.fit(_forever(_batches()), steps_per_epoch=5, shuffle=False, batch_size=BS,
                      **kw)
    assert _same_weights(ref, ours) and h_ours.history == h_ref.history


def test_evaluate_and_predict_read_batches_as_arrays():
    model = _model()
    expected = model.evaluate(X, LABELS, batch_size=BS, verbose=0)
    assert model.evaluate(Batches(_batches()), verbose=0) == expected
    assert model.evaluate((b for b in _batches()), verbose=0) == expected
    assert model.evaluate(_forever(_batches()), steps=2, verbose=0) == \
        model.evaluate(X[:32], LABELS[:32], batch_size=BS, verbose=0)
    np.testing.assert_array_equal(model.predict(Batches(_batches(with_y=False)), verbose=0),
                                  model.predict(X, verbose=0))
    np.testing.assert_array_equal(model.predict(_forever(_batches()), steps=3, verbose=0),
                                  model.predict(X[:48], verbose=0))


def test_a_validation_generator_and_pydataset_give_evaluate_s_values():
    model = _model()
    val = Batches(_batches())
    history = model.fit(X, LABELS, epochs=2, verbose=0, validation_data=val)
    assert val.calls == (["begin"] + list(range(5)) + ["end"]) * 2
    logs = model.evaluate(X, LABELS, batch_size=BS, verbose=0, return_dict=True)
    assert history.history["val_loss"][-1] == logs["loss"]
    history = model.fit(X, LABELS, epochs=2, verbose=0, validation_steps=2,
                        validation_data=_forever(_batches()))
    assert history.history["val_accuracy"][-1] == model.evaluate(
        X[32:64], LABELS[32:64], batch_size=BS, verbose=0, return_dict=True)["accuracy"]


def test_a_model_without_input_shape_is_built_from_the_first_batch():
    model = _model(build=False)
    model.fit(Batches(_batches()), verbose=0)
    assert model.input_shape == (None, 6)


def test_class_weight_with_a_pydataset_equals_the_sample_weights():
    weights = {0: 0.5, 1: 2.0, 2: 1.0}
    ref, ours = _model(), _model()
    ref.fit(Batches([(x, y, np.array([weights[int(c)] for c in y], np.float32))
                     for x, y in _batches()]), shuffle=False, verbose=0)
    ours.fit(Batches(_batches()), class_weight=weights, shuffle=False, verbose=0)
    assert _same_weights(ref, ours)
    with pytest.raises(ValueError, match=r"__getitem__\(\d\)\): you cannot specify `class_weight` and "
                                         "`sample_weight` at the same time"):
        ours.fit(Batches([(x, y, np.ones(len(y))) for x, y in _batches()]),
                 class_weight=weights, verbose=0)


def test_a_metric_function_is_updated_batch_by_batch_as_with_arrays():
    def top(y_true, y_pred):
        return np.mean(np.argmax(y_pred, axis=1) == y_true)

    ref, ours = _model(), _model()
    for m in (ref, ours):
        m.compile("sgd", "sparse_categorical_crossentropy", metrics=[top])
    h_ref = ref.fit(X, LABELS, batch_size=BS, shuffle=False, epochs=2, verbose=0)
    h_ours = ours.fit(Batches(_batches()), shuffle=False, epochs=2, verbose=0)
    assert h_ours.history == h_ref.history


# ---- epochs, Keras's semantics ------------------------------------------------------------------
def test_shuffle_orders_the_pydataset_s_batches_anew_each_epoch_reproducibly():
    orders = []
    for _ in range(2):
        data = Batches(_batches())
        _model().fit(data, epochs=3, verbose=0)
        orders.append([[c for c in epoch if c not in ("begin", "end")]
                       for epoch in np.split(np.array(data.calls, dtype=object), 3)])
    assert orders[0] == orders[1]  # set_random_seed fixes them
    assert all(sorted(e) == list(range(5)) for e in orders[0])
    assert len({tuple(e) for e in orders[0]}) > 1


def test_steps_per_epoch_goes_on_through_a_pydataset_and_starts_over_at_its_end():
    data = Batches(_batches())
    with pytest.warns(UserWarning, match="ran out of data"):
        history = _model().fit(data, steps_per_epoch=3, epochs=3, shuffle=False, verbose=0)
    assert history.epoch == [0, 1, 2]
    assert data.calls == ["begin", 0, 1, 2, "end", "begin", 3, 4, "end", "begin", 0, 1, 2, "end"]


def test_a_generator_is_read_to_its_end_then_training_stops_with_keras_warning():
    model = _model()
    with pytest.warns(UserWarning, match="ran out of data; interrupting training"):
        history = model.fit((b for b in _batches()), epochs=3, shuffle=False, verbose=0)
    assert history.epoch == [0] and model.optimizer.iterations == 5
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit((b for b in _batches()), steps_per_epoch=3, epochs=3,
                            shuffle=False, verbose=0)
    assert history.epoch == [0, 1] and model.optimizer.iterations == 10


def test_shuffle_is_ignored_for_a_generator_with_keras_warning():
    with pytest.warns(UserWarning, match="`shuffle=True` was passed, but will be ignored"):
        _model().fit(_forever(_batches()), steps_per_epoch=2, verbose=0)


def test_stop_training_inside_an_epoch_stops_at_that_batch_and_ends_the_epoch():
    data = Batches(_batches())
    stop = callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: setattr(
        model, "stop_training", b == 1))
    model = _model()
    model.fit(data, epochs=3, shuffle=False, verbose=0, callbacks=[stop])
    assert data.calls == ["begin", 0, 1, "end"] and model.optimizer.iterations == 2


def test_workers_make_the_next_batches_while_the_core_trains():
    for workers, ahead in ((2, True), (1, False)):
        data, seen = Batches(_batches(), workers=workers, max_queue_size=3), []

        def look(batch, logs=None):
            deadline = time.monotonic() + (2.0 if ahead else 0.0)
            while batch + 1 not in data.calls and time.monotonic() < deadline:
                time.sleep(0.001)
            seen.append(batch + 1 in data.calls)
        _model().fit(data, shuffle=False, verbose=0,
                     callbacks=[callbacks.LambdaCallback(on_train_batch_begin=look)])
        assert seen[:4] == [ahead] * 4


def test_an_error_in_a_worker_thread_reaches_fit():
    class Broken(Batches):
        def __getitem__(self, index):
            if index == 3:
                raise OSError(f"cannot read file {index}")
            return super().__getitem__(index)
    threads_before = threading.active_count()
    with pytest.raises(OSError, match="cannot read file 3"):
        _model().fit(Broken(_batches(), workers=2), shuffle=False, verbose=0)
    assert threading.active_count() == threads_before  # the pool was shut down


def test_a_resumed_fit_with_backup_and_restore_replays_the_pydataset_order(tmp_path):
    class Stop(callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("Interrupting!")
    ref = _model()
    ref.fit(Batches(_batches()), epochs=4, verbose=0)
    backup = callbacks.BackupAndRestore(tmp_path / "b")
    with pytest.raises(RuntimeError):
        _model().fit(Batches(_batches()), epochs=4, verbose=0, callbacks=[backup, Stop()])
    resumed = _model()
    assert resumed.fit(Batches(_batches()), epochs=4, verbose=0, callbacks=[backup]).epoch \
        == [2, 3]
    assert _same_weights(ref, resumed)


# ---- bad batches and arguments ------------------------------------------------------------------
def _broken(index, batch):
    batches = _batches()
    batches[index] = batch
    return batches


@pytest.mark.parametrize("batch, match", [
    ((X[:16, :5], LABELS[:16]), r"Batch 3 .*x of sample shape \(5,\) .* the first had x of "
                                r"sample shape \(6,\)"),
    ((X[:16].astype(np.float64), LABELS[:16]),
     "Batch 3 .*x of sample shape .6,. and dtype float64, .*first had x of .* dtype float32"),
    ((np.where(X[:16] > 1.5, np.nan, X[:16]), LABELS[:16]),
     r"Batch 3 .*`x`, expected finite values. Received: x\[\d+, \d\]=nan"),
    ((X[:16], LABELS[:15]), r"Batch 3 .*expected 16 samples .*Received: y.shape\[0\]=15"),
    ((X[:16], LABELS[:16], np.ones(16)), r"Batch 3 .*sample_weight of sample shape \(\) .*"
                                         r"the first had .*sample_weight absent"),
    ((X[:16],), r"Batch 3 .*y absent, .*where the first had .*y of sample shape"),
])
def test_a_bad_batch_is_refused_naming_its_index(batch, match):
    for source, name in ((lambda: (b for b in _broken(3, batch)), "from the generator"),
                         (lambda: Batches(_broken(3, batch)),
                          r"of the PyDataset \(__getitem__\(3\)\)")):
        model = _model()
        with pytest.raises(ValueError, match=match.replace("Batch 3 ", f"Batch 3 {name}")):
            model.fit(source(), shuffle=False, verbose=0)
        assert model.optimizer.iterations == 3  # the batches before it trained


def test_a_generator_must_yield_tuples_a_pydataset_may_return_an_array():
    with pytest.raises(ValueError, match=r"Batch 0 from the generator: When passing a Python "
                                         r"generator .* must return a tuple"):
        _model().predict((x for (x,) in _batches(with_y=False)), verbose=0)
    plain = Batches([x for (x,) in _batches(with_y=False)])
    assert _model().predict(plain, verbose=0).shape == (80, 3)


@pytest.mark.parametrize("call, match", [
    (lambda m: m.fit(_forever(_batches()), LABELS, verbose=0),
     "When providing `x` as a generator, `y` should not be passed. Instead, the targets should "
     "be included as part of the generator."),
    (lambda m: m.evaluate(Batches(_batches()), sample_weight=np.ones(80), verbose=0),
     "When providing `x` as a PyDataset, `sample_weight` should not be passed"),
    (lambda m: m.fit(_forever(_batches()), class_weight={0: 1.0}, verbose=0),
     r"`class_weight` is not supported for Python generator inputs. Received: "
     r"class_weight=\{0: 1.0\}"),
    (lambda m: m.fit(Batches(_batches()), validation_split=0.2, verbose=0),
     "`validation_split` is only supported for NumPy arrays. Found incompatible type in the "
     "input: Batches"),
    (lambda m: m.fit(Batches([]), verbose=0), "The PyDataset has length 0"),
    (lambda m: m.fit(X, LABELS, validation_data=[1, 2, 3, 4], verbose=0),
     "`validation_data` must be a tuple .*a generator or a PyDataset"),
])
def test_arguments_that_cannot_go_with_python_batches_are_refused_as_keras(call, match):
    with pytest.raises(ValueError, match=match):
        call(_model())


def test_an_infinite_pydataset_needs_steps_per_epoch():
    class Endless(fastmlp.utils.PyDataset):
        num_batches = None

        def __getitem__(self, index):
            return _batches()[index % 5]
    data = Endless()
    with pytest.raises(ValueError, match="infinite PyDataset .*needs `steps_per_epoch`"):
        _model().fit(data, shuffle=False, verbose=0)
    assert _model().fit(data, steps_per_epoch=7, epochs=2, shuffle=False, verbose=0).epoch \
        == [0, 1]
    with pytest.warns(UserWarning, match="infinite PyDataset. The PyDataset is expected to "
                                         "already be shuffled"):
        _model().fit(data, steps_per_epoch=1, verbose=0)


@pytest.mark.parametrize("kwargs, match", [
    ({"use_multiprocessing": True}, "`use_multiprocessing=True` is not supported .*threads"),
    ({"workers": -1}, "`workers`.*Received: workers=-1"),
    ({"max_queue_size": 0}, "`max_queue_size`.*Received: max_queue_size=0"),
])
def test_pydataset_arguments_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Batches(_batches(), **kwargs)


def test_a_pydataset_that_does_not_call_super_init_warns_as_keras():
    class NoInit(fastmlp.utils.PyDataset):
        def __init__(self):
            self.batches = _batches()

        def __len__(self):
            return 5

        def __getitem__(self, index):
            return self.batches[index]
    with pytest.warns(UserWarning, match=r"should call `super\(\).__init__\(\*\*kwargs\)`"):
        _model().fit(NoInit(), verbose=0)
    assert fastmlp.utils.Sequence is fastmlp.utils.PyDataset
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [b[1][0] for b in Batches(_batches())] == [b[1][0] for b in _batches()]
