"""The insight tools' workers keep their passes on one core, as the main view's click does
(lrpcore.parallel.one_core: BLAS at one thread, no pass split over the cores), so the GUI thread
keeps the other. Compare, Sweep and Concepts ran theirs with BLAS at every thread."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QThread

from .waiting import settle

threadpoolctl = pytest.importorskip("threadpoolctl")

MODELS = Path(__file__).resolve().parents[2] / "models"


def _blas_threads():
    return [lib["num_threads"] for lib in threadpoolctl.threadpool_info()
            if lib["user_api"] == "blas"]


@pytest.fixture
def passes(monkeypatch):
    """(worker thread name, BLAS threads) at the start of every forward and backward pass."""
    from lrpcore.explain import Explainer, Forward

    seen = []
    for owner, name in ((Explainer, "forward"), (Forward, "propagate")):
        real = getattr(owner, name)

        def recording(*args, _real=real, **kwargs):
            seen.append((QThread.currentThread().objectName(), tuple(_blas_threads())))
            return _real(*args, **kwargs)

        monkeypatch.setattr(owner, name, recording)
    return seen


@pytest.fixture
def two_blas_threads():
    """BLAS at two threads, set and let go: ``threadpool_limits`` held on this thread would
    make threadpoolctl ignore the workers' own limit (only the controlling thread may set
    OpenBLAS's count)."""
    libs = threadpoolctl.ThreadpoolController().select(user_api="blas").lib_controllers
    if not libs:
        pytest.skip("no BLAS library that threadpoolctl can see")
    before = [lib.get_num_threads() for lib in libs]
    _set(libs, [2] * len(libs))
    yield
    _set(libs, before)


def _set(libs, counts):
    for lib, n in zip(libs, counts, strict=True):
        lib.set_num_threads(n)
        let_go = getattr(type(lib), "clear_controlling_thread", None)
        if let_go is not None:
            let_go()


def _on(seen, worker):
    return [blas for name, blas in seen if name == f"lrp-{worker}"]


def _start(qtbot, window, passes, name, action):
    """Run a tool once the main view is idle (its own one-core pass would hide the tool's)."""
    settle(qtbot, window.controller)
    passes.clear()
    panel = window.insight.show(name) if name != "concepts" else window.insight[name]
    with qtbot.waitSignal(panel.updated, timeout=60000):
        action(panel)
    assert panel.last_error is None
    return panel


def test_compare_and_concepts_passes_run_on_one_core(make_window, toy_files, qtbot, passes,
                                                     two_blas_threads):
    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])
    _start(qtbot, window, passes, "compare",
           lambda view: view.set_rules(["epsilon:0.01", "alphabeta:2"]))
    compare = _on(passes, "insight")
    assert compare and all(blas == (1,) * len(blas) for blas in compare), compare

    settle(qtbot, window.controller)
    passes.clear()
    with qtbot.waitSignal(window.insight["concepts"].updated, timeout=60000):
        window.insight.show("concepts")
    concepts = _on(passes, "insight")
    assert concepts and all(blas == (1,) * len(blas) for blas in concepts), concepts
    assert _blas_threads() == [2] * len(_blas_threads())  # restored once the jobs ended


def test_sweep_passes_run_on_one_core(make_window, toy_files, qtbot, passes, two_blas_threads):
    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])

    def run(panel):
        panel.rule_edit.setText("epsilon")
        panel.params_edit.setText("epsilon=0.01,0.1")
        panel.n_spin.setValue(4)
        panel.steps.setValue(4)
        panel.refresh()

    _start(qtbot, window, passes, "sweep", run)
    sweep = _on(passes, "trust")
    assert sweep and all(blas == (1,) * len(blas) for blas in sweep), sweep
