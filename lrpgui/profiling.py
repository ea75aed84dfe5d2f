"""``lrp-explorer --profile``: click-to-heatmap and colormap-switch times (a benchmark).

A "click" is the grid selection moving to another sample; the time runs until the heatmap of
that sample is on display (worker round trip included). It is split into the worker's steps
(forward pass, relevance, preparing the arrays: ``ExplainResult.timings``), the GUI thread's
render of the answer (views, overlay, scores) and the rest (queued signals, painting, waiting
for the worker to pick the job up), so the remaining time is visible. The conservation
diagnosis follows the heatmap (same trace); its time is printed apart, and each click waits
for it before the next one, as a user looking at the heatmap would.
A colormap switch re-renders the cached relevance on the GUI thread. Medians are printed;
nothing is asserted. With ``stats`` (a path prefix) cProfile statistics of the worker and of
the GUI thread during the clicks are written to ``PREFIX-worker.pstats`` and
``PREFIX-gui.pstats`` (read them with ``python -m pstats``).
"""

from __future__ import annotations

import statistics
import sys
import time
from contextlib import contextmanager

from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

WORKER_STEPS = ("forward", "relevance", "prepare")  # before the heatmap is handed over


def _pump(ms=5):
    QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, ms)


def wait_for_explanation(app, window, timeout, index=None) -> bool:
    """Run the event loop until the (given) sample's explanation is on display."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        result = window.state.explanation
        if result is not None and (index is None or result.index == index):
            return True
        if not window.opening and (window.state.model is None or window.state.dataset is None):
            return False  # nothing open, and nothing on its way
        _pump()
    return False


class ClickRecorder:
    """Per click: the GUI thread's render time (``Session.accept_explanation``, which draws
    every view) and, with ``profile``, cProfile of the worker's explain calls and of the GUI
    thread. Wraps the window's instances only; ``close`` puts them back."""

    def __init__(self, window, profile=False):
        import cProfile

        self.window = window
        self.renders: list[float] = []
        self.worker_profile = cProfile.Profile() if profile else None
        self.gui_profile = cProfile.Profile() if profile else None
        session, service = window.session, window.service
        accept, run = session.accept_explanation, service.run

        def timed_accept(result):
            start = time.perf_counter()
            try:
                return accept(result)
            finally:
                self.renders.append(time.perf_counter() - start)

        def profiled_run(req, token=None):
            if self.worker_profile is None:
                return run(req, token)
            self.worker_profile.enable()
            try:
                return run(req, token)
            finally:
                self.worker_profile.disable()

        session.accept_explanation = timed_accept
        service.run = profiled_run

    @contextmanager
    def gui(self):
        """Profile the GUI thread meanwhile (when profiling)."""
        if self.gui_profile is None:
            yield
            return
        self.gui_profile.enable()
        try:
            yield
        finally:
            self.gui_profile.disable()

    def close(self) -> None:
        for owner, name in ((self.window.session, "accept_explanation"),
                            (self.window.service, "run")):
            owner.__dict__.pop(name, None)

    def dump(self, prefix) -> list[str]:
        """Write the statistics, each file whole or not at all (cProfile's dump_stats left an
        empty file and a traceback on a full disk); an ExportError names the file."""
        import marshal

        from lrpcore.fileio import atomic_write_bytes, staged_writes

        paths = []
        with staged_writes():  # both files or neither
            for which, prof in (("worker", self.worker_profile), ("gui", self.gui_profile)):
                if prof is not None:
                    path = f"{prefix}-{which}.pstats"
                    prof.create_stats()  # what dump_stats writes
                    atomic_write_bytes(path, marshal.dumps(prof.stats))
                    paths.append(path)
        return paths


def split_line(clicks: list[dict]) -> str:
    """'forward 120.0 | relevance 300.0 | ... | GUI 4.0 ms' from per-click parts (medians)."""
    names = list(WORKER_STEPS) + ["render", "GUI"]
    parts = [f"{name} {1000 * statistics.median(c.get(name, 0.0) for c in clicks):.1f}"
             for name in names]
    return " | ".join(parts) + " ms"


