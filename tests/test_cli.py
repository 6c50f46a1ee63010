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


def test_predict_says_what_input_the_model_expects_and_warns_on_another_scale(trained, tmp_path):
    """Trained on raw 0-255 pixels, given images in [0, 1]: it predicted one class silently."""
    _, model_path, _, _ = trained
    _, (x_test, _) = fashion_mnist_small.load_data()
    np.save(tmp_path / "raw.npy", x_test[:50])
    np.save(tmp_path / "scaled.npy", x_test[:50].astype(np.float32) / 255)
    raw = run_cli("predict", model_path, tmp_path / "raw.npy")
    assert raw.returncode == 0, raw.stderr
    assert "model expects: uint8 inputs of shape (28, 28) per sample, values in [0, 255] (as in " \
           "training)" in raw.stdout
    assert "warning" not in raw.stderr
    scaled = run_cli("predict", model_path, tmp_path / "scaled.npy")
    assert scaled.returncode == 0, scaled.stderr
    assert "fastmlp predict: warning: the input's values are in [0, 1], far from the training " \
           "data's [0, 255]" in scaled.stderr
    assert "wrote predictions (50, 10) float32" in scaled.stdout


@pytest.mark.parametrize("low, high, warns", [(0, 255, False), (10, 200, False), (0, 1, True),
                                              (-300, 255, True), (0, 600, True), (0, 20, True)])
def test_predict_range_warning_rule(low, high, warns):
    model = cli.build_seed_model((4,), "relu")
    model._training_input = {"dtype": "uint8", "shape": [28, 28], "min": 0.0, "max": 255.0}
    x = np.linspace(low, high, 2 * 784).reshape(2, 28, 28)
    assert (cli._range_warning(model, x) is not None) == warns


