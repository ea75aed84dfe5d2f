"""Pixel-flipping panel: curves equal lrpcore's flip_curves, computed off the GUI thread,
and Cancel stops the work."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import lrpcore
from lrpcore.insight import flip_curves
from lrpgui.insight import worker_tasks

from .insight_helpers import open_tool, predicted_class, rerun, sample_raw
from .waiting import settle


def configure(panel, methods, steps=20, per_step=10, baseline="zero", patch=1):
    panel.live.setChecked(False)
    panel.methods_edit.setText(", ".join(methods))
    panel.steps.setValue(steps)
    panel.per_step.setValue(per_step)
    panel.patch.setValue(patch)
    panel.baseline.setCurrentText(baseline)
    panel.random.setChecked(True)


def test_curves_equal_flip_curves(make_window, qtbot, monkeypatch):
    threads = []
    original = worker_tasks.flip_curves

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(worker_tasks, "flip_curves", recording)
    window = make_window()
    panel = open_tool(qtbot, window, "pixelflip")
    assert panel.objectName() == "pixelFlipPanel"
    configure(panel, ["epsilon:0.01", "alphabeta:2"], steps=20, per_step=10, patch=2)
    rerun(qtbot, panel, panel.run_button.click)
    model = window.state.model
    x = model.input_spec.preprocess(sample_raw(window))
    cls = predicted_class(window)
    assert panel.outcome.target == cls
    by_label = {res.label: res for res in panel.outcome.results}
    for rule in ("epsilon:0.01", "alphabeta:2"):
        rel = lrpcore.explain(model, sample_raw(window), rule=rule, target=cls)
        expected = flip_curves(model, x, rel, cls, steps=20, patch=2, per_step=10,
                               baseline="zero", region="raw")
        np.testing.assert_allclose(by_label[rule].outputs, expected.outputs, rtol=1e-10,
                                   atol=1e-12)
        np.testing.assert_array_equal(by_label[rule].flipped, expected.flipped)
        # what is plotted is that curve
        xs, ys = panel.curves[rule].getData()
        np.testing.assert_allclose(ys, expected.mean_curve, rtol=1e-10, atol=1e-12)
        assert panel.aopc()[rule] == pytest.approx(expected.aopc)
    rand = flip_curves(model, x, None, cls, steps=20, patch=2, per_step=10, baseline="zero",
                       region="raw", order="random")
    np.testing.assert_allclose(by_label["random"].outputs, rand.outputs, rtol=1e-10)
    table = {panel.table.item(i, 0).text(): float(panel.table.item(i, 1).text())
             for i in range(panel.table.rowCount())}
    assert set(table) == {"epsilon:0.01", "alphabeta:2", "random"}
    assert table["random"] == pytest.approx(rand.aopc, rel=1e-4)
    # every curve was computed on a worker thread, never on the GUI thread
    assert threads and all(t is not threading.main_thread() for t in threads)


def test_cancel_stops_the_work(make_window, qtbot, monkeypatch):
    started, release = threading.Event(), threading.Event()
    original = worker_tasks.flip_curves

    def held(*args, **kwargs):
        started.set()
        release.wait(10)
        return original(*args, **kwargs)

    window = make_window()
    panel = open_tool(qtbot, window, "pixelflip")
    first = panel.outcome
    configure(panel, ["epsilon:0.01"])
    monkeypatch.setattr(worker_tasks, "flip_curves", held)
    panel.run_button.click()
    qtbot.waitUntil(started.is_set, timeout=20000)
    assert panel.cancel_button.isEnabled()
    panel.cancel_button.click()
    release.set()
    settle(qtbot, window.controller)  # the cancelled run's answer, if any, has arrived
    assert panel.outcome is first  # nothing from the cancelled run was shown
    assert not panel.cancel_button.isEnabled() and not panel.busy()
    assert panel.last_error is None
    # a later run works again
    monkeypatch.setattr(worker_tasks, "flip_curves", original)
    rerun(qtbot, panel, panel.run_button.click)
    assert panel.outcome is not first


def test_follows_selection_when_live_and_reports_bad_methods(make_window, qtbot):
    window = make_window()
    panel = open_tool(qtbot, window, "pixelflip")
    panel.steps.setValue(5)
    rerun(qtbot, panel, lambda: setattr(window.state, "sample_index", 3))
    assert panel.outcome.request.raw.tobytes() == sample_raw(window, 3)[0].tobytes()
    panel.methods_edit.setText("epsilon:zz")
    with qtbot.waitSignal(panel.failed, timeout=20000):
        panel.run_button.click()
    assert "epsilon" in panel.last_error
