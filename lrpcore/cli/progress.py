"""A minimal text progress bar on stderr for long batch jobs."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    """Redraws one line on stderr; silent unless enabled (default: when stderr is a terminal)."""

    def __init__(self, total: int, label: str = "", enabled: bool | None = None, stream=None):
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.start = time.perf_counter()
        self._last = 0.0
        self._open = False  # a line is drawn and not yet ended

    def __call__(self, done: int, total: int | None = None, *_):
        from .main import stop_if_interrupted  # noqa: PLC0415

        stop_if_interrupted()  # a Ctrl-C a callback swallowed stops the job between batches
        if not self.enabled:
            return
        total = max(int(total or self.total), 1)
        now = time.perf_counter()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        frac = min(done / total, 1.0)
        bar = "#" * int(30 * frac)
        rate = done / max(now - self.start, 1e-9)
        self.stream.write(f"\r{self.label} [{bar:<30}] {100 * frac:3.0f}% {done}/{total} "
                          f"({rate:,.0f}/s)")
        self._open = done < total
        if not self._open:
            self.stream.write("\n")
        self.stream.flush()

    def close(self):
        """End the line if the job stopped before reaching its total."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
