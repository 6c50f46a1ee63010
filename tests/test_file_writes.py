"""Writing files (issues 7, 16): saves are atomic; a writer killed mid-save leaves the old file
and a temporary that the next save to the directory removes (only ours, only dead writers');
files get the mode a plain open() gives (0666 minus the umask; a file saved over keeps its mode).
"""

import hashlib
import os
import re
import signal
import socket
import stat
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import _atomic, callbacks, saving
from fastmlp.datasets import _sources

from _mlp_helpers import blobs, classifier

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastmlp.__file__)))
_TEMP = re.compile(r"^\.m\.fastmlp\.[0-9a-f]{8}-[0-9]+-[0-9a-f]{8}\.fastmlp-tmp$")


# ---- atomic saves -----------------------------------------------------------------------------
def _fail_on_call(n, exc, real=None):
    calls = {"n": 0}
    real = real or saving._fastmlp_format._entry

    def entry(zf, name, data):
        calls["n"] += 1
        if calls["n"] == n:
            raise exc
        real(zf, name, data)
    return entry


@pytest.mark.parametrize("n, exc", [(2, OSError("disk full")), (4, KeyboardInterrupt()),
                                    (6, MemoryError()), (1, RuntimeError("first write"))])
def test_a_failure_mid_save_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch, n, exc):
    model = classifier()
    path = tmp_path / "m.fastmlp"
    model.save(str(path))
    before = path.read_bytes()
    monkeypatch.setattr(saving._fastmlp_format, "_entry", _fail_on_call(n, exc))
    with pytest.raises(type(exc)):
        classifier(seed=5).save(str(path))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.fastmlp"]


def test_a_failure_mid_save_of_a_keras_file_keeps_the_old_file(tmp_path, monkeypatch):
    pytest.importorskip("h5py", reason="h5py (the optional extra fastmlp[keras]) is absent")
    path = tmp_path / "m.keras"
    classifier().save(str(path))
    before = path.read_bytes()
    monkeypatch.setattr(saving._keras_format, "_entry",
                        _fail_on_call(3, OSError("disk full"), saving._keras_format._entry))
    with pytest.raises(OSError, match="disk full"):
        classifier(seed=5).save(str(path))  # the weights member, the last of three
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.keras"]


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_a_failure_at_commit_keeps_the_old_file(tmp_path, monkeypatch, step):
    model = classifier()
    path = tmp_path / "w.weights.h5"
    model.save_weights(str(path))
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(f"{step} failed")
    monkeypatch.setattr(saving.os, step, boom)
    with pytest.raises(OSError, match=f"{step} failed"):
        classifier(seed=5).save_weights(str(path))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["w.weights.h5"]


def test_saving_into_a_missing_directory_writes_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        classifier().save(str(tmp_path / "no" / "such" / "m.fastmlp"))
    assert os.listdir(tmp_path) == []


# ---- writers killed mid-save ------------------------------------------------------------------
_STALLED_WRITER = r"""
import sys, time
import fastmlp
from fastmlp import layers, saving
real = saving._fastmlp_format._entry
def stall(zf, name, data):
    real(zf, name, data)
    if name == "arrays/0.bin":
        print("writing", flush=True)
        time.sleep(600)
saving._fastmlp_format._entry = stall
model = fastmlp.Sequential([fastmlp.Input(shape=(256,)), layers.Dense(1024)])
model.save(sys.argv[1])
"""


