"""Data-parallel training on MPI (issue 21): fastmlp.distribution.

The MPI tests launch ``mpirun -n 2`` and ``mpirun -n 3 --oversubscribe`` on loopback running
tests/_mpi_worker.py, which writes each rank's results to a file. They skip (with the reason)
where mpirun or mpi4py is missing, unless FASTMLP_REQUIRE_MPI=1 (.ci/mpi sets it), where that
is a failure. The in-process tests run the distributed code path on a group of one process.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastmlp
from fastmlp import callbacks, distribution as D, layers
from fastmlp.distribution import _mpi

WORKER = Path(__file__).with_name("_mpi_worker.py")
PACKAGE_ROOT = str(Path(fastmlp.__file__).resolve().parent.parent)
SCENARIOS = ["one_step", "one_batch_sharded", "last_batch_smaller_than_ranks",
             "epochs_replicated", "epochs_sharded", "callbacks_agree", "stop_on_one_rank",
             "nan_in_one_shard", "bad_argument_on_one_rank", "different_batch_size",
             "different_data", "different_model_in_train_on_batch",
             "callback_raises_at_epoch_end", "callback_raises_in_batch",
             "interrupt_on_one_rank", "overflow_in_one_part", "after_failures"]


def _mpi_missing():
    if shutil.which("mpirun") is None:
        return "mpirun not found (apt-get install openmpi-bin libopenmpi-dev)"
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed (pip install fastmlp[mpi])"
    return None


def _require_mpi():
    missing = _mpi_missing()
    if missing and os.environ.get("FASTMLP_REQUIRE_MPI") == "1":
        pytest.fail(f"FASTMLP_REQUIRE_MPI=1 but {missing}")
    if missing:
        pytest.skip(missing)


def mpirun(n, args, cwd, timeout=300):
    _require_mpi()
    cmd = ["mpirun", "-n", str(n), "--mca", "btl_tcp_if_include", "lo",
           "--mca", "oob_tcp_if_include", "lo"]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    if n > (os.cpu_count() or 1):
        cmd.append("--oversubscribe")
    path = [PACKAGE_ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    return subprocess.run(cmd + [sys.executable] + args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module", params=[2, 3], ids=["2ranks", "3ranks"])
def run(request, tmp_path_factory):
    """Every scenario on N ranks in one launch: {scenario: [rank 0's result, rank 1's, ...]}."""
    n = request.param
    out = tmp_path_factory.mktemp(f"mpi{n}")
    proc = mpirun(n, [str(WORKER), str(out)] + SCENARIOS, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {}
    for rank in range(n):
        for line in (out / f"results-{rank}.jsonl").read_text().splitlines():
            r = json.loads(line)
            results.setdefault(r.pop("scenario"), []).append(r)
    assert sorted(results) == sorted(SCENARIOS)
    return {"n": n, "dir": out, "stdout": proc.stdout, "results": results}


def same_on_every_rank(results, key):
    values = [r[key] for r in results]
    assert all(v == values[0] for v in values), values
    return values[0]


# ---- the step and the epoch ---------------------------------------------------------------------

def test_one_step_of_the_global_batch_equals_one_process(run):
    """Batch 48 split over the ranks, with sample and class weights, after shuffling."""
    r = run["results"]["one_step"]
    assert all(x["diff"] < 1e-6 for x in r), r
    assert all(x["moved"] > 1e-3 for x in r)  # the step changed rank 0's initial weights
    same_on_every_rank(r, "crc")  # and the others, which started elsewhere, got them


def test_train_on_batch_over_shards_of_different_sizes_equals_their_union(run):
    r = run["results"]["one_batch_sharded"]
    assert all(x["diff"] < 1e-5 for x in r), r  # Adam's first step amplifies rounding
    same_on_every_rank(r, "crc")


def test_a_last_batch_smaller_than_the_ranks_leaves_some_without_rows(run):
    r = run["results"]["last_batch_smaller_than_ranks"]
    assert all(x["diff"] < 1e-6 for x in r), r
    same_on_every_rank(r, "crc")
    logs = same_on_every_rank(r, "logs")
    for key in ("loss", "accuracy", "auc", "top_prob"):  # core and Python metrics, global
        np.testing.assert_allclose(logs[key], r[0]["ref_logs"][key], rtol=1e-6)


def test_epochs_keep_the_ranks_bitwise_identical_and_reach_one_process_accuracy(run):
    """Dropout + BatchNormalization (local statistics), validation: the weights (with the moving
    statistics) agree to the bit after every epoch; accuracy as one process within noise."""
    r = run["results"]["epochs_replicated"]
    crcs = same_on_every_rank(r, "crcs")
    assert len(set(crcs)) == 4
    history = same_on_every_rank(r, "history")
    ref = r[0]["ref_history"]
    for key in ("accuracy", "val_accuracy"):
        assert abs(history[key][-1] - ref[key][-1]) < 0.03, (history, ref)
    assert history["val_accuracy"][-1] > 0.95
    assert same_on_every_rank(r, "iterations") == 4 * -(-2400 // 64)


def test_shards_of_different_sizes_end_together(run):
    r = run["results"]["epochs_sharded"]
    n = run["n"]
    assert len({x["rows"] for x in r}) == n
    same_on_every_rank(r, "crcs")
    history = same_on_every_rank(r, "history")
    total = sum(400 + 150 * k for k in range(n))
    assert same_on_every_rank(r, "iterations") == 3 * -(-total // 50)
    assert history["accuracy"][-1] > 0.9 and history["val_accuracy"][-1] > 0.9


# ---- callbacks, output, files --------------------------------------------------------------------

def test_callbacks_decide_alike_and_only_rank_0_prints_and_writes(run):
    r = run["results"]["callbacks_agree"]
    assert same_on_every_rank(r, "epochs") == 2  # EarlyStopping
    assert same_on_every_rank(r, "final_lr") == pytest.approx(0.025)  # ReduceLROnPlateau
    same_on_every_rank(r, "crc")
    files = sorted(p.name for p in run["dir"].iterdir() if not p.name.startswith("results"))
    assert files == ["ckpt-0.fastmlp", "log-0.csv", "model-0.fastmlp"]
    assert run["stdout"].count("Epoch 1/6") == 1
    assert run["stdout"].count("early stopping") == 1


def test_stop_training_on_one_rank_stops_every_rank_at_the_same_step(run):
    r = run["results"]["stop_on_one_rank"]
    assert same_on_every_rank(r, "epochs") == 1
    assert same_on_every_rank(r, "iterations") == 5  # batches 0..4
    same_on_every_rank(r, "crc")


# ---- faults -------------------------------------------------------------------------------------

@pytest.mark.parametrize("scenario, error, text, failed", [
    ("nan_in_one_shard", "ValueError", "Received: x[123, 4]=nan", "last"),
    ("bad_argument_on_one_rank", "ValueError", "batch_size=0", 1),
    ("callback_raises_at_epoch_end", "RuntimeError", "boom at the end of epoch 2", "last"),
    ("callback_raises_in_batch", "RuntimeError", "KeyError: 'boom in batch 4'", 0),
    ("interrupt_on_one_rank", "KeyboardInterrupt", "KeyboardInterrupt [raised on", "last"),
    ("different_model_in_train_on_batch", "ValueError", "expects shape (20, 9)", 1),
])
def test_a_failing_rank_makes_every_rank_raise_the_same_error(run, scenario, error, text,
                                                              failed):
    r = run["results"][scenario]
    failed = run["n"] - 1 if failed == "last" else failed
    assert same_on_every_rank(r, "error") == error
    message = same_on_every_rank(r, "message")
    assert text in message and f"raised on rank {failed} of {run['n']}" in message
    assert same_on_every_rank(r, "failed_rank") == failed
    assert same_on_every_rank(r, "agreed")


def test_an_overflow_in_one_rank_s_rows_stops_every_rank_at_that_step(run):
    r = run["results"]["overflow_in_one_part"]
    assert same_on_every_rank(r, "error") == "FloatingPointError"
    message = same_on_every_rank(r, "message")
    assert message.startswith("Training stopped in epoch 1: the gradients of batch 2 (of 10) "
                              "hold NaN or Inf")
    assert f"raised on every rank ({run['n']} ranks" in message


@pytest.mark.parametrize("scenario, text", [
    ("different_batch_size", "batch_size: 31 against 30"),
    ("different_data", "the values of x, y or sample_weight"),
])
def test_ranks_that_disagree_are_refused_alike(run, scenario, text):
    r = run["results"][scenario]
    assert same_on_every_rank(r, "error") == "ValueError"
    message = same_on_every_rank(r, "message")
    assert "rank 1 differs from rank 0" in message and text in message


def test_the_ranks_train_together_after_the_failures(run):
    same_on_every_rank(run["results"]["after_failures"], "crc")


def test_a_killed_rank_ends_the_job_and_leaves_a_whole_checkpoint(tmp_path):
    proc = mpirun(2, [str(WORKER), str(tmp_path), "killed_rank"], tmp_path, timeout=120)
    assert proc.returncode != 0
    assert not (tmp_path / "results-0.jsonl").exists()  # rank 0 never finished training
    model = fastmlp.models.load_model(str(tmp_path / "killed.fastmlp"))
    assert model.optimizer.iterations > 0


def test_the_cli_trains_under_mpirun_and_rank_0_reports(tmp_path):
    proc = mpirun(2, ["-m", "fastmlp", "train", "--dataset", "fashion_mnist_small",
                      "--epochs", "2", "--hidden", "32", "--verbose", "2", "--threads", "1",
                      "--save", str(tmp_path / "m.fastmlp")], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("test accuracy:") == 1
    assert proc.stdout.count("Epoch 2/2") == 1
    assert fastmlp.models.load_model(str(tmp_path / "m.fastmlp")).optimizer.iterations > 0


# ---- in one process (no MPI) ---------------------------------------------------------------------

@pytest.fixture
def single():
    yield D.DataParallel._single()
    D.set_distribution(None)


def _model(seed=3):
    fastmlp.utils.set_random_seed(seed)
    m = fastmlp.Sequential([fastmlp.Input((12,)), layers.Dense(16, activation="relu"),
                            layers.Dropout(0.3), layers.BatchNormalization(),
                            layers.Dense(3, activation="softmax")])
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy", "auc", _top])
    return m


def _top(y_true, y_pred):
    return np.max(y_pred, axis=-1)


def _data(n=157):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 12)).astype(np.float32), rng.integers(0, 3, n)


def _same_weights(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


@pytest.mark.parametrize("auto_shard", [True, False])
def test_a_group_of_one_trains_bitwise_as_one_process(auto_shard):
    """The distributed path (status exchanges, plan, seeds, validation, NumPy metrics) changes
    nothing on its own: one rank trains and logs as fit without a distribution."""
    x, y = _data()
    kw = dict(batch_size=20, epochs=3, validation_split=0.2, verbose=0,
              class_weight={0: 1.0, 1: 0.5, 2: 2.0})
    plain = _model()
    expected = plain.fit(x, y, **kw).history
    D.set_distribution(D.DataParallel._single(auto_shard))
    try:
        dist = _model()
        got = dist.fit(x, y, **kw).history
        batch = dist.train_on_batch(x[:30], y[:30], return_dict=True)
    finally:
        D.set_distribution(None)
    assert got == expected
    assert batch == plain.train_on_batch(x[:30], y[:30], return_dict=True)
    assert _same_weights(plain, dist)


def test_a_failure_in_a_group_of_one_keeps_its_message(single):
    x, y = _data()
    x[40, 2] = np.nan
    D.set_distribution(single)
    with pytest.raises(ValueError, match=r"Received: x\[40, 2\]=nan$") as info:
        _model().fit(x, y, batch_size=16, shuffle=False, verbose=0)
    assert info.value.failed_rank == 0


def test_a_group_of_one_trains_scipy_sparse_input_as_one_process(single):
    sparse = pytest.importorskip("scipy.sparse")
    x, y = _data()
    x[x < 0.5] = 0.0
    plain = _model()
    expected = plain.fit(sparse.csr_matrix(x), y, batch_size=16, epochs=2, verbose=0).history
    D.set_distribution(single)
    dist = _model()
    assert dist.fit(sparse.csr_matrix(x), y, batch_size=16, epochs=2, verbose=0).history == \
        expected
    assert _same_weights(plain, dist)


class _AsRank1(_mpi.LocalComm):
    """This process as rank 1: the state "rank 0" broadcasts is the model's own."""

    def __init__(self, model):
        self.model = model

    def Get_rank(self):
        return 1

    def bcast(self, obj, root=0):
        return self.model.get_weights(), self.model.get_training_state()


