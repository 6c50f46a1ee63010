import io
import re

import numpy as np
import pytest

from fastmlp import _progbar

from _mlp_helpers import blobs, classifier


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_verbose_0_prints_nothing(capsys):
    x, y = blobs(n=64)
    model = classifier()
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.25)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_verbose_1_to_a_pipe_prints_one_clean_line_per_epoch(capsys):
    x, y = blobs(n=64)
    classifier().fit(x, y, epochs=2, batch_size=16, verbose=1, validation_split=0.25)
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out and "\b" not in out
    lines = out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert re.match(r"3/3 ━{20} \d+s \d+(us|ms|s)/step - accuracy: \d\.\d{4} - loss: "
                    r"\d\.\d{4} - val_accuracy: \d\.\d{4} - val_loss: \d\.\d{4}$", lines[1])


def test_verbose_auto_is_1(capsys):
    x, y = blobs(n=32)
    classifier().fit(x, y, epochs=1)
    assert capsys.readouterr().out.startswith("Epoch 1/1\n1/1 ━")


def test_verbose_2_prints_the_keras_summary_line(capsys):
    x, y = blobs(n=64)
    classifier().fit(x, y, epochs=1, batch_size=32, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/1"
    assert re.match(r"2/2 - \d+s - \d+(us|ms|s)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}$",
                    lines[1])


def test_evaluate_prints_one_line(capsys):
    x, y = blobs(n=64)
    model = classifier()
    model.evaluate(x, y, batch_size=32)
    out = capsys.readouterr().out
    assert re.match(r"2/2 ━{20} \d+s \d+(us|ms|s)/step - accuracy: \d\.\d{4} - loss: "
                    r"\d\.\d{4}\n$", out)


def test_small_predict_is_silent_even_with_verbose(capsys):
    x, _ = blobs(n=10)
    classifier().predict(x, verbose=1)
    assert capsys.readouterr().out == ""


def test_live_bar_redraws_in_place_on_a_terminal(monkeypatch):
    stream = FakeTTY()
    bar = _progbar.Progbar(10, verbose=1, stream=stream, interval=0.0)
    for step in range(1, 10):
        bar.update(step, {"loss": 1.0 / step})
    bar.update(10, {"loss": 0.1}, finalize=True)
    out = stream.getvalue()
    assert out.count("\r") == 10 and out.endswith("\n") and out.count("\n") == 1
    assert "\x1b[32m" in out  # coloured on a terminal
    assert " - loss: 0.1000" in out.split("\r")[-1]


def test_live_bar_is_throttled():
    stream = FakeTTY()
    bar = _progbar.Progbar(100000, verbose=1, stream=stream)  # default interval 0.1 s
    for step in range(1, 100000):
        bar.update(step, {"loss": 0.5})
    bar.update(100000, {"loss": 0.5}, finalize=True)
    assert stream.getvalue().count("\r") < 20


def test_fit_drives_the_live_bar_through_batches(monkeypatch):
    stream = FakeTTY()
    monkeypatch.setattr("sys.stdout", stream)
    monkeypatch.setattr(_progbar, "REDRAW_INTERVAL", 0.0)  # redraw on every call
    x, y = blobs(n=640)
    classifier().fit(x, y, epochs=1, batch_size=32, verbose=1)
    out = stream.getvalue()
    assert out.count("\r") >= 2 and "20/20" in out


def test_value_formatting_matches_keras():
    assert _progbar.format_value(0.123456) == "0.1235"
    assert _progbar.format_value(0.0001234) == "1.2340e-04"
    assert _progbar.format_time_per_step(0.0021) == "2ms/step"
    assert _progbar.format_time_per_step(0.0000021) == "2us/step"
    assert _progbar.format_time_per_step(2.4) == "2s/step"


def test_ascii_fallback_for_streams_that_cannot_encode_the_bar():
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    _progbar.Progbar(2, verbose=1, stream=stream).update(2, {}, finalize=True)
    stream.flush()
    assert b"2/2 ====================" in stream.buffer.getvalue()


@pytest.mark.skipif(not hasattr(__import__("os"), "openpty"), reason="needs a POSIX pty")
def test_fit_on_a_real_terminal_redraws_in_place():
    import os
    import subprocess
    import sys
    script = (
        "import numpy as np, fastmlp\n"
        "from fastmlp import layers, _progbar\n"
        "_progbar.REDRAW_INTERVAL = 0.0\n"
        "x = np.random.default_rng(0).normal(size=(640, 4)).astype(np.float32)\n"
        "y = (x[:, 0] > 0).astype(int)\n"
        "m = fastmlp.Sequential([fastmlp.Input(shape=(4,)), layers.Dense(2)])\n"
        "m.compile(loss=fastmlp.losses.SparseCategoricalCrossentropy(from_logits=True))\n"
        "m.fit(x, y, epochs=2, batch_size=32)\n")
    master, slave = os.openpty()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-c", script], stdout=slave, stderr=subprocess.PIPE,
                          env=env, timeout=120)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    out = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0, proc.stderr.decode()
    assert "Epoch 1/1" not in out and "Epoch 2/2" in out
    redraws = re.findall(r"\r(?!\n)", out)  # the terminal turns "\n" into "\r\n"; skip those
    assert len(redraws) >= 4  # the bar is redrawn in place within each epoch
    assert "20/20" in out and "\x1b[32m" in out