def _stalled_writer(path):
    """A process stopped in the middle of saving ``path`` (its temporary holds ~1 MB)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([PACKAGE_PARENT,
                                                       os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", _STALLED_WRITER, str(path)], env=env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "writing\n"
    return proc


def _stop(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()


def _temps(directory):
    return sorted(n for n in os.listdir(directory) if n.endswith(".fastmlp-tmp"))


def test_a_killed_writer_leaves_the_old_file_and_its_temp_goes_at_the_next_save(tmp_path):
    path = tmp_path / "m.fastmlp"
    classifier().save(str(path))
    before = path.read_bytes()
    live = _stalled_writer(path)  # first: a writer's own save would clean the killed one's
    killed = _stalled_writer(path)
    _stop(killed)
    try:
        stale = [n for n in _temps(tmp_path) if f"-{killed.pid}-" in n]
        assert len(stale) == 1 and _TEMP.match(stale[0])
        assert os.path.getsize(tmp_path / stale[0]) > 1 << 20
        assert path.read_bytes() == before
        host = _atomic._host_tag()
        # Look like ours but must stay: another host's (a shared directory), a directory, a
        # temporary of the old mkstemp naming, other names.
        other_host = f".m.fastmlp.{'0' * 8 if host != '0' * 8 else '1' * 8}-{killed.pid}-" \
                     f"0123abcd.fastmlp-tmp"
        keep = [other_host, ".m.fastmlp.k2j4_x9q.tmp", "notes.fastmlp-tmp", "m.fastmlp-tmp",
                f".m.fastmlp.{host}-{killed.pid}-0123abcd.fastmlp-tmp.bak"]
        for name in keep:
            (tmp_path / name).write_bytes(b"keep")
        (tmp_path / f".d.{host}-{killed.pid}-0123abcd.fastmlp-tmp").mkdir()
        before_save = set(os.listdir(tmp_path))
        classifier(seed=2).save(str(tmp_path / "other.fastmlp"))  # another file, same directory
        after = set(os.listdir(tmp_path))
        assert after == (before_save - {stale[0]}) | {"other.fastmlp"}
        assert [n for n in _temps(tmp_path) if f"-{live.pid}-" in n]  # a live writer's stays
    finally:
        _stop(live)
    classifier().save(str(path))  # the writer stopped since: its temporary goes too
    assert [n for n in _temps(tmp_path) if _TEMP.match(n)] == [other_host]


def test_temporaries_are_named_for_this_host_and_process(tmp_path):
    fd, tmp = _atomic.create_temp(str(tmp_path), "x" * 300)
    os.close(fd)
    name = os.path.basename(tmp)
    assert len(name) < 200 and name.startswith("." + "x" * 120 + ".")
    digest = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
    assert f".{digest}-{os.getpid()}-" in name and name.endswith(".fastmlp-tmp")
    assert _atomic.remove_stale_temps(str(tmp_path)) == 0  # our own process: in use
    assert os.path.exists(tmp)


# ---- file modes -------------------------------------------------------------------------------
def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077], indirect=True, ids=oct)
def test_every_writer_gives_the_umask_mode(tmp_path, umask):
    """mkstemp created every saved file 0600 whatever the umask."""
    x, y = blobs(n=64)
    model = classifier()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[
        callbacks.ModelCheckpoint(str(tmp_path / "ckpt.fastmlp")),
        callbacks.ModelCheckpoint(str(tmp_path / "ckpt.weights.h5"), save_weights_only=True),
        callbacks.CSVLogger(str(tmp_path / "log.csv"))])
    model.save(str(tmp_path / "m.keras"))
    model.save_weights(str(tmp_path / "w.weights.h5"))
    source = tmp_path / "source.gz"
    source.write_bytes(b"data")
    _sources.download_file([source.as_uri()], tmp_path / "data" / "f.gz",
                           hashlib.sha256(b"data").hexdigest())
    written = ["ckpt.fastmlp", "ckpt.weights.h5", "log.csv", "m.keras", "w.weights.h5",
               "data/f.gz"]
    assert {name: oct(_mode(tmp_path / name)) for name in written} == \
        {name: oct(0o666 & ~umask) for name in written}


def test_onnx_export_gives_the_umask_mode(tmp_path):
    pytest.importorskip("onnx")
    old = os.umask(0o027)
    try:
        classifier().export(str(tmp_path / "m.onnx"))
    finally:
        os.umask(old)
    assert _mode(tmp_path / "m.onnx") == 0o640


def test_saving_over_a_file_keeps_its_mode(tmp_path):
    path = tmp_path / "m.fastmlp"
    classifier().save(str(path))
    os.chmod(path, 0o640)
    classifier(seed=3).save(str(path))
    assert _mode(path) == 0o640
    model = fastmlp.models.load_model(str(path))
    np.testing.assert_array_equal(model.get_weights()[0], classifier(seed=3).get_weights()[0])
