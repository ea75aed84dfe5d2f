"""The Sweep and Sanity windows (issue 17): background runs with progress, cancel, a ranking
that applies with one click, and a window that stays responsive meanwhile."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from .waiting import HeldAfterFirst

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture
def lenet_window(make_window, toy_files):
    return make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])


def test_sweep_ranks_and_applies(lenet_window, qtbot):
    window = lenet_window
    panel = window.insight.show("sweep")
    panel.rule_edit.setText("alphabeta:2")
    panel.n_spin.setValue(12)
    panel.steps.setValue(8)
    partial = []
    panel.progress.valueChanged.connect(partial.append)
    with qtbot.waitSignal(panel.updated, timeout=60000):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert panel.last_error is None
    assert panel.table.rowCount() == 3
    scores = [float(panel.table.item(i, 2).text()) for i in range(3)]
    assert scores == sorted(scores, reverse=True)
    assert len(panel.cells) == 3  # one heatmap per setting, side by side
    assert partial  # progress arrived while it ran
    flags = {panel.table.item(i, 1).text(): panel.table.item(i, 5).text() for i in range(3)}
    assert flags["alphabeta:1"] == "yes" and flags["alphabeta:3"].startswith("⚠")
    best = panel.rows[0].setting.rule
    panel.table.selectRow(0)
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    assert window.state.rule == best
    qtbot.waitUntil(lambda: window.state.explanation.rule_description == best, timeout=20000)
    # one click on the third heatmap applies the third setting
    third = panel.rows[2].setting.rule
    box = panel.boxes[2]
    qtbot.waitUntil(lambda: box.sceneBoundingRect().width() > 0, timeout=5000)
    where = panel.maps.mapFromScene(box.sceneBoundingRect().center())
    qtbot.mouseClick(panel.maps.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert window.state.rule == third


def test_preset_sweep_applies_layer_rules(lenet_window, qtbot):
    window = lenet_window
    panel = window.insight.show("sweep")
    panel.rule_edit.setText("EpsilonGammaBox")
    panel.params_edit.setText("gamma=0,1")
    panel.groups.setCurrentText("last layer")
    panel.n_spin.setValue(6)
    panel.steps.setValue(5)
    with qtbot.waitSignal(panel.updated, timeout=60000):
        panel.refresh()
    assert [r.setting.layer_rules for r in sorted(panel.rows, key=lambda r: r.label)] == [
        {9: "gamma:0"}, {9: "gamma:1"}]
    panel.apply_row(0)
    assert window.state.rule == "EpsilonGammaBox"
    assert window.state.layer_rules == panel.rows[0].setting.layer_rules


def test_bad_parameters_are_shown_not_raised(lenet_window, qtbot):
    panel = lenet_window.insight.show("sweep")
    panel.params_edit.setText("gamma=zero")
    with qtbot.waitSignal(panel.failed, timeout=5000):
        panel.refresh()
    assert "not a number" in panel.last_error
    assert panel.run_button.isEnabled()


def test_sweep_cancels_and_the_window_stays_responsive(lenet_window, qtbot, monkeypatch):
    from lrpcore.insight.faithfulness import FlipScorer

    window = lenet_window
    panel = window.insight.show("sweep")
    panel.rule_edit.setText("EpsilonGammaBox")
    panel.n_spin.setValue(12)
    panel.steps.setValue(8)
    # the sweep stands still after its first setting until the test cancels it: it used to
    # run on (120 samples) and under heavy load could end before the main view had explained
    # sample 5, or still be in its first setting when the wait ran out
    gate = HeldAfterFirst(monkeypatch, FlipScorer, "score", timeout=120.0)
    panel.refresh()
    qtbot.waitUntil(lambda: panel.progress.value() >= 1, timeout=60000)  # 1 setting done
    # the main view still explains while the sweep runs
    window.state.sample_index = 5
    qtbot.waitUntil(lambda: window.state.explanation is not None
                    and window.state.explanation.index == 5, timeout=60000)
    assert panel.busy()
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    gate.release()
    qtbot.waitUntil(lambda: not window.controller.pending(panel.key), timeout=60000)
    assert gate.calls == 2  # it stopped at its next look at the flag, after the gate
    assert panel.result is None
    assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_sanity_window_gives_a_verdict(lenet_window, qtbot):
    window = lenet_window
    panel = window.insight.show("sanity")
    panel.rule_edit.setText("epsilon:0.01")
    panel.n_spin.setValue(10)
    with qtbot.waitSignal(panel.updated, timeout=60000):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert panel.table.rowCount() == 5  # original + 4 weighted layers of LeNet-5
    assert "PASS" in panel.verdict.text() or "FAIL" in panel.verdict.text()
    assert len(panel.cells) == 5 * panel.steps[0].maps.shape[0]
    assert panel.result.steps[0].spearman_median == pytest.approx(1.0)
