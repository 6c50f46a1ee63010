"""Three realistic Keras programs (tests/keras_programs/), each run as written, with
``import fastmlp as keras``, in a subprocess: their results are asserted, and where Keras 3 is
installed the same program with ``import keras`` instead (the only line that differs) must come
within tolerance (different random initializations and shuffles, so not bit for bit)."""

import json
import os
import subprocess
import sys

import pytest

import fastmlp

os.environ.setdefault("KERAS_BACKEND", "jax")  # for the check that Keras 3 is importable
PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_programs")
_IMPORT = "import fastmlp as keras\n"


def _run(name, tmp_path, library="fastmlp"):
    with open(os.path.join(PROGRAMS, f"{name}.py")) as f:
        source = f.read()
    code = [line for line in source.splitlines(keepends=True)
            if line.startswith(("import ", "from "))]
    assert _IMPORT in code and not [line for line in code
                                    if "fastmlp" in line and line != _IMPORT]
    script = os.path.join(PROGRAMS, f"{name}.py")
    if library == "keras":  # the one line that differs
        script = str(tmp_path / f"{name}_keras.py")
        with open(script, "w") as f:
            f.write(source.replace(_IMPORT, "import keras\n"))
    workdir = tmp_path / library
    workdir.mkdir()
    # the fastmlp this test imported (the installed one, or python/ in a development tree)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(fastmlp.__file__)))
    env = dict(os.environ, KERAS_BACKEND="jax",
               PYTHONPATH=package_parent + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, script], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, proc.stdout[-2000:]
    return json.loads(lines[0][len("RESULT "):]), proc.stdout


def _keras():
    pytest.importorskip("keras", reason="Keras 3 (the keras3 extra) is not installed")
    pytest.importorskip("jax", reason="JAX, Keras's backend here, is not installed")


# ---- a classifier with class weights and confusion metrics ---------------------------------------
def _check_classifier(result):
    base, weighted = result["baseline"], result["weighted"]
    for r in (base, weighted):
        assert r["tp"] + r["fn"] == result["positives"]
        assert r["tp"] + r["fp"] + r["tn"] + r["fn"] == 1200
        precision = r["tp"] / max(r["tp"] + r["fp"], 1)
        assert r["precision"] == pytest.approx(precision if r["tp"] + r["fp"] else 0.0, abs=1e-6)
        assert r["recall"] == pytest.approx(r["tp"] / result["positives"], abs=1e-6)
        f1 = 2 * r["tp"] / (2 * r["tp"] + r["fp"] + r["fn"])
        assert r["f1"] == pytest.approx(f1, abs=1e-5)
        assert r["auc"] > 0.8
    # the class weights trade accuracy for the minority class's recall
    assert weighted["recall"] > base["recall"] + 0.3 and weighted["accuracy"] < base["accuracy"]
    (tn, fp), (fn, tp) = result["confusion_matrix"]
    assert (tn, fp, fn, tp) == (weighted["tn"], weighted["fp"], weighted["fn"], weighted["tp"])


def test_imbalanced_classifier(tmp_path):
    _check_classifier(_run("imbalanced_classifier", tmp_path)[0])


def test_imbalanced_classifier_as_keras(tmp_path):
    _keras()
    ours, theirs = (_run("imbalanced_classifier", tmp_path, lib)[0]
                    for lib in ("fastmlp", "keras"))
    _check_classifier(theirs)
    for model in ("baseline", "weighted"):
        assert ours[model]["auc"] == pytest.approx(theirs[model]["auc"], abs=0.05)
        assert ours[model]["loss"] == pytest.approx(theirs[model]["loss"], rel=0.25)
    assert ours["weighted"]["recall"] == pytest.approx(theirs["weighted"]["recall"], abs=0.15)


# ---- a regressor with Normalization.adapt ---------------------------------------------------------
def _check_regressor(result):
    # the network beats the mean (and the one-feature line); the file reloads exactly
    assert result["dnn_model"] < 0.85 * result["mean_baseline"]
    assert result["dnn_model"] < result["bmi_model"] < result["mean_baseline"]
    assert result["dnn_r2"] > 0.2 and result["reloaded_max_diff"] == 0.0


def test_normalized_regressor(tmp_path):
    result, stdout = _run("normalized_regressor", tmp_path)
    _check_regressor(result)
    assert "(None, 1)" in stdout and "0 (unbuilt)" in stdout  # summaries before and after fit


def test_normalized_regressor_as_keras(tmp_path):
    _keras()
    ours, theirs = (_run("normalized_regressor", tmp_path, lib)[0]
                    for lib in ("fastmlp", "keras"))
    _check_regressor(theirs)
    for key in ("bmi_model", "dnn_model", "dnn_rmse"):
        assert ours[key] == pytest.approx(theirs[key], rel=0.08)


# ---- a Keras-2-era script: Sequential.add(..., input_shape=), a Sequence ------------------------
def _check_keras2(result):
    assert result["epochs"] == 15 and result["test_accuracy"] > 0.7
    assert result["argmax_accuracy"] == pytest.approx(result["test_accuracy"], abs=1e-6)
    assert result["best_checkpoint_accuracy"] == pytest.approx(result["best_val_accuracy"],
                                                               abs=1e-6)
    assert result["probabilities_sum_to_one"] < 1e-5


def test_keras2_era_mlp(tmp_path):
    _check_keras2(_run("keras2_era_mlp", tmp_path)[0])


def test_keras2_era_mlp_as_keras(tmp_path):
    _keras()
    ours, theirs = (_run("keras2_era_mlp", tmp_path, lib)[0] for lib in ("fastmlp", "keras"))
    _check_keras2(theirs)
    assert ours["test_accuracy"] == pytest.approx(theirs["test_accuracy"], abs=0.04)
    assert ours["test_loss"] == pytest.approx(theirs["test_loss"], rel=0.1)
