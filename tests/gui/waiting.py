"""Waiting on events instead of fixed sleeps: a gate that holds a batch job after its first
step until the test releases it, a wait for every worker of a controller to be idle, and a
window laid out at a given size once its first explanation and predictions are in."""

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


def window_at(qtbot, model, dataset, width, height):
    """A fresh window laid out at ``width``×``height`` from its first show (as on a screen of
    that size), returned once its first explanation and the dataset's predictions are in."""
    from lrpgui import MainWindow

    window = MainWindow(model=str(model), dataset=str(dataset))
    qtbot.addWidget(window)
    window.resize(width, height)
    window.show()
    qtbot.waitUntil(lambda: window.state.explanation is not None, timeout=20000)
    qtbot.waitUntil(lambda: not window.controller.pending("predict"), timeout=20000)
    QApplication.processEvents()
    return window
