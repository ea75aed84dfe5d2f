"""The controller: newest request wins, cancelled jobs always report, threads stop."""

from __future__ import annotations

import threading

from lrpgui.controller import Controller
from lrpgui.services import Cancelled

from .waiting import settle


def test_job_cancelled_before_it_starts_reports_and_is_no_longer_pending(qtbot):
    controller = Controller()
    gate = threading.Event()
    errors, done = [], []
    try:
        # occupy the batch worker so that the second job waits in its queue
        controller.submit("slow", lambda token: gate.wait(5), worker="batch")
        controller.submit("queued", lambda token: 42, on_done=done.append,
                          on_error=errors.append, worker="batch")
        controller.cancel("queued")
        gate.set()
        qtbot.waitUntil(lambda: bool(errors), timeout=5000)
        assert isinstance(errors[0], Cancelled) and not done
        assert not controller.pending("queued")
    finally:
        gate.set()
        controller.shutdown()


def test_newer_request_supersedes_older_result(qtbot):
    controller = Controller()
    gate = threading.Event()
    results = []
    try:
        controller.submit("explain", lambda token: (gate.wait(5), "old")[1],
                          on_done=results.append)
        controller.submit("explain", lambda token: "new", on_done=results.append)
        gate.set()
        qtbot.waitUntil(lambda: bool(results), timeout=5000)
        settle(qtbot, controller)  # the old job has finished and anything it sent arrived
        assert results == ["new"]
    finally:
        gate.set()
        controller.shutdown()


def test_added_worker_runs_jobs_and_stops_with_the_others(qtbot):
    controller = Controller()
    try:
        worker = controller.add_worker("extra")
        assert controller.add_worker("extra") is worker  # once per name
        out = []
        controller.submit("x", lambda token: threading.current_thread().name,
                          on_done=out.append, worker="extra")
        qtbot.waitUntil(lambda: bool(out), timeout=5000)
        assert out[0] != threading.main_thread().name
    finally:
        controller.shutdown()
    assert all(not t.isRunning() for t in controller.threads.values())


def test_no_python_object_crosses_threads_in_a_signal():
    """A queued signal's arguments are copied inside Qt's connection lock while PySide has
    released the GIL: an ``object`` argument takes the GIL under that lock, the reverse order
    of the GUI thread disconnecting or destroying objects with the GIL held (a full run hung
    in QMetaObject::disconnect). The workers' signals carry no arguments at all."""
    from PySide6.QtCore import QMetaMethod, QObject

    from lrpgui.controller import Worker

    meta = Worker.staticMetaObject
    own = [meta.method(i) for i in range(QObject.staticMetaObject.methodCount(),
                                          meta.methodCount())]
    signals = [m for m in own if m.methodType() == QMetaMethod.MethodType.Signal]
    assert signals, "the worker reports through signals"
    for m in signals:
        assert m.parameterCount() == 0, bytes(m.methodSignature()).decode()


def test_results_errors_and_progress_arrive_in_order_through_the_mailbox(qtbot):
    controller = Controller()
    seen = []

    def job(token):
        for k in range(5):
            token.progress(k, 5, {"step": k})  # a Python payload, as the explain jobs send
        return {"answer": 42}

    def failing(token):
        raise ValueError("bad input")

    try:
        controller.submit("work", job, on_done=lambda r: seen.append(("done", r)),
                          on_progress=lambda d, t, p: seen.append(("progress", d, p["step"])),
                          worker="batch")
        controller.submit("fail", failing, on_error=lambda e: seen.append(("error", str(e))),
                          worker="batch")
        qtbot.waitUntil(lambda: len(seen) == 7, timeout=5000)
        assert seen == [("progress", k, k) for k in range(5)] + [
            ("done", {"answer": 42}), ("error", "bad input")]
    finally:
        controller.shutdown()
