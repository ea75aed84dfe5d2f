"""Python's garbage collection of Qt objects happens on the GUI thread while a window is open.

A worker allocating fast (SpRAy, RelMax, a batch export) ran the cyclic collector on its own
thread; Qt objects in garbage cycles (a window of an earlier run, a timer) were then destroyed
there: "Timers cannot be started/stopped from another thread", and once a hang (a QMenu's
destructor against the GUI thread)."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtCore import QTimer


class _Cycle:
    """Garbage that only the cyclic collector frees, holding a running Qt timer."""

    def __init__(self):
        self.me = self
        self.timer = QTimer()
        self.timer.start(60000)


def test_a_workers_allocations_leave_qt_garbage_to_the_gui_thread(make_window, qtbot,
                                                                   qtlog):
    window = make_window()
    freed_on = []
    worked = threading.Event()

    def allocate(_token):  # what a busy job does: many container objects, kept as its result
        kept = [[k] for k in range(200_000)]
        worked.set()
        return kept

    gc.collect()  # a fresh count: the next automatic collection comes from the worker
    garbage = _Cycle()
    weakref.finalize(garbage, lambda: freed_on.append(threading.current_thread().name))
    del garbage
    results = []
    window.controller.submit("allocate", allocate, on_done=results.append, worker="batch")
    assert worked.wait(60)  # the GUI thread waits without allocating anything meanwhile
    qtbot.waitUntil(lambda: bool(freed_on), timeout=10000)
    assert freed_on == [threading.main_thread().name]
    qtbot.waitUntil(lambda: bool(results), timeout=10000)
    assert not [r.message for r in qtlog.records if "thread" in r.message.lower()]


def test_automatic_collection_is_back_when_the_last_window_closes(make_window):
    first, second = make_window(), make_window()
    assert not gc.isenabled()  # collected on the GUI thread's timer meanwhile
    first.close()
    assert not gc.isenabled()
    second.close()
    assert gc.isenabled()
