"""A minimal text progress bar on stderr for long batch jobs."""

from __future__ import annotations

import sys
import time

# seconds between the lines of a bar drawn into a log (--progress, stderr no terminal)
LOG_INTERVAL_S = 2.0


class ProgressBar:
    """Redraws one line on stderr; silent unless enabled (default: when stderr is a terminal).
    Into a log (``--progress`` where stderr is a file or pipe) it writes whole lines, one every
    :data:`LOG_INTERVAL_S` and the last: carriage returns ten times a second made a
    5,000-sample run's log one line of 20 redrawn bars."""

    def __init__(self, total: int, label: str = "", enabled: bool | None = None, stream=None):
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream or sys.stderr
        terminal = self.stream.isatty()
        self.enabled = terminal if enabled is None else enabled
        self.interval = 0.1 if terminal else LOG_INTERVAL_S
        self.restart = "\r" if terminal else ""  # what starts a redrawn line
        self.start = time.perf_counter()
        self._last = float("-inf")  # the first call draws
        self._open = False  # a line is drawn and not yet ended

    def __call__(self, done: int, total: int | None = None, *_):
        from .main import stop_if_interrupted  # noqa: PLC0415

        stop_if_interrupted()  # a Ctrl-C a callback swallowed stops the job between batches
        if not self.enabled:
            return
        total = max(int(total or self.total), 1)
        now = time.perf_counter()
        if done < total and now - self._last < self.interval:
            return
        self._last = now
        frac = min(done / total, 1.0)
        bar = "#" * int(30 * frac)
        rate = done / max(now - self.start, 1e-9)
        self.stream.write(f"{self.restart}{self.label} [{bar:<30}] {100 * frac:3.0f}% {done}/"
                          f"{total} ({rate:,.0f}/s)")
        self._open = done < total and self.restart == "\r"  # a log's line ends at once
        if not self._open:
            self.stream.write("\n")
        self.stream.flush()

    def close(self):
        """End the line if the job stopped before reaching its total."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
