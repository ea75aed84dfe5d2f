"""Preparing the rules' denominators ahead of the backward pass, on the second core.

Most of what a z⁺, αβ or γ rule computes at a layer does not depend on the relevance: the
denominators (z⁺ = x⁺w⁺ + x⁻w⁻, a forward pass with modified weights) need only the forward
tensors. For one photograph nothing else runs in parallel (the batch cannot be sharded), so
while the backward pass works on node k, a helper thread prepares the nodes below it. On the
2-core machine of the README this cut one EfficientNet-Lite0 EpsilonPlus pass by 10–20 %;
on small inputs the hand-offs cost more than they save (a digit through the MNIST ResNet ran
~20 % slower), hence :data:`LOOKAHEAD_MIN_BYTES`.

Both threads run BLAS single-threaded meanwhile (lrpcore.parallel): two multi-threaded
products at once would oversubscribe the cores. Results agree with the sequential pass to
rounding (a product's summation order depends on its thread count).

While a lookahead runs, Python switches threads every :data:`SWITCH_INTERVAL_S` instead of
every 5 ms: a thread whose product has finished waits for the interpreter lock, and at the
default interval a pass took 53–290 ms instead of 53–56 (float64 photograph).
"""

from __future__ import annotations

import functools
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

# Forward tensors one shard must hold before its backward pass prepares ahead: a 224×224
# photograph in EfficientNet-Lite0 holds ~47 MB (float32), 16 MNIST digits in the ResNet ~6 MB.
LOOKAHEAD_MIN_BYTES = 16 * 2**20
# Prepared results waiting at once: enough for the helper to stay busy across the cheap nodes
# (activations, pads, merges) between two linear ones, few enough to bound the memory held.
LOOKAHEAD_JOBS = 12
LOOKAHEAD_BYTES = 64 * 2**20
SWITCH_INTERVAL_S = 2e-4


class _SwitchInterval:
    """``sys.setswitchinterval(SWITCH_INTERVAL_S)`` while at least one lookahead runs, the
    previous interval restored when the last one ends (passes may overlap in threads)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._users = 0
        self._saved = None

    def __enter__(self):
        with self._lock:
            if self._users == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, SWITCH_INTERVAL_S))
            self._users += 1

    def __exit__(self, *exc):
        with self._lock:
            self._users -= 1
            if self._users == 0:
                sys.setswitchinterval(self._saved)


_switching = _SwitchInterval()


_on_helper = threading.local()


def on_helper_thread() -> bool:
    """Whether this code runs as a prepared job: a pass started there must not look ahead
    (it would wait for the one helper thread, which is waiting for it)."""
    return getattr(_on_helper, "active", False)


def _as_helper(prepare, key):
    _on_helper.active = True
    try:
        return prepare(key)
    finally:
        _on_helper.active = False


@functools.lru_cache(maxsize=1)
def _helper() -> ThreadPoolExecutor:
    """The one helper thread every lookahead shares (passes at once take turns on it). A
    thread per pass measured slower and erratic: a photograph's pass took 24 or 46 ms by
    turns, against 24–29 ms on the kept thread (a new thread's memory arena pages its
    arrays in afresh)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="lrp-ahead")


class Lookahead:
    """Runs ``prepare(k)`` for the keys ``jobs`` in order on the helper thread, at most
    LOOKAHEAD_JOBS (and about LOOKAHEAD_BYTES, by ``job_bytes(k)``) ahead of ``get``.

    ``get`` is called in the same order; a job it passes over (a node no relevance reached)
    is dropped, so the window moves on.
    """

    def __init__(self, jobs, prepare, job_bytes):
        self._jobs = list(jobs)
        self._position = {key: i for i, key in enumerate(self._jobs)}
        self._prepare, self._job_bytes = prepare, job_bytes
        self._pending = {}  # key -> (future, bytes), in job order
        self._next = 0
        self._held = 0
        self._pool = _helper()
        _switching.__enter__()
        self._closed = False
        try:
            self._fill()
        except BaseException:
            self.close()
            raise

    def _fill(self):
        while self._next < len(self._jobs) and len(self._pending) < LOOKAHEAD_JOBS:
            key = self._jobs[self._next]
            size = self._job_bytes(key)
            if self._pending and self._held + size > LOOKAHEAD_BYTES:
                return
            self._pending[key] = (self._pool.submit(_as_helper, self._prepare, key), size)
            self._held += size
            self._next += 1

    def _drop(self, key):
        future, size = self._pending.pop(key)
        future.cancel()
        self._held -= size

    def get(self, key):
        """What ``prepare(key)`` returned (its exception raised here), or None when ``key``
        is not a job or was not prepared (the caller then does the work itself)."""
        position = self._position.get(key)
        if position is None:
            return None
        for earlier in [k for k in self._pending if self._position[k] < position]:
            self._drop(earlier)
        entry = self._pending.pop(key, None)
        if entry is None:  # beyond the window: start after it
            self._next = max(self._next, position + 1)
            self._fill()
            return None
        future, size = entry
        try:
            return future.result()
        finally:
            self._held -= size
            self._fill()

    def waiting(self) -> list:
        """The jobs handed to the helper and not yet taken, in order."""
        return list(self._pending)

    def close(self):
        """Drop the jobs not started (the backward pass ended or failed); never waits."""
        if self._closed:
            return
        self._closed = True
        for future, _ in self._pending.values():
            future.cancel()
        self._pending.clear()
        _switching.__exit__()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
