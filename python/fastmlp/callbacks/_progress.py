"""ProgbarLogger: prints "Epoch i/n" and the progress bar of each epoch (see fastmlp._progbar)."""

from __future__ import annotations

from typing import IO, Any, Dict, Optional

from fastmlp import _progbar
from fastmlp.callbacks._base import Callback


class ProgbarLogger(Callback):
    """Prints training progress; ``fit`` adds one automatically when ``verbose`` is not 0.

    With ``verbose=1`` on a terminal the bar is redrawn in place (at most ~10 times a second);
    to a file or pipe, and with ``verbose=2``, it prints one line per epoch.

    Args:
        stream: where to print (stdout at the time of printing when None).
    """

    def __init__(self, stream: Optional[IO] = None) -> None:
        super().__init__()
        if stream is not None and not callable(getattr(stream, "write", None)):
            raise ValueError(f"Received an invalid value for `stream`, expected a text stream "
                             f"(an object with a write method) or None. Received: "
                             f"stream={stream!r}")
        self.stream = stream
        self._bar: Optional[_progbar.Progbar] = None
        self._steps = 1

    @property
    def _verbose(self) -> int:
        return int(self.params.get("verbose", 1))

    def is_live(self) -> bool:
        import sys
        return self._verbose == 1 and _progbar.stream_is_tty(self.stream or sys.stdout)

    def wants_batches(self) -> bool:
        return self.is_live()

    def on_train_begin(self, logs: Optional[Dict] = None) -> None:
        self._steps = int(self.params.get("steps") or 1)

    def on_epoch_begin(self, epoch: int, logs: Optional[Dict] = None) -> None:
        epochs = self.params.get("epochs")
        _progbar.print_line(f"Epoch {epoch + 1}/{epochs}", self.stream)
        self._bar = _progbar.Progbar(self._steps, verbose=self._verbose, stream=self.stream)

    def on_train_batch_end(self, batch: int, logs: Optional[Dict] = None) -> None:
        if self._bar is not None:
            self._bar.update(batch + 1, logs)

    def on_epoch_end(self, epoch: int, logs: Optional[Dict] = None) -> None:
        if self._bar is not None:
            self._bar.update(self._steps, logs, finalize=True)
            self._bar = None

    def show_result(self, steps: int, seconds: float, logs: Dict[str, Any]) -> None:
        """The final line of evaluate/predict (they run in one call, so no live updates)."""
        _progbar.elapsed_line(steps, seconds, logs, self._verbose, self.stream)
