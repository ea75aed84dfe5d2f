"""Waiting on events instead of fixed sleeps: a gate that holds a batch job after its first
step until the test releases it, and a wait for every worker of a controller to be idle."""

from __future__ import annotations

import threading

from PySide6.QtWidgets import QApplication


class HeldAfterFirst:
    """Wrap ``owner.name`` so that its first call runs and every later call waits for
    :meth:`release`: a batch export then stands still after its first chunk for as long as
    the test needs to cancel it, however fast or slow the machine is."""

    def __init__(self, monkeypatch, owner, name, timeout=20.0):
        real = getattr(owner, name)
        self.calls = 0
        self._open = threading.Event()

        def held(*args, **kwargs):
            self.calls += 1
            if self.calls > 1:
                self._open.wait(timeout)
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, held)

    def release(self) -> None:
        self._open.set()


def settle(qtbot, controller, timeout=20000) -> None:
    """Wait until no worker of ``controller`` runs or holds a job, then deliver what they
    posted to the GUI thread: after this, no late result can still arrive."""

    def idle():
        return all(w.current is None and not w._pending for w in controller.workers.values())

    qtbot.waitUntil(idle, timeout=timeout)
    QApplication.processEvents()
