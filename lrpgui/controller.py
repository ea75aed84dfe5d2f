"""The controller: owns the worker threads and drops stale results.

Workers, each a ``QObject`` living in its own ``QThread`` (the insight tools add theirs):

* ``interactive`` keeps only the newest pending job (clicking through samples computes only the
  sample the user stopped at);
* ``batch`` runs long, cancellable jobs (accuracy, exports, downloads) in order;
* ``files`` (added on first use) reads what opening a dataset needs, an image folder's
  listing and headers, while the GUI thread waits serving events (``MainWindow._off_gui_thread``);
* ``start-up`` reads the files named or remembered at start, so that a dataset the user opens
  meanwhile is read beside it, not after it.

Every worker runs its jobs on one core (``lrpcore.parallel.one_core``: BLAS at one thread, no
pass split over the cores), so that the GUI thread keeps the other: a click, Compare, a sweep,
Concepts, and a small job of the batch worker (a one-photograph export split its pass over both
cores). A batch worker's large batches still use every core: they run as shards in parallel
threads, which ``one_core`` leaves alone.

Every job has an id and a key ("explain", "predict", ...). A newer job with the same key
supersedes an older one: the older one is cancelled and its result, if it still arrives, is
dropped.

Results, errors and progress reach the GUI thread through a locked mailbox and a queued signal
*without arguments*. A queued signal's arguments are copied inside Qt's connection lock, and
PySide emits with the GIL released: a Python-object argument then takes the GIL while holding
that lock, the reverse of the GUI thread, which holds the GIL when it disconnects or destroys
objects (garbage collection, pyqtgraph relinking views) and so takes the same lock — a deadlock
that could hang a test run in ``QMetaObject::disconnect``. No Python object crosses in a signal.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from lrpcore.parallel import one_core

from .services import Cancelled, Token


@dataclass
class Job:
    id: int
    key: str
    fn: object  # callable(token) -> result
    token: Token
    on_done: object = None
    on_error: object = None
    on_progress: object = None
    meta: dict = field(default_factory=dict)


class Worker(QObject):
    """Runs jobs on its thread; ``latest_only`` keeps just the newest pending job; each job
    runs inside ``guard()`` (e.g. ``one_core``: the thread's passes stay on one core).

    What it reports (("finished" | "failed", job id, result or exception), ("progress", job
    id, done, total, payload)) goes into a mailbox; ``posted`` (no arguments: see the module
    docstring) tells the GUI thread to :meth:`take_posted`."""

    posted = Signal()
    _wake = Signal()

    def __init__(self, latest_only: bool, guard=contextlib.nullcontext):
        super().__init__()
        self.latest_only = latest_only
        self.guard = guard
        self._lock = threading.Lock()
        self._pending: deque[Job] = deque()
        self._outbox: deque[tuple] = deque()
        self._outbox_lock = threading.Lock()
        self.current: Job | None = None
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)

    def post(self, *message) -> None:
        """Queue a message for the GUI thread (from any thread)."""
        with self._outbox_lock:
            self._outbox.append(message)
        self.posted.emit()

    def take_posted(self) -> list[tuple]:
        """The messages posted so far, oldest first (on the GUI thread)."""
        with self._outbox_lock:
            messages = list(self._outbox)
            self._outbox.clear()
        return messages

    def submit(self, job: Job) -> None:
        with self._lock:
            if self.latest_only:
                for old in self._pending:
                    old.token.cancel()
                self._pending.clear()
            self._pending.append(job)
        self._wake.emit()

    def cancel_key(self, key: str) -> None:
        with self._lock:
            for job in self._pending:
                if job.key == key:
                    job.token.cancel()
            current = self.current
        if current is not None and current.key == key:
            current.token.cancel()

    def cancel_all(self) -> None:
        with self._lock:
            for job in self._pending:
                job.token.cancel()
            self._pending.clear()
            current = self.current
        if current is not None:
            current.token.cancel()

    @Slot()
    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self.current = None
                    return
                job = self._pending.popleft()
                self.current = job
            if job.token.cancelled():  # cancelled while waiting: still say so
                self.post("failed", job.id, Cancelled())
                continue
            try:
                with self.guard():
                    result = job.fn(job.token)
            except Cancelled as exc:
                self.post("failed", job.id, exc)
            except BaseException as exc:  # delivered to the GUI as an error dialog
                self.post("failed", job.id, exc)
            else:
                self.post("finished", job.id, result)


_LIVE: weakref.WeakSet = weakref.WeakSet()  # controllers whose threads may still run


@atexit.register
def _shutdown_live_controllers() -> None:
    """Stop the workers of windows nobody closed (a script or test that just returns):
    Qt aborts the process when a running QThread is destroyed at interpreter exit."""
    for controller in list(_LIVE):
        try:
            controller.shutdown(2000)
        except RuntimeError:  # its Qt objects are gone already
            pass


_UNSTOPPED: list = []  # (thread, worker) of workers that outlived shutdown: never destroyed
LOG = logging.getLogger("lrpgui")


def _report_unstopped(controller, timeout_ms) -> None:
    """Warn about workers that did not stop in time (naming the job each still runs) and keep
    their threads alive."""
    parts = []
    for name in controller.unstopped:
        worker = controller.workers[name]
        job = worker.current
        parts.append(f"{name!r}" + (f" (job {job.key!r})" if job is not None else ""))
        _UNSTOPPED.append((controller.threads[name], worker))
    LOG.warning("lrp-explorer: worker %s did not stop within %g s of closing; left to finish "
                "in the background", ", ".join(parts), timeout_ms / 1000.0)


class Controller(QObject):
    """Submits jobs, tracks the newest id per key, and delivers only current results."""

    busy_changed = Signal(bool)

    _ids = itertools.count(1)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._jobs: dict[int, Job] = {}
        self._latest: dict[str, int] = {}
        self.workers: dict[str, Worker] = {}
        self.threads: dict[str, QThread] = {}
        self.add_worker("interactive", latest_only=True)
        self.add_worker("batch", latest_only=False)  # its large batches shard (see above)
        self._closed = False
        self.unstopped: list[str] = []  # workers still running after shutdown's wait
        _LIVE.add(self)

    def add_worker(self, name: str, latest_only: bool = False) -> Worker:
        """Start another worker thread (once per name); ``shutdown`` stops it too. Its jobs
        run on one core (``one_core``: the GUI thread keeps the other), every worker's alike:
        a batch's large batches still run as shards in parallel threads."""
        if name in self.workers:
            return self.workers[name]
        thread = QThread()
        thread.setObjectName(f"lrp-{name}")
        # no parent: moveToThread needs a parentless object
        worker = Worker(latest_only, one_core)
        worker.moveToThread(thread)
        worker.posted.connect(self._on_posted)
        thread.start()
        self.workers[name] = worker
        self.threads[name] = thread
        return worker

    def submit(self, key, fn, on_done=None, on_error=None, on_progress=None,
               worker="interactive") -> int:
        """Run ``fn(token)`` on a worker; returns the job id."""
        if self._closed:
            return 0
        job_id = next(self._ids)
        previous = self._latest.get(key)
        if previous is not None and previous in self._jobs:
            self._jobs.pop(previous).token.cancel()  # its result, if any, is now dropped
        target = self.workers[worker]
        token = Token(lambda d, t, p, _id=job_id, _w=target: _w.post("progress", _id, d, t, p))
        job = Job(job_id, key, fn, token, on_done, on_error, on_progress)
        self._jobs[job_id] = job
        self._latest[key] = job_id
        target.submit(job)
        return job_id

    def is_current(self, job_id: int) -> bool:
        job = self._jobs.get(job_id)
        return job is not None and self._latest.get(job.key) == job_id

    def cancel(self, key: str) -> None:
        job_id = self._latest.get(key)
        if job_id in self._jobs:
            self._jobs[job_id].token.cancel()

    def pending(self, key: str) -> bool:
        return self._latest.get(key) in self._jobs

    @Slot()
    def _on_posted(self) -> None:
        """Deliver what the workers posted (an earlier call may have taken it already)."""
        handlers = {"finished": self._on_finished, "failed": self._on_failed,
                    "progress": self._on_progress}
        for worker in list(self.workers.values()):
            for kind, *args in worker.take_posted():
                if self._closed:
                    return
                handlers[kind](*args)

    def _on_finished(self, job_id, result):
        job = self._jobs.pop(job_id, None)
        if job is None or self._latest.get(job.key) != job_id:
            return  # stale: a newer request of the same kind exists
        if job.token.cancelled():
            if job.on_error is not None:
                job.on_error(Cancelled())
            return
        if job.on_done is not None:
            job.on_done(result)

    def _on_failed(self, job_id, exc):
        job = self._jobs.pop(job_id, None)
        if job is None or self._latest.get(job.key) != job_id:
            return
        if job.token.cancelled() and not isinstance(exc, Cancelled):
            exc = Cancelled()  # e.g. a download that stops with its own error when cancelled
        if job.on_error is not None:
            job.on_error(exc)

    def _on_progress(self, job_id, done, total, payload):
        job = self._jobs.get(job_id)
        if job is None or self._latest.get(job.key) != job_id or job.token.cancelled():
            return
        if job.on_progress is not None:
            job.on_progress(done, total, payload)

    def shutdown(self, timeout_ms: int = 60000) -> list[str]:
        """Cancel everything and stop the threads (called when the window closes); returns
        the workers that did not stop (empty when all did).

        Jobs stop at their next look at the cancel flag; the wait is generous but bounded:
        ``timeout_ms`` for all threads together. A worker still running then (a job that never
        looks at its flag) is named in a warning on the ``lrpgui`` log (stderr by default)
        and in :attr:`unstopped`, and left to finish: its thread is kept referenced, since
        destroying a running QThread makes Qt abort the process."""
        if self._closed:
            return list(self.unstopped)
        self._closed = True
        for worker in self.workers.values():
            worker.cancel_all()
        for thread in self.threads.values():
            thread.quit()
        deadline = time.monotonic() + timeout_ms / 1000.0
        for name, thread in self.threads.items():
            left = max(0, round(1000 * (deadline - time.monotonic())))
            if not thread.wait(left):
                self.unstopped.append(name)
        if self.unstopped:
            _report_unstopped(self, timeout_ms)
        self._jobs.clear()
        return list(self.unstopped)
