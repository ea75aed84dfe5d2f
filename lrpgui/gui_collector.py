"""Python's cyclic garbage collection on the GUI thread while an explorer window is open.

CPython collects cycles in whichever thread happens to allocate past a threshold: with LRP on
worker threads that is usually a worker. Qt objects in garbage cycles (an earlier window, a
timer, a menu) were then destroyed on that worker: "QBasicTimer::start: Timers cannot be
started from another thread" during SpRAy after earlier windows, and once a hang (a QMenu's
destructor against the GUI thread). So while a window is open automatic collection is off and
a timer on the GUI thread collects instead, generation by generation with CPython's own
thresholds (the idea of pyqtgraph's ``GarbageCollector``); when the last window closes,
automatic collection is back as it was.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QTimer

INTERVAL_MS = 250  # a worker's garbage waits at most this long


class GuiThreadCollector:
    """Collects on a GUI-thread timer while anyone holds it (see :func:`hold`)."""

    def __init__(self):
        self._holders: set[int] = set()
        self._timer: QTimer | None = None
        self._was_enabled = True

    def hold(self, owner) -> None:
        """``owner`` (a window) is open: collect on the GUI thread from now on."""
        if not self._holders:
            self._was_enabled = gc.isenabled()
            gc.disable()
            self._timer = QTimer(QCoreApplication.instance())
            self._timer.setObjectName("lrpGuiThreadCollection")
            self._timer.setInterval(INTERVAL_MS)
            self._timer.timeout.connect(collect_due)
            self._timer.start()
        self._holders.add(id(owner))

    def release(self, owner) -> None:
        """``owner`` closed; the last one gives automatic collection back (after collecting
        what is due here, on the GUI thread)."""
        self._holders.discard(id(owner))
        if not self._holders:
            self.reset()

    def reset(self) -> None:
        """Automatic collection back as it was, whoever still holds (e.g. after a test that
        left a window open)."""
        self._holders.clear()
        if self._timer is None:
            return
        self._timer.stop()
        self._timer.deleteLater()
        self._timer = None
        collect_due()
        if self._was_enabled:
            gc.enable()


def collect_due() -> int:
    """Collect the oldest generation whose count passed its threshold (what CPython would
    have done by now); returns the number of unreachable objects found."""
    counts, limits = gc.get_count(), gc.get_threshold()
    due = [g for g in range(3) if counts[g] > limits[g]]
    return gc.collect(due[-1]) if due else 0


COLLECTOR = GuiThreadCollector()  # one per process: gc's switch is process-wide
