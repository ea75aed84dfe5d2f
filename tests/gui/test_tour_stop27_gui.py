"""Stop 27's tour of the explorer as a new user: what a researcher met on the toolbox LeNet-5,
EfficientNet-Lite0 on a folder of photographs, the MNIST ResNet and a segmentation model."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from lrpgui.insight.tools import TOOLS

from .waiting import window_at


@pytest.mark.parametrize("name", [t[0] for t in TOOLS])
def test_a_tool_fills_its_window_before_it_scrolls(qtbot, toy_files, name):
    """Conservation and SpRAy (whose layouts hold word-wrapped lines) scrolled in a floating
    window of 1100×760, their lower plots cut, though they need 500 and 240 pixels: the scroll
    area took their preferred height for the width as the least. A tool now shrinks to its
    window down to its minimum and only then scrolls."""
    window = window_at(qtbot, toy_files[0], toy_files[1], 1400, 900)
    panel = window.insight.show(name, (1000, 700))
    dock = window.insight.docks[name]
    qtbot.waitUntil(dock.isVisible)
    area = dock.widget()
    for height in (760, 600, 500):
        dock.resize(1000, height)
        QApplication.processEvents()
        room = area.viewport().height()
        if room < panel.minimumSizeHint().height():
            continue  # below its minimum a tool scrolls, on purpose
        qtbot.waitUntil(lambda r=room: panel.height() <= r, timeout=5000)
        assert not area.verticalScrollBar().isVisible(), (name, height)


def test_the_sanity_check_draws_each_step_once(qtbot, make_window, toy_files, monkeypatch):
    """EfficientNet-Lite0's sanity check (51 steps) froze the window for minutes: each step
    redrew every column so far on the GUI thread (a cell made 1+2+…+51 times). Each step's
    column is now added as it arrives, and a colormap re-colours the cells drawn."""
    from pathlib import Path

    from PySide6.QtCore import Qt

    from lrpgui.insight import imaging

    made = []
    real = imaging.image_cell
    monkeypatch.setattr(imaging, "image_cell",
                        lambda *a, **k: made.append(1) or real(*a, **k))
    model = Path(__file__).resolve().parents[2] / "models" / "mnist-lenet5.npz"
    window = make_window(model=model, dataset=toy_files[1])
    panel = window.insight.show("sanity", (1000, 640))
    panel.rule_edit.setText("epsilon:0.01")
    panel.n_spin.setValue(4)
    made.clear()
    with qtbot.waitSignal(panel.updated, timeout=60000):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    steps, samples = len(panel.steps), panel.steps[0].maps.shape[0]
    assert steps == 5 and len(made) == steps * samples, (steps, samples, len(made))
    assert len(panel.cells) == steps * samples
    before = panel.cells[-1].lut.copy()
    window.rules.colormap_selector.setCurrentText("seismic")
    qtbot.waitUntil(lambda: (panel.cells[-1].lut != before).any(), timeout=5000)
    assert len(made) == steps * samples  # re-coloured, not made again
    # a second run starts a new grid
    with qtbot.waitSignal(panel.updated, timeout=60000):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert len(made) == 2 * steps * samples and len(panel.cells) == steps * samples


def test_tab_leaves_the_rule_table_and_skips_the_colour_bar(qtbot, make_window):
    """Tab walked the per-layer table cell by cell (EfficientNet-Lite0: 112 rows × 4 columns
    before the next control) and stopped on the colour bar, which takes no keys. Tab now
    leaves the table at once (arrow keys move inside it) and passes the colour bar by."""
    from PySide6.QtCore import Qt

    window = make_window()
    window.activateWindow()
    table = window.rules.layer_table
    table.setFocus()
    qtbot.waitUntil(table.hasFocus)
    table.setCurrentCell(0, 3)
    qtbot.keyClick(table, Qt.Key.Key_Tab)
    qtbot.waitUntil(lambda: not table.hasFocus())
    seen = []
    for _ in range(40):  # once round the window's chain
        focus = QApplication.focusWidget()
        seen.append(focus.objectName())
        qtbot.keyClick(focus, Qt.Key.Key_Tab)
    assert "layerRuleTable" in seen and "sampleGrid" in seen
    assert "colorBar" not in seen


def test_every_tool_plot_reads_in_dark_text_with_titled_axes(qtbot, make_window):
    """Draw a digit's class scores and SpRAy's t-SNE scatter kept pyqtgraph's faint grey
    numbers and no axis titles (the other plots were given dark ones): every plot of the
    tools now reads alike. Their object names are set too (``pg.PlotWidget(objectName=…)``
    hands the name to its plot item, and the widgets had none)."""
    import pyqtgraph as pg
    from PySide6.QtGui import QColor

    window = make_window()
    plots = [p for panel in window.insight.panels.values()
             for p in panel.findChildren(pg.PlotWidget)]
    names = {p.objectName() for p in plots}
    assert {"drawScores", "sprayScatter", "sprayEigengap", "pixelFlipPlot",
            "conservationPlot"} <= names, names
    for plot in plots:
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            assert axis.labelText, (plot.objectName(), side)
            assert QColor(axis.textPen().color()).lightness() < 100, (plot.objectName(), side)


def test_gray_red2_says_when_it_clears_nothing(qtbot, make_window):
    """gray-red2 clears R > 10·var(R); for αβ with α = 3 on LeNet-5 that cut (139) lay above
    the largest relevance (27), yet the colour bar said "grey above 139 (cleared)". It now
    says that none is cleared."""
    window = make_window()
    bar = window.views.bar_title
    window.rules.colormap_selector.setCurrentText("gray-red2")
    qtbot.waitUntil(lambda: "grey above" in bar.text, timeout=5000)  # ε: the top is cleared
    with qtbot.waitSignal(window.state.events.explanation, timeout=20000):
        window.state.rule = "alphabeta:20"  # relevance in the hundreds: its variance far more
    R = window.state.relevance
    assert 10 * R.var() > R.max()
    qtbot.waitUntil(lambda: "none" in bar.text, timeout=5000)
    assert "grey above" not in bar.text and "cleared" in bar.text


def test_an_opened_spray_result_sets_the_class_it_was_made_for(qtbot, make_window, toy_files,
                                                               tmp_path):
    """A saved SpRAy result of class 3 opened with the class box on "all": the window showed
    class 3's clusters while Run would have clustered every class (10,000 digits of
    mnist-test, minutes). The box now names the result's class; "all" for a result of all."""
    import numpy as np

    from lrpcore.spray import SprayResult

    def saved(cls, name):
        n = 12
        rng = np.random.default_rng(0)
        result = SprayResult(indices=np.arange(n), labels=np.full(n, -1 if cls is None else cls),
                             heatmaps=rng.normal(size=(n, 28, 28)),
                             features=rng.normal(size=(n, 64)), clusters=np.arange(n) % 2,
                             eigenvalues=np.linspace(0, 1, 6),
                             embedding=rng.normal(size=(n, 2)), meta={"class": cls})
        path = tmp_path / name
        result.save(path)
        return path

    window = make_window()
    panel = window.insight.show("spray")
    assert panel.class_box.currentData() is None  # "all"
    assert panel.open(saved(3, "class3.npz")) is not None
    assert panel.class_box.currentData() == 3
    assert panel.open(saved(None, "all.npz")) is not None
    assert panel.class_box.currentData() is None