def test_predict_on_a_file_without_the_record_still_works(trained, tmp_path):
    """Files written before the record existed load; predict says it cannot tell."""
    import json
    import zipfile
    _, model_path, _, _ = trained
    old = tmp_path / "old.fastmlp"
    with zipfile.ZipFile(model_path) as zin, zipfile.ZipFile(old, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "fastmlp.json":
                header = json.loads(data)
                del header["training_input"]
                data = json.dumps(header).encode()
            zout.writestr(info.filename, data)
    _, (x_test, _) = fashion_mnist_small.load_data()
    np.save(tmp_path / "x.npy", x_test[:3].astype(np.float32) / 255)
    result = run_cli("predict", old, tmp_path / "x.npy")
    assert result.returncode == 0, result.stderr
    assert "model expects: inputs of shape (28, 28) per sample (this file does not record" \
        in result.stdout
    assert "warning" not in result.stderr


@pytest.mark.parametrize("args, status, message", [
    (("train", "--seed", "-1"), 2, "expected a non-negative integer, got '-1'"),
    (("train", "--epochs", "0"), 2, "expected a positive int, got '0'"),
    (("train", "--hidden", "12,x"), 2, "comma-separated positive layer widths"),
    (("train", "--validation-split", "1.5"), 2, "expected a fraction in [0, 1)"),
    (("train", "--dataset", "cifar"), 2, "invalid choice: 'cifar'"),
    (("train", "--dataset", "fashion_mnist_small", "--epochs", "1", "--activation", "bogus"),
     2, "argument --activation: invalid choice: 'bogus'"),
    (("train", "--optimizer", "adamx"), 2, "argument --optimizer: invalid choice: 'adamx'"),
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


# ---- usage errors, help, and destinations checked before training (issue 16) ---------------
def test_no_command_prints_the_whole_help_and_fails(capsys):
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: fastmlp")
    for command in ("info", "selfcheck", "train", "predict"):
        assert re.search(rf"^    {command}\b", err, re.M), err  # each listed with its summary
    assert "run a saved model on a .npy array" in err


@pytest.mark.parametrize("argv, usage, message", [
    (["train", "--epocs", "3"], "usage: fastmlp train",
     "fastmlp train: error: unrecognized arguments: --epocs 3 (did you mean --epochs?)"),
    (["train", "--batchsize=4"], "usage: fastmlp train", "did you mean --batch-size?"),
    (["predict", "m.fastmlp", "x.npy", "--clases"], "usage: fastmlp predict",
     "did you mean --classes?"),
    (["selfcheck", "extra"], "usage: fastmlp selfcheck", "unrecognized arguments: extra"),
    (["--verbose"], "usage: fastmlp [-h]", "fastmlp: error: unrecognized arguments: --verbose"),
])
def test_unknown_options_show_the_subcommands_usage_and_the_close_match(capsys, argv, usage,
                                                                         message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage) and message in err, err


def _train_options():
    sub = cli.build_parser().parse_args(["train"]).subcommands["train"]
    return sub, [a for a in sub._actions if a.option_strings and a.dest != "help"]


def test_train_help_shows_every_default_and_the_choices(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # undo argparse's line wrapping
    _, options = _train_options()
    for action in options:
        if action.default not in (None, False):
            shown = action.default if isinstance(action.default, str) else f"{action.default:g}"
            assert f"(default: {shown})" in text, action.option_strings
        elif action.default is None:
            assert "default" in action.help, action.option_strings  # says what happens instead
    from fastmlp import activations, optimizers
    for name in list(activations._FUNCTIONS) + ["gelu_tanh"]:
        assert f" {name}," in text or f" {name} (" in text, name
    assert "--optimizer {" + ",".join(sorted(optimizers._NAMES)) + "}" in text
    assert "--dataset {auto,fashion_mnist,mnist,fashion_mnist_small}" in text


def test_activation_and_optimizer_names_are_the_librarys_and_case_blind():
    args = cli.build_parser().parse_args(["train", "--activation", "GELU", "--optimizer", "Adam"])
    assert (args.activation, args.optimizer) == ("gelu", "adam")
    _, options = _train_options()
    choices = {a.dest: a.choices for a in options}
    for name in choices["activation"]:
        fastmlp.layers.Dense(2, activation=name)  # every choice is one the layers accept
    for name in choices["optimizer"]:
        fastmlp.optimizers.get(name)


def _train_fails_before_training(capsys, *extra):
    status = cli.main(["train", "--dataset", "fashion_mnist_small", "--epochs", "1",
                       "--hidden", "8", "--verbose", "0", "--threads", "1", *extra])
    out, err = capsys.readouterr()
    assert status == 1
    assert "dataset:" not in out and "test accuracy" not in out  # nothing was loaded or trained
    return err


@pytest.mark.parametrize("name", ["model.txt", "model", "model.FASTMLP"])
def test_save_with_a_wrong_extension_fails_before_training(capsys, tmp_path, name):
    err = _train_fails_before_training(capsys, "--save", str(tmp_path / name))
    assert f"fastmlp train: error: --save {tmp_path / name}: the model file must end in " \
           ".fastmlp or .keras" in err
    assert list(tmp_path.iterdir()) == []


def test_save_into_a_missing_directory_names_it_before_training(capsys, tmp_path):
    target = tmp_path / "missing" / "model.fastmlp"
    err = _train_fails_before_training(capsys, "--save", str(target))
    assert f"the directory {tmp_path / 'missing'} does not exist" in err
    assert ".tmp" not in err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs POSIX permissions and a user that they bind (not root)")
def test_save_into_a_read_only_directory_fails_before_training(capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        err = _train_fails_before_training(capsys, "--save", str(locked / "m.fastmlp"))
    finally:
        locked.chmod(0o755)
    assert f"the directory {locked} is not writable" in err


def test_save_onto_a_directory_fails_before_training(capsys, tmp_path):
    (tmp_path / "d.keras").mkdir()
    err = _train_fails_before_training(capsys, "--save", str(tmp_path / "d.keras"))
    assert "d.keras: is a directory" in err


def test_plot_destination_is_checked_before_training(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    err = _train_fails_before_training(capsys, "--plot", str(tmp_path / "curves.txt"))
    assert f"--plot {tmp_path / 'curves.txt'}: the image file must end in " in err
    assert ".png" in err and ".svg" in err
    err = _train_fails_before_training(capsys, "--plot", str(tmp_path / "no" / "c.png"))
    assert f"the directory {tmp_path / 'no'} does not exist" in err


def test_plot_without_matplotlib_fails_before_training(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib.backend_bases", None)  # import fails
    err = _train_fails_before_training(capsys, "--plot", str(tmp_path / "c.png"))
    assert "--plot: plotting needs matplotlib" in err and "pip install" in err


def test_save_as_keras_without_h5py_fails_before_training(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "h5py", None)  # import fails
    err = _train_fails_before_training(capsys, "--save", str(tmp_path / "m.keras"))
    assert "--save" in err and "needs h5py" in err and "fastmlp[keras]" in err
    assert list(tmp_path.iterdir()) == []


def test_predict_reads_a_keras_3_file_with_its_input_record(trained, tmp_path):
    pytest.importorskip("h5py", reason="h5py (the optional extra fastmlp[keras]) is absent")
    _, model_path, _, _ = trained
    model = fastmlp.models.load_model(model_path)
    model.save(str(tmp_path / "m.keras"))
    _, (x_test, _) = fashion_mnist_small.load_data()
    np.save(tmp_path / "x.npy", x_test[:5])
    out = run_cli("predict", tmp_path / "m.keras", tmp_path / "x.npy", "-o", tmp_path / "p.npy")
    assert out.returncode == 0, out.stderr
    # the record of the data fit saw travelled in metadata.json
    assert "model expects: uint8 inputs of shape (28, 28) per sample, values in [0, 255]" \
        in out.stdout
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"),
                                  model.predict(x_test[:5], verbose=0))


def _readme_cli_block():
    readme = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "README.md")
    if not os.path.isfile(readme):
        pytest.skip("README.md is not next to the tests (installed package)")
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("## The command line"):]
    return section[section.index("```\n") + 4:section.index("\n```", section.index("```\n"))]


def test_readme_usage_block_lists_every_option_of_every_command():
    block = _readme_cli_block()
    commands = {}
    for line in block.splitlines():
        if line.startswith("fastmlp "):
            current = line.split()[1]
        commands[current] = commands.get(current, "") + " " + line.split("#")[0]
    subcommands = cli.build_parser().parse_args(["info"]).subcommands
    assert sorted(commands) == sorted(subcommands)
    for name, sub in subcommands.items():
        for action in sub._actions:
            if action.dest == "help":
                continue
            if not action.option_strings:
                continue  # positionals (MODEL, INPUT) are shown by example
            assert any(re.search(rf"\[{re.escape(o)}\b", commands[name])
                       for o in action.option_strings), (name, action.option_strings)
