"""fastmlp.plotting.plot_history."""

import builtins

import pytest

from fastmlp import plotting

HISTORY = {"loss": [1.0, 0.6, 0.4], "accuracy": [0.5, 0.7, 0.8],
           "val_loss": [1.1, 0.8, 0.7], "val_accuracy": [0.45, 0.6, 0.7]}


class _History:
    history = HISTORY


def test_panels_loss_first_and_validation_paired():
    assert plotting._panels(HISTORY) == ["loss", "accuracy"]
    assert plotting._panels({"val_mae": [1.0], "loss": [2.0]}) == ["loss", "mae"]


def test_plot_history_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = plotting.plot_history(_History(), tmp_path / "h.png", title="run")
    data = (tmp_path / "h.png").read_bytes()
    assert out.endswith("h.png") and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_plot_history_rejects_malformed():
    with pytest.raises(TypeError, match="History returned by fit"):
        plotting.plot_history(42, "x.png")
    with pytest.raises(TypeError, match=r"history\['loss'\] must be a list"):
        plotting.plot_history({"loss": 1.0}, "x.png")
    with pytest.raises(ValueError, match="no per-epoch values"):
        plotting.plot_history({"loss": []}, "x.png")


def test_missing_matplotlib_message(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r'pip install "fastmlp\[plot\]"'):
        plotting.plot_history(HISTORY, tmp_path / "h.png")


def test_reexported_from_utils():
    import fastmlp

    assert fastmlp.utils.plot_history is plotting.plot_history
