"""The progress display of fit/evaluate/predict (the only place lines are formatted).

Three modes, chosen once per bar:
- live (``verbose=1`` on a terminal): a Keras-style bar redrawn in place with ``\\r``, at most
  every ``interval`` seconds (10 per second by default) plus once at the end;
- line (``verbose=1`` to a file or pipe): nothing until the end, then one line with the full bar
  and no control characters;
- summary (``verbose=2``): one line at the end, ``"1875/1875 - 3s - 1ms/step - loss: ..."``.
``verbose=0`` never creates a bar.
"""

from __future__ import annotations

import math
import sys
import time
from typing import IO, Any, Dict, Mapping, Optional

import numpy as np

_BAR_WIDTH = 20
# Minimum seconds between two redraws of the live bar (at most ~10 updates a second).
REDRAW_INTERVAL = 0.1
# Set on the ranks other than 0 of data-parallel training (fastmlp.distribution): only rank 0
# prints.
muted = False


def stream_is_tty(stream: IO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def format_value(value: Any) -> str:
    """Keras's rule: 4 decimals, scientific notation for magnitudes up to 1e-3; a metric with
    one value per threshold or class shows their mean, as Keras's bar does."""
    try:
        v = float(np.mean(value)) if isinstance(value, np.ndarray) else float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}"


def format_time_per_step(seconds: float, unit: str = "step") -> str:
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


def format_logs(logs: Mapping[str, Any]) -> str:
    return "".join(f" - {k}: {format_value(v)}" for k, v in logs.items())


def _format_eta(eta: float) -> str:
    if eta > 3600:
        return "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
    if eta > 60:
        return "%d:%02d" % (eta // 60, eta % 60)
    return "%ds" % eta


class Progbar:
    """A progress bar over ``target`` steps written to ``stream`` (stdout when None).

    Args:
        target: total steps (> 0).
        verbose: 1 (bar) or 2 (one summary line).
        stream: where to write; a terminal gets the live bar.
        interval: minimum seconds between two redraws of the live bar. Defaults to
            ``REDRAW_INTERVAL`` (0.1).
    """

    def __init__(self, target: int, verbose: int = 1, stream: Optional[IO] = None,
                 interval: Optional[float] = None, unit_name: str = "step") -> None:
        self.target = max(int(target), 1)
        self.verbose = verbose
        self.stream = stream if stream is not None else sys.stdout
        self.live = verbose == 1 and stream_is_tty(self.stream)
        self.interval = REDRAW_INTERVAL if interval is None else interval
        self.unit_name = unit_name
        self._start = time.perf_counter()
        self._last_draw = -math.inf
        self._prev_width = 0
        self._bar_char = self._pick_bar_char()

    def _pick_bar_char(self) -> str:
        encoding = getattr(self.stream, "encoding", None) or "ascii"
        try:
            "━".encode(encoding)
            return "━"
        except (UnicodeEncodeError, LookupError):
            return "="

    def _bar(self, current: int, color: bool) -> str:
        digits = len(str(self.target))
        count = f"{current:>{digits}d}/{self.target}"
        filled = min(int(_BAR_WIDTH * current / self.target), _BAR_WIDTH)
        done, todo = self._bar_char * filled, self._bar_char * (_BAR_WIDTH - filled)
        if color:
            return f"\x1b[1m{count}\x1b[0m \x1b[32m{done}\x1b[0m\x1b[37m{todo}\x1b[0m"
        return f"{count} {done}{todo}"

    def update(self, current: int, logs: Optional[Mapping[str, Any]] = None,
               finalize: bool = False) -> None:
        """Shows progress at step ``current`` with running ``logs``; ``finalize`` ends the bar."""
        now = time.perf_counter()
        if not finalize and (not self.live or now - self._last_draw < self.interval):
            return
        self._last_draw = now
        elapsed = now - self._start
        per_step = elapsed / current if current else 0.0
        metrics = format_logs(logs or {})
        if self.verbose == 2:
            line = (f"{current:>{len(str(self.target))}d}/{self.target} - {elapsed:.0f}s - "
                    f"{format_time_per_step(per_step, self.unit_name)}{metrics}")
            self._write(line + "\n")
            return
        timing = f"{elapsed:.0f}s" if finalize else _format_eta(per_step * (self.target - current))
        if self.live:
            body = (f"{self._bar(current, True)} \x1b[1m{timing}\x1b[0m "
                    f"{format_time_per_step(per_step, self.unit_name)}{metrics}")
            width = len(self._bar(current, False)) + len(timing) + 2 + len(
                format_time_per_step(per_step, self.unit_name)) + len(metrics)
            pad = " " * max(self._prev_width - width, 0)
            self._prev_width = width
            self._write("\r" + body + pad + ("\n" if finalize else ""))
        else:
            self._write(f"{self._bar(current, False)} {timing} "
                        f"{format_time_per_step(per_step, self.unit_name)}{metrics}\n")

    def _write(self, text: str) -> None:
        if muted:
            return
        self.stream.write(text)
        self.stream.flush()


def print_line(text: str, stream: Optional[IO] = None) -> None:
    """One message line from a callback (``stream`` defaults to stdout at call time)."""
    if muted:
        return
    out = stream if stream is not None else sys.stdout
    out.write(text + "\n")
    out.flush()


def elapsed_line(steps: int, seconds: float, logs: Dict[str, Any], verbose: int,
                 stream: Optional[IO] = None) -> None:
    """The final line of a loop that ran in one call (evaluate, predict)."""
    bar = Progbar(steps, verbose=verbose, stream=stream)
    bar._start = time.perf_counter() - seconds
    bar.update(steps, logs, finalize=True)
