"""The `fastmlp` command line, run as a subprocess (python -m fastmlp) on the shipped data set."""

import dataclasses
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import cli
from fastmlp.datasets import fashion_mnist, fashion_mnist_small

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastmlp.__file__)))


def run_cli(*args, env=None):
    """Run `python -m fastmlp ARGS` against the fastmlp under test; never download."""
    full_env = dict(os.environ, FASTMLP_NO_DOWNLOAD="1", **(env or {}),
                    PYTHONPATH=os.pathsep.join([PACKAGE_PARENT,
                                                os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "fastmlp", *map(str, args)], env=full_env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short training run on the shipped subset, shared by the tests that inspect it."""
    tmp = tmp_path_factory.mktemp("train")
    model_path = tmp / "model.fastmlp"
    args = ["train", "--dataset", "fashion_mnist_small", "--epochs", "2", "--hidden", "32",
            "--batch-size", "64", "--threads", "1", "--seed", "3", "--verbose", "2",
            "--validation-split", "0.2", "--save", model_path]
    plot_path = None
    try:
        import matplotlib  # noqa: F401
        plot_path = tmp / "curves.png"
        args += ["--plot", plot_path]
    except ImportError:
        pass
    return run_cli(*args), model_path, plot_path, tmp


def test_info():
    result = run_cli("info")
    assert result.returncode == 0, result.stderr
    assert f"fastmlp {fastmlp.__version__}" in result.stdout
    assert re.search(r"^isa: \w+", result.stdout, re.M)
    assert re.search(r"^threads: \d+", result.stdout, re.M)


def test_train_reports_dataset_accuracy_time_and_speed(trained):
    result, model_path, _, _ = trained
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "dataset: Fashion-MNIST small (shipped subset), 1000 training and 300 test" in out
    assert "model: 784-32-10 relu, adam" in out
    assert "2 epochs, batch 64, seed 3, 1 threads, 0.2 held out for validation" in out
    assert "Epoch 2/2" in out and "val_accuracy" in out  # verbose 2: one line per epoch
    acc = float(re.search(r"^test accuracy: (\d\.\d{4}) \(test loss \d+\.\d+\)$", out, re.M)[1])
    assert 0.4 < acc <= 1.0  # 2 epochs on 800 images: well above chance (0.1)
    m = re.search(r"^training time: (\d+(?:\.\d+)?(?:e-\d+)?) s for 2 epochs, ([\d,]+) samples/s$",
                  out, re.M)
    assert m and float(m[1]) > 0 and int(m[2].replace(",", "")) > 0
    assert f"saved model to {model_path}" in out and model_path.is_file()


def test_train_plot_writes_png(trained):
    result, _, plot_path, _ = trained
    if plot_path is None:
        pytest.skip("matplotlib is not installed")
    assert f"saved training curves to {plot_path}" in result.stdout
    assert plot_path.read_bytes()[:4] == b"\x89PNG"


def test_predict_round_trip(trained, tmp_path):
    result, model_path, _, _ = trained
    assert result.returncode == 0, result.stderr
    _, (x_test, _) = fashion_mnist_small.load_data()
    np.save(tmp_path / "x.npy", x_test[:7])
    out = run_cli("predict", model_path, tmp_path / "x.npy", "-o", tmp_path / "p.npy")
    assert out.returncode == 0, out.stderr
    assert "wrote predictions (7, 10) float32 to" in out.stdout
    probs = np.load(tmp_path / "p.npy")
    assert probs.shape == (7, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    expected = fastmlp.models.load_model(model_path).predict(x_test[:7], verbose=0)
    np.testing.assert_array_equal(probs, expected)

    classes = run_cli("predict", model_path, tmp_path / "x.npy", "--classes")
    assert classes.returncode == 0, classes.stderr
    labels = np.load(tmp_path / "x.pred.npy")  # default output name
    np.testing.assert_array_equal(labels, probs.argmax(axis=1))


@pytest.mark.parametrize("args, status, message", [
    ((), 2, "the following arguments are required: command"),
    (("train", "--epochs", "0"), 2, "expected a positive int, got '0'"),
    (("train", "--hidden", "12,x"), 2, "comma-separated positive layer widths"),
    (("train", "--validation-split", "1.5"), 2, "expected a fraction in [0, 1)"),
    (("train", "--dataset", "cifar"), 2, "invalid choice: 'cifar'"),
    (("train", "--dataset", "fashion_mnist_small", "--epochs", "1", "--activation", "bogus"),
     1, "fastmlp train: error:"),
    (("predict", "missing.model", "x.npy"), 1, "model file 'missing.model' does not exist"),
])
def test_bad_arguments_fail_with_a_message(args, status, message):
    result = run_cli(*args)
    assert result.returncode == status
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_predict_rejects_non_npy_input(trained, tmp_path):
    _, model_path, _, _ = trained
    (tmp_path / "x.npy").write_text("not an array")
    result = run_cli("predict", model_path, tmp_path / "x.npy")
    assert result.returncode == 1
    assert "cannot read" in result.stderr and "as a .npy array" in result.stderr


@pytest.mark.parametrize("dataset", ["mnist", "auto"])
def test_wrong_data_dir_is_an_error(tmp_path, dataset):
    result = run_cli("train", "--dataset", dataset, "--data-dir", tmp_path)
    assert result.returncode == 1
    assert f"{tmp_path} does not hold all of" in result.stderr
    assert "shipped" not in result.stdout


def test_mnist_offline_says_how_to_get_it(tmp_path):
    env_free = {"XDG_CACHE_HOME": str(tmp_path), "FASTMLP_DATA": str(tmp_path / "none")}
    result = run_cli("train", "--dataset", "mnist", env=env_free)
    assert result.returncode == 1
    assert "mnist not found" in result.stderr
    assert "FASTMLP_DATA" in result.stderr and "path=" in result.stderr


def test_auto_falls_back_to_shipped_subset_and_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("FASTMLP_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(fashion_mnist, "SPEC", dataclasses.replace(
        fashion_mnist.SPEC, system_dirs=(str(tmp_path / "none"),)))
    threads = fastmlp.get_num_threads()
    try:
        status = cli.main(["train", "--epochs", "1", "--hidden", "16", "--verbose", "0",
                           "--threads", "1"])
    finally:
        fastmlp.set_num_threads(threads)
    out = capsys.readouterr().out
    assert status == 0
    assert "Fashion-MNIST not found locally, so training on the small subset" in out
    assert "apt-get install dataset-fashion-mnist" in out
    assert "dataset: Fashion-MNIST small (shipped subset)" in out