def click_parts(total, result, render) -> dict:
    """One click's time split: the worker's steps, the render, and the rest ("GUI")."""
    parts = {name: float(result.timings.get(name, 0.0)) for name in WORKER_STEPS}
    parts["render"] = render
    parts["GUI"] = max(0.0, total - sum(parts.values()))
    return parts


def run_profile(app, window, timeout=60.0, clicks=40, switches=40, stats=None) -> int:
    if not wait_for_explanation(app, window, timeout):
        print("profile: no model/dataset or no explanation; nothing to measure")
        return 1
    deadline = time.perf_counter() + timeout
    while window.controller.pending("predict") and time.perf_counter() < deadline:
        _pump(20)  # measure the steady state, not while the accuracy job competes
    grid = window.grid
    n = grid.model.rowCount()
    if n < 2:
        print(f"profile: the grid shows {n} sample(s); clicking needs at least two")
        return 1
    while window.state.relevance is None and time.perf_counter() < deadline:
        _pump(20)  # e.g. --dtype superseded the first request: wait for its answer
    recorder = ClickRecorder(window, profile=stats is not None)
    try:
        split = _clicks(window, grid, min(clicks, n - 1), timeout, recorder)
    finally:
        recorder.close()
    if split is None:
        print("profile: explanation did not arrive")
        return 1
    names = window.rules.colormap_selector
    switch_ms = []
    for k in range(switches):
        combo_index = k % names.count()
        if combo_index == names.currentIndex():
            combo_index = (combo_index + 1) % names.count()
        start = time.perf_counter()
        names.setCurrentIndex(combo_index)
        _pump(0)
        switch_ms.append(1000 * (time.perf_counter() - start))
    result = window.state.explanation
    click_ms = [1000 * c["total"] for c in split]
    print(f"model: {window.state.model_path}")
    print(f"dataset: {window.state.dataset_name} ({len(window.state.dataset):,} samples)")
    print(f"backend: {result.backend} ({result.device}), {result.request.dtype}, "
          f"rule {result.rule_description}")
    print(f"click-to-heatmap: median {statistics.median(click_ms):.1f} ms over {len(click_ms)} "
          f"clicks (explanation alone: {1000 * result.seconds:.1f} ms)")
    print(f"  split (medians): {split_line(split)}")
    checks = [c["diagnosis"] for c in split if c.get("diagnosis") is not None]
    if checks:
        print(f"  then the conservation diagnosis of the same trace: median "
              f"{1000 * statistics.median(checks):.1f} ms (after the heatmap is on display)")
    print(f"colormap switch: median {statistics.median(switch_ms):.1f} ms over "
          f"{len(switch_ms)} switches")
    if stats is not None:
        from lrpcore.errors import LRPError

        try:
            paths = recorder.dump(stats)
        except LRPError as exc:
            print(f"lrp-explorer: {exc}", file=sys.stderr)
            return 1
        for path in paths:
            print(f"cProfile statistics: {path}")
    return 0


def _clicks(window, grid, count, timeout, recorder) -> list[dict] | None:
    """Click through samples 1..count; per click its total time and split (None when an
    explanation did not arrive)."""
    split = []
    for k in range(1, count + 1):
        target = grid.model.dataset_index(k)
        loop = QEventLoop()
        window.explanation_shown.connect(loop.quit)
        timer = QTimer(singleShot=True)
        timer.timeout.connect(loop.quit)
        timer.start(int(timeout * 1000))
        recorder.renders.clear()
        with recorder.gui():
            start = time.perf_counter()
            grid.view.setCurrentIndex(grid.model.index(k))
            if window.state.explanation.index != target:
                loop.exec()  # sleeps in the event loop, as the real application does
            timer.stop()
            window.explanation_shown.disconnect(loop.quit)
            if window.state.explanation.index != target:
                return None
            _pump(0)  # let the views paint
            total = time.perf_counter() - start
        result = window.state.explanation
        parts = click_parts(total, result, sum(recorder.renders))
        parts["total"] = total
        deadline = time.perf_counter() + timeout
        while window.controller.pending("explain") and time.perf_counter() < deadline:
            _pump(5)  # the diagnosis, before the next click
        parts["diagnosis"] = result.timings.get("diagnosis")
        split.append(parts)
    return split
