"""Closing while a job ignores its cancel flag: shutdown waits a bounded time in all, names
the worker and its job on the log, and returns (its wait was per thread and said nothing)."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QThread

from lrpgui import controller as controller_module
from lrpgui.controller import Controller


def test_shutdown_reports_a_worker_that_does_not_stop_and_returns(qtbot, caplog, monkeypatch):
    controller = Controller()
    gate = threading.Event()
    started = [threading.Event(), threading.Event()]

    def stubborn(k):
        def job(token):  # never looks at token.cancelled()
            started[k].set()
            gate.wait(30)
            return "late"
        return job

    waits = []
    real_wait = QThread.wait

    def recording_wait(thread, ms=None):
        waits.append(ms)
        return real_wait(thread, ms)

    try:
        controller.submit("explain", stubborn(0), worker="interactive")
        controller.submit("export", stubborn(1), worker="batch")
        assert started[0].wait(10) and started[1].wait(10)
        monkeypatch.setattr(QThread, "wait", recording_wait)
        with caplog.at_level(logging.WARNING, logger="lrpgui"):
            unstopped = controller.shutdown(300)
        monkeypatch.setattr(QThread, "wait", real_wait)
        assert sorted(unstopped) == ["batch", "interactive"] == sorted(controller.unstopped)
        assert len(waits) == 2 and 290 <= waits[0] <= 300 and waits[1] == 0  # one budget
        text = caplog.text
        assert "'batch' (job 'export')" in text and "'interactive' (job 'explain')" in text
        assert "did not stop within 0.3 s" in text
        assert controller.threads["batch"].isRunning()
        assert any(t is controller.threads["batch"] for t, _w in controller_module._UNSTOPPED)
        assert sorted(controller.shutdown(300)) == sorted(unstopped)  # no new wait
        assert len(waits) == 2
    finally:
        gate.set()
        for thread in controller.threads.values():
            thread.wait()
    assert not controller.threads["batch"].isRunning()


def test_shutdown_of_idle_workers_reports_nothing(qtbot, caplog):
    controller = Controller()
    with caplog.at_level(logging.WARNING, logger="lrpgui"):
        assert controller.shutdown() == []
    assert "did not stop" not in caplog.text
    assert all(not t.isRunning() for t in controller.threads.values())
