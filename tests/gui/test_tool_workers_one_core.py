"""The explorer's workers keep their passes on one core (lrpcore.parallel.one_core: BLAS at
one thread, no pass split over the cores), so the GUI thread keeps the other: the click's
(interactive) worker did, through a guard of its own in the explain service; Compare, Sweep and
Concepts ran theirs with BLAS at every thread. The controller now applies the one guard to
every worker, the batch worker's too (a one-photograph export split its pass over both cores);
a batch's shards still run in parallel threads."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from blas_probe import blas_threads
from PySide6.QtCore import QThread

from lrpcore.explain import Explainer

from .waiting import settle

threadpoolctl = pytest.importorskip("threadpoolctl")

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture
def passes(monkeypatch):
    """(worker thread name, BLAS threads) at the start of every forward and backward pass."""
    from lrpcore.explain import Explainer, Forward

    seen = []
    for owner, name in ((Explainer, "forward"), (Forward, "propagate")):
        real = getattr(owner, name)

        def recording(*args, _real=real, **kwargs):
            seen.append((QThread.currentThread().objectName(), tuple(blas_threads())))
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
    if blas_threads() != [2] * len(libs):
        _set(libs, before)
        pytest.skip("BLAS does not take two threads here")
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
    assert blas_threads() == [2] * len(blas_threads())  # restored once the jobs ended


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


def _run_on(qtbot, worker, fn):
    """``fn(token)`` as a job of a fresh controller's ``worker`` thread; its result."""
    from lrpgui.controller import Controller

    controller = Controller()
    controller.add_worker(worker)  # the insight tools' workers are added like this
    done = []
    controller.submit("probe", fn, on_done=done.append, on_error=done.append, worker=worker)
    qtbot.waitUntil(lambda: bool(done), timeout=60000)
    assert not controller.shutdown(20000)
    assert not isinstance(done[0], BaseException), done[0]
    return done[0]


def test_a_click_is_explained_with_one_blas_thread(qtbot, passes, two_blas_threads):
    import lrpcore
    from lrpgui.requests import ExplainRequest
    from lrpgui.services import ExplainService

    model = lrpcore.load_model("mnist-lenet5")
    req = ExplainRequest(model=model, raw=np.zeros((28, 28), dtype=np.uint8), index=0,
                         dataset_key="zeros", rule="epsilon:0.01")
    _run_on(qtbot, "interactive", lambda token: ExplainService().run(req, token))
    click = _on(passes, "interactive")
    assert click and all(blas == (1,) * len(blas) for blas in click), click
    assert blas_threads() == [2] * len(blas_threads())  # restored afterwards


def test_a_click_on_a_photograph_leaves_the_other_core_to_the_gui(qtbot, monkeypatch):
    """A graph model's single image would split its kernels over every core
    (lrpcore.parallel.all_cores); the explorer's worker keeps it on one."""
    from split_probe import record_splits

    from lrpcore import parallel
    from lrpcore.explain import Explainer
    from lrpcore.zoo import efficientnet_lite0
    from lrpgui.requests import ExplainRequest
    from lrpgui.services import ExplainService

    model = efficientnet_lite0(None, size=96)  # large enough to split outside the GUI
    split_seen = record_splits(monkeypatch, model)
    raw = np.random.default_rng(0).integers(0, 255, size=(96, 96, 3), dtype=np.uint8)
    req = ExplainRequest(model=model, raw=raw, index=0, dataset_key="noise",
                         rule="EpsilonPlus")
    _run_on(qtbot, "interactive", lambda token: ExplainService().run(req, token))
    assert split_seen and not any(split_seen)
    if parallel._split_usable():  # outside the explorer the same pass splits
        Explainer(model).forward(raw[None])
        assert split_seen[-1]


def test_a_one_photograph_export_leaves_the_other_core_to_the_gui(qtbot, monkeypatch,
                                                                 two_blas_threads, tmp_path):
    """The batch worker split a one-photograph export's pass over both cores (its guard let
    it); it keeps small jobs on one core like the other workers, while a large batch still
    runs as shards in parallel threads."""
    from lrpcore.parallel import kernels_split
    from lrpcore.zoo import efficientnet_lite0
    from lrpgui import services
    from lrpgui.requests import ExplainRequest

    model = efficientnet_lite0(None, size=96)  # large enough to split outside the GUI
    seen = []  # (thread, split over the cores, BLAS threads) at every forward run
    real = type(model).run

    def recording(self, *args, **kwargs):
        seen.append((threading.current_thread().name, kernels_split(), tuple(blas_threads())))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(model), "run", recording)
    photos = np.random.default_rng(0).integers(0, 255, size=(1, 96, 96, 3), dtype=np.uint8)
    req = ExplainRequest(model=model, raw=photos[0], index=0, dataset_key="noise",
                         rule="EpsilonPlus")
    job = services.BatchExport(request=req, dataset=_dataset(photos), indices=np.array([0]),
                               out_dir=str(tmp_path), formats=("npy",), cmap="bwr",
                               outline=False, info={}, chunk=8)
    paths = _run_on(qtbot, "batch", lambda token: services.batch_export(job, token))
    assert any(p.suffix == ".npy" for p in paths)
    assert seen and all(not split and blas == (1,) * len(blas) for _, split, blas in seen), seen
    # a large batch on the batch worker still runs as shards in parallel threads
    seen.clear()
    many = np.repeat(photos, 4, axis=0)
    _run_on(qtbot, "batch", lambda token: Explainer(model).forward(many))
    assert len(seen) > 1 and all(name.startswith("lrp-shard") for name, _, _ in seen), seen


def _dataset(images):
    from lrpcore.io.datasets import Dataset

    return Dataset(images, name="photos", source="test")
