"""Progress of a fit, as Keras shows it: a bar per epoch where someone watches, one line per epoch in a log.

`Trainer.fit(..., verbose=1)` (the default) adds a `ProgressBar` unless one is among the callbacks. Where the output
is interactive (a terminal, or a Jupyter kernel) each epoch gets a tqdm bar (`tqdm.auto`: a widget in Jupyter when
ipywidgets is installed, a text bar otherwise) with the running loss, and the epoch's metrics when it ends; where it
is not (CI logs, a file, a pipe) each epoch prints one line. `verbose=2` always prints lines, `verbose=0` nothing.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from typing import Any

from glassnet.display import in_notebook
from glassnet.train.callbacks import Callback

__all__ = ["ProgressBar", "format_logs", "in_notebook"]

_BOOKKEEPING = ("time",)  # shown as the epoch's duration, not as a metric
_METRICS_EVERY = 0.5  # seconds between two computations of the running metrics on a bar


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _value(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def format_logs(logs: dict[str, Any], sep: str = "  ", eq: str = " ") -> str:
    """`loss 0.3521  accuracy 0.912  val_loss 0.401`: every number in `logs` (4 significant digits) but the time."""
    parts = []
    for key, value in logs.items():
        x = _value(value)
        if x is not None and key not in _BOOKKEEPING:
            parts.append(f"{key}{eq}{x:.4g}")
    return sep.join(parts)


class ProgressBar(Callback):
    """Show a fit's progress.

    Args:
        verbose: 1: a bar per epoch when the output is interactive, else one line per epoch; 2: one line per epoch
            always; 0: nothing.
        file: where to write (default: sys.stdout at the time of the fit).
        interactive: None detects (a terminal, or a Jupyter kernel writing to stdout/stderr); True/False forces
            bars/lines.
        leave: keep each epoch's finished bar on screen.
    """

    rank_zero_only = True  # in an MPI job only rank 0 shows progress (glassnet.distributed.training)

    def __init__(self, verbose: int = 1, file: Any = None, interactive: bool | None = None, leave: bool = True):
        if verbose not in (0, 1, 2):
            raise ValueError(f"ProgressBar: verbose must be 0 (silent), 1 (bar or lines) or 2 (lines), got {verbose!r}")
        self.verbose = int(verbose)
        self.file = file
        self.interactive = interactive
        self.leave = leave
        self._bar: Any = None
        self._sums: dict[str, float] = {}
        self._count = 0
        self._metrics: dict[str, str] = {}
        self._metrics_shown = -math.inf

    def _stream(self) -> Any:
        return self.file if self.file is not None else sys.stdout

    def uses_bars(self) -> bool:
        """Whether this fit shows bars (True) or lines (False); meaningless when verbose=0."""
        if self.verbose != 1:
            return False
        if self.interactive is not None:
            return self.interactive
        stream = self._stream()
        return _is_terminal(stream) or (in_notebook() and stream in (sys.stdout, sys.stderr))

    def _epochs_text(self, epoch: int) -> str:
        epochs = getattr(self.trainer, "epochs", None)
        return f"epoch {epoch + 1}/{epochs}" if epochs else f"epoch {epoch + 1}"

    def on_epoch_begin(self, epoch, logs=None):
        self._sums, self._count = {}, 0
        self._metrics, self._metrics_shown = {}, -math.inf
        if self.verbose == 0 or not self.uses_bars():
            return
        total = getattr(self.trainer, "steps_per_epoch", None)
        self._bar = self._new_bar(total=total, desc=self._epochs_text(epoch))

    def _new_bar(self, **kwargs: Any) -> Any:
        from tqdm import tqdm as text_bar

        if self.file is None and in_notebook():
            with warnings.catch_warnings():  # without ipywidgets tqdm.auto falls back to a text bar, and says so
                warnings.simplefilter("ignore")
                from tqdm.auto import tqdm as auto_bar
                from tqdm.notebook import tqdm as widget_bar
            if issubclass(auto_bar, widget_bar):  # ipywidgets is there: a widget
                try:
                    return auto_bar(leave=self.leave, **kwargs)
                except ImportError:  # a front end that cannot show widgets: the text bar below
                    pass
        return text_bar(file=self._stream(), leave=self.leave, dynamic_ncols=True, **kwargs)

    def on_batch_end(self, batch, logs=None):
        if self._bar is None:
            return
        self._count += 1
        for key, value in (logs or {}).items():
            x = _value(value)
            if x is not None:
                self._sums[key] = self._sums.get(key, 0.0) + x
        running = {k: f"{s / self._count:.4g}" for k, s in list(self._sums.items())[:4]}
        now = time.monotonic()
        if now - self._metrics_shown >= _METRICS_EVERY:  # the metrics so far (Keras shows them too), not every batch
            self._metrics_shown = now
            self._metrics = {}
            for metric in getattr(self.trainer, "metrics", ())[:4]:
                x = _value(metric.compute())
                if x is not None:
                    self._metrics[metric.name] = f"{x:.4g}"
        self._bar.set_postfix({**running, **self._metrics}, refresh=False)
        self._bar.update(1)

    def on_epoch_end(self, epoch, logs=None):
        if self.verbose == 0:
            return
        logs = logs or {}
        if self._bar is not None:
            self._bar.set_postfix_str(format_logs(logs, sep=", ", eq="="), refresh=True)
            self._bar.close()
            self._bar = None
            return
        seconds = _value(logs.get("time"))
        took = f"  ({seconds:.1f} s)" if seconds is not None else ""
        print(f"{self._epochs_text(epoch)}  {format_logs(logs)}{took}", file=self._stream(), flush=True)

    def on_fit_end(self, logs=None):
        if self._bar is not None:  # a fit that stopped mid-epoch
            self._bar.close()
            self._bar = None