def test_ranks_other_than_0_print_nothing_and_write_no_file(single, tmp_path, capsys):
    x, y = _data()
    m = _model()
    single._setup(_AsRank1(m), single._reducer, True)
    D.set_distribution(single)
    m.fit(x, y, epochs=2, verbose=1, callbacks=[
        callbacks.ModelCheckpoint(str(tmp_path / "ckpt.fastmlp")),
        callbacks.CSVLogger(str(tmp_path / "log.csv")),
        callbacks.EarlyStopping(monitor="loss", min_delta=100.0, patience=0, verbose=1)])
    m.save(str(tmp_path / "m.fastmlp"))
    m.save_weights(str(tmp_path / "w.weights.h5"))
    assert list(tmp_path.iterdir()) == []
    assert capsys.readouterr().out == ""


def test_distribution_api():
    assert D.distribution() is None
    dist = D.DataParallel._single(auto_shard_dataset=False)
    D.set_distribution(dist)
    try:
        assert D.distribution() is dist
        assert (D.rank(), D.size(), dist.num_processes, dist.data_shard_id) == (0, 1, 1, 0)
        assert dist.auto_shard_dataset is False
    finally:
        D.set_distribution(None)
    assert D.distribution() is None
    with pytest.raises(ValueError, match=r"`value`.*Received: value='dp'"):
        D.set_distribution("dp")


def test_rank_and_size_come_from_the_launcher_without_a_distribution(monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "3")
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert (D.rank(), D.size()) == (3, 4)
    for name in ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK",
                 "PMI_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert (D.rank(), D.size()) == (0, 1)


@pytest.mark.parametrize("kwargs, name", [({"devices": ["cpu:0"]}, "devices"),
                                          ({"device_mesh": object()}, "device_mesh"),
                                          ({"auto_shard_dataset": "yes"}, "auto_shard_dataset")])
def test_data_parallel_checks_its_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        D.DataParallel(**kwargs)


def test_without_mpi4py_data_parallel_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r"pip install fastmlp\[mpi\]"):
        D.DataParallel()


def test_fastmlp_imports_and_trains_without_loading_mpi():
    code = ("import sys, numpy as np, fastmlp; from fastmlp import distribution, layers\n"
            "m = fastmlp.Sequential([fastmlp.Input((3,)), layers.Dense(1)])\n"
            "m.compile('sgd', 'mse'); m.fit(np.ones((8, 3)), np.ones((8, 1)), verbose=0)\n"
            "maps = open('/proc/self/maps').read()\n"
            "print('mpi4py' in sys.modules, 'libmpi' in maps)")
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout
    assert out.strip() == "False False"
