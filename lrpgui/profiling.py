"""``lrp-explorer --profile``: click-to-heatmap and colormap-switch times (a benchmark).

A "click" is the grid selection moving to another sample; the time runs until the heatmap of
that sample is on display (worker round trip included). A colormap switch re-renders the cached
relevance on the GUI thread. Medians are printed; nothing is asserted.
"""

from __future__ import annotations

import statistics
import time

from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer


def _pump(ms=5):
    QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, ms)


def wait_for_explanation(app, window, timeout, index=None) -> bool:
    """Run the event loop until the (given) sample's explanation is on display."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        result = window.state.explanation
        if result is not None and (index is None or result.index == index):
            return True
        if window.state.model is None or window.state.dataset is None:
            return False
        _pump()
    return False


def run_profile(app, window, timeout=60.0, clicks=40, switches=40) -> int:
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
    click_ms = []
    for k in range(1, min(clicks, n - 1) + 1):
        target = grid.model.dataset_index(k)
        loop = QEventLoop()
        window.explanation_shown.connect(loop.quit)
        timer = QTimer(singleShot=True)
        timer.timeout.connect(loop.quit)
        timer.start(int(timeout * 1000))
        start = time.perf_counter()
        grid.view.setCurrentIndex(grid.model.index(k))
        if window.state.explanation.index != target:
            loop.exec()  # sleeps in the event loop, as the real application does
        timer.stop()
        window.explanation_shown.disconnect(loop.quit)
        if window.state.explanation.index != target:
            print("profile: explanation did not arrive")
            return 1
        _pump(0)  # let the views paint
        click_ms.append(1000 * (time.perf_counter() - start))
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
    print(f"model: {window.state.model_path}")
    print(f"dataset: {window.state.dataset_name} ({len(window.state.dataset):,} samples)")
    print(f"backend: {result.backend} ({result.device}), {result.request.dtype}, "
          f"rule {result.rule_description}")
    print(f"click-to-heatmap: median {statistics.median(click_ms):.1f} ms over {len(click_ms)} "
          f"clicks (explanation alone: {1000 * result.seconds:.1f} ms)")
    print(f"colormap switch: median {statistics.median(switch_ms):.1f} ms over "
          f"{len(switch_ms)} switches")
    return 0
