"""How the insight tools reach the worker: one extra worker thread on the app's controller.

The insight jobs get their own worker (named ``insight``) so that a long batch export or the
dataset's accuracy pass never delays them, and an insight job never cancels a pending
explanation of the main view (the ``interactive`` worker keeps only its newest job of any
kind). The controller's per-key rule still applies: a newer job of the same key (e.g.
``insight-compare``) supersedes the older one and its result is dropped. The worker is
registered in the controller's ``workers``/``threads``, so ``Controller.shutdown`` (called
when the window closes) stops it with the others.
"""

from __future__ import annotations

from lrpcore.errors import Cancelled

from .worker_tasks import ForwardCache

WORKER = "insight"


def is_cancellation(exc) -> bool:
    """The user stopped it (lrpcore.errors.Cancelled, used by every job)."""
    return isinstance(exc, Cancelled)


class Runner:
    """Submits insight jobs to one worker (``insight`` unless told) and holds the shared
    forward cache."""

    def __init__(self, state, controller, service=None, worker=WORKER, cache=None):
        self.state = state
        self.controller = controller
        self.service = service
        self.worker = worker
        self.cache = cache if cache is not None else ForwardCache(
            *(() if service is None else (service.cached_forward, service.cached_trace)))
        controller.add_worker(worker, latest_only=False)  # once per name

    def on_worker(self, worker) -> Runner:
        """The same runner (state, cache) submitting to another worker thread of its own,
        e.g. ``trust`` for long batch windows that must not delay the panels."""
        return Runner(self.state, self.controller, self.service, worker, self.cache)

    def submit(self, key, fn, on_done=None, on_error=None, on_progress=None) -> int:
        return self.controller.submit(key, fn, on_done=on_done, on_error=on_error,
                                      on_progress=on_progress, worker=self.worker)

    def cancel(self, key) -> None:
        self.controller.cancel(key)

    def pending(self, key) -> bool:
        return self.controller.pending(key)
