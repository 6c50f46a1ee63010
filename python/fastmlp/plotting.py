"""Training-curve plots (needs matplotlib: ``pip install "fastmlp[plot]"``).

Re-exported as ``fastmlp.utils.plot_history``.
"""

from __future__ import annotations

import collections.abc as _abc
import os
import typing as _typing

if _typing.TYPE_CHECKING:
    from typing import Dict, List, Union

__all__ = ["MATPLOTLIB_MISSING", "plot_history"]

MATPLOTLIB_MISSING = ("plotting needs matplotlib, which is not installed; "
                      "install it with: pip install \"fastmlp[plot]\" (or pip install matplotlib)")


def _history_dict(history) -> Dict[str, List[float]]:
    """Accept a History (with a ``.history`` dict, as fit() returns) or the dict itself."""
    logs = getattr(history, "history", history)
    if not isinstance(logs, _abc.Mapping):
        raise TypeError("history must be the History returned by fit() or a dict of "
                        f"metric name -> list of per-epoch values, got {type(history).__name__}")
    out = {}
    for key, values in logs.items():
        if not isinstance(values, _abc.Sequence) or isinstance(values, (str, bytes)):
            raise TypeError(f"history[{key!r}] must be a list of per-epoch values, "
                            f"got {type(values).__name__}")
        out[str(key)] = [float(v) for v in values]
    if not any(out.values()):
        raise ValueError("history holds no per-epoch values to plot")
    return out


def _panels(logs: Dict[str, List[float]]) -> List[str]:
    """One panel per base metric (loss first), each drawing training and ``val_`` curves."""
    bases = [k for k in logs if not k.startswith("val_") and logs[k]]
    bases += [k[4:] for k in logs if k.startswith("val_") and k[4:] not in bases and logs[k]]
    bases.sort(key=lambda k: (k != "loss", k == "learning_rate", k))
    return bases


def plot_history(history, path: Union[str, "os.PathLike[str]"], title: str = "") -> str:
    """Draw loss and metric curves (training and validation) to a PNG; return the path written.

    One panel per quantity: "loss", then each metric; a panel shows ``name`` (training) and
    ``val_name`` (validation) against the epoch. Raises ImportError with an install hint when
    matplotlib is absent, TypeError/ValueError on a malformed history.
    """
    logs = _history_dict(history)
    try:
        # A bare Figure (no pyplot) draws with Agg and leaves the user's pyplot backend alone.
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(MATPLOTLIB_MISSING) from exc

    panels = _panels(logs)
    fig = Figure(figsize=(4.5 * len(panels), 3.6))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, name in zip(axes[0], panels):
        for key, label, style in ((name, "training", "-"), ("val_" + name, "validation", "--")):
            values = logs.get(key)
            if values:
                ax.plot(range(1, len(values) + 1), values, style, marker="o", markersize=3,
                        label=label)
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=100)
    return os.fspath(path)
