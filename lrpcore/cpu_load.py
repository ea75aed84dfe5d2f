"""How many of this process's cores other processes leave free: whether a pass may spread over
all of them.

A pass split over the cores waits at every step until each of its threads has had a core. On a
machine that other jobs keep busy that wait is a scheduler time slice per step: measured here
(two cores, a load of about eight from other processes), one EfficientNet-Lite0 photograph took
3–6 s split over both cores, and 0.2–0.3 s on one; one ResNet digit 24–276 ms with BLAS's own
two threads, and 2–43 ms on one. ``lrpcore.parallel`` asks ``usable_cores`` before a pass.

Linux only (``/proc/stat``); elsewhere (no ``/proc``, or one of another format) every core
counts as free. ``LRP_IGNORE_CPU_LOAD=1`` in the environment makes every core count as free
(a benchmark that wants the split anyway).
"""

from __future__ import annotations

import os
import threading
import time


def cpu_set() -> set[int]:
    """The CPUs this process may run on."""
    try:
        return os.sched_getaffinity(0)
    except (AttributeError, OSError):
        return set(range(os.cpu_count() or 1))


def _clock_ticks() -> int:
    """/proc/stat's ticks per second (100 on Linux's usual builds)."""
    try:
        return os.sysconf("SC_CLK_TCK")
    except (AttributeError, ValueError, OSError):
        return 100


SAMPLE_SECONDS = 0.25  # /proc/stat counts in 10 ms ticks: shorter windows measure noise
_CLOCK_TICKS = _clock_ticks()
# /proc/stat's columns after the CPU's name that are work: user, nice, system, (idle, iowait
# skipped), irq, softirq, steal (a hypervisor's other guests took the core: as good as busy)
_BUSY_COLUMNS = (0, 1, 2, 5, 6, 7)


def _busy_seconds(cpus, stat_path="/proc/stat"):
    """Seconds of work done on ``cpus`` since boot by every process, or None when unknown."""
    try:
        with open(stat_path, encoding="ascii") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    per_cpu = [line.split() for line in lines if line.startswith("cpu") and line[3:4].isdigit()]
    try:  # another format (a compatibility layer's /proc): unknown, not a failed pass
        ours = [f for f in per_cpu if int(f[0][3:]) in cpus]
        # none of ours listed: a container whose /proc/stat numbers its CPUs anew: all count
        ticks = sum(int(f[1 + c]) for f in ours or per_cpu for c in _BUSY_COLUMNS
                    if 1 + c < len(f))
    except ValueError:
        return None
    return ticks / _CLOCK_TICKS


def _own_seconds() -> float:
    """CPU seconds this process has used, all its threads together."""
    t = os.times()
    return t.user + t.system


def _runnable_now(loadavg_path="/proc/loadavg"):
    """Threads the kernel has runnable at this instant, machine-wide (None when unknown)."""
    try:
        with open(loadavg_path, encoding="ascii") as f:
            return int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None


def _own_runnable(task_dir="/proc/self/task"):
    """This process's threads the kernel has runnable at this instant (the caller included;
    BLAS or OpenMP threads still spinning after a pass too)."""
    count = 0
    try:
        tasks = os.listdir(task_dir)
    except OSError:
        return 1
    for tid in tasks:
        try:
            with open(os.path.join(task_dir, tid, "stat"), encoding="ascii",
                      errors="replace") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        count += state == "R"
    return max(1, count)


class CpuShare:
    """Other processes' use of our cores, in cores: the work ``/proc/stat`` counts on them
    less this process's own CPU time, over the last SAMPLE_SECONDS or more. Before a first
    window exists, the kernel's count of runnable threads (less this process's) stands in."""

    def __init__(self, clock=time.monotonic, busy=_busy_seconds, own=_own_seconds,
                 runnable=_runnable_now, own_runnable=_own_runnable):
        self._clock, self._busy, self._own = clock, busy, own
        self._runnable, self._own_runnable = runnable, own_runnable
        self._lock = threading.Lock()
        self._last = None  # (wall, busy, own) at the start of the current window
        self._others = 0.0

    def others(self, cpus) -> float:
        with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last[0] < SAMPLE_SECONDS:
                return self._others
            busy = self._busy(cpus)
            if busy is None:
                return 0.0
            own = self._own()
            if self._last is None:
                runnable = self._runnable()
                self._others = 0.0 if runnable is None else \
                    float(max(0, runnable - self._own_runnable()))
            else:
                wall, busy0, own0 = self._last
                self._others = max(0.0, (busy - busy0) - (own - own0)) / (now - wall)
            self._last = (now, busy, own)
            return self._others


_share = CpuShare()
_answer = (0.0, 1)  # (monotonic time until which it holds, usable cores): ~0.2 µs a pass


def usable_cores() -> int:
    """How many of this process's cores a pass may use now: those other processes leave
    free (at least one). Asked again at most every SAMPLE_SECONDS."""
    global _answer
    now = time.monotonic()
    until, cores = _answer
    if now < until:
        return cores
    cpus = cpu_set()
    if os.environ.get("LRP_IGNORE_CPU_LOAD", "") not in ("", "0"):
        cores = len(cpus)
    else:
        cores = max(1, min(len(cpus), round(len(cpus) - _share.others(cpus))))
    _answer = (now + SAMPLE_SECONDS, cores)
    return cores
