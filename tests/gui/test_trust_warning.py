"""The status bar's conservation warning (issue 17): shown for α2β1 on LeNet-5's sum pools,
hidden for a healthy preset; a click opens the Conservation panel at the blamed layer."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

MODELS = Path(__file__).resolve().parents[2] / "models"


def _explained_with(qtbot, window, rule):
    window.state.rule = rule
    qtbot.waitUntil(lambda: window.state.explanation is not None
                    and window.state.explanation.rule_description == rule, timeout=20000)


def test_warning_names_the_pools_and_opens_conservation(make_window, qtbot, toy_files):
    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])
    indicator = window.insight.trust
    _explained_with(qtbot, window, "alphabeta:2")
    qtbot.waitUntil(indicator.isVisible, timeout=5000)
    assert "8, 5, 2" in indicator.full_text and "sum pool" in indicator.full_text
    assert indicator.full_text.startswith(indicator.text().rstrip("…"))  # as wide as it can
    assert "layer 8" in indicator.toolTip()

    panel = window.insight.panels["conservation"]
    with qtbot.waitSignal(panel.updated, timeout=20000):
        qtbot.mouseClick(indicator, Qt.MouseButton.LeftButton)
    assert window.insight.docks["conservation"].isVisible()
    assert panel.shown_layer == 8
    assert panel.flagged_layers() == [8, 5, 2]
    selected = panel.table.selectionModel().selectedRows()
    assert [panel.result.rows[i.row()].layer for i in selected] == [8]
    assert "sum pool" in panel.summary.text()

    _explained_with(qtbot, window, "EpsilonPlus")
    # the diagnosis follows the heatmap (the same trace, checked right after)
    qtbot.waitUntil(lambda: window.state.diagnosis is not None, timeout=20000)
    assert not indicator.isVisible()
    assert window.state.explanation.diagnosis is window.state.diagnosis
    assert window.state.explanation.diagnosis.ok


def test_a_narrow_window_elides_the_warning_at_its_end(make_window, qtbot, toy_files):
    """At 1024 pixels the warning was cut at both ends ('rs 8, 5, 2: …')."""
    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])
    indicator = window.insight.trust
    _explained_with(qtbot, window, "alphabeta:2")
    qtbot.waitUntil(indicator.isVisible, timeout=5000)
    full = indicator.full_text
    for width in (1400, 1024):
        window.resize(width, 700)
        qtbot.waitUntil(lambda w=width: window.width() <= w, timeout=5000)
        qtbot.waitUntil(lambda: indicator.fontMetrics().horizontalAdvance(indicator.text())
                        <= indicator.width(), timeout=5000)
        shown = indicator.text()
        assert full.startswith(shown.rstrip("…")) and shown[:6] == full[:6]
    assert shown.endswith("…") and len(shown) < len(full)


def test_the_warning_leaves_status_messages_their_room(make_window, qtbot, toy_files):
    """The warning took its full width: 'batch export wrote 40 files' showed as 'ba' beside
    it (EfficientNet-Lite0 warns on every photograph)."""
    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])
    indicator = window.insight.trust
    _explained_with(qtbot, window, "alphabeta:2")
    qtbot.waitUntil(indicator.isVisible, timeout=5000)
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: window.width() <= 1280, timeout=5000)
    message = "batch export wrote 40 files"
    window.state.status = message
    bar = window.statusBar()
    qtbot.waitUntil(lambda: bar.currentMessage() == message, timeout=5000)
    permanent = [window.busy, window.backend_label, window.time_label,
                 window.conservation_label, indicator]

    def room():
        return min(w.geometry().left() for w in permanent if w.isVisible())

    qtbot.waitUntil(lambda: room() >= bar.fontMetrics().horizontalAdvance(message) + 8,
                    timeout=5000)
