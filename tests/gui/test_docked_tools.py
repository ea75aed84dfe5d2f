"""Docking an insight tool into the window: the views keep their size (at least a usable
one), the window does not grow past the screen it was sized for, and the tool's controls,
labels and map grids are never squeezed or cut — a small dock scrolls instead."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QComboBox, QLabel, QWidget

from lrpgui.insight.tools import TOOLS
from lrpgui.main_window import MIN_VIEWS

from .insight_helpers import open_tool
from .waiting import window_at

TAB_BAR = 40  # a dock that becomes a tab adds a tab bar below its area


def sized_window(qtbot, toy_files, width, height):
    return window_at(qtbot, toy_files[0], toy_files[1], width, height)


def cut_parts(panel):
    """Controls narrower or lower than their minimum, and map grids smaller than their cells
    and labels need (a GraphicsLayoutWidget then shows only part of its scene)."""
    bad = []
    for w in panel.findChildren(QWidget):
        if not w.isVisibleTo(panel):
            continue
        if isinstance(w, (QLabel, QAbstractButton, QComboBox)) and not (
                isinstance(w, QLabel) and w.wordWrap()):
            need = w.minimumSizeHint()
            if w.width() < need.width() or w.height() < need.height():
                bad.append(f"{type(w).__name__} {w.objectName() or w.text()!r}: "
                           f"{w.width()}×{w.height()} < {need.width()}×{need.height()}")
        if isinstance(w, pg.GraphicsLayoutWidget):
            need = w.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize)
            if w.width() + 1 < need.width() or w.height() + 1 < need.height():
                bad.append(f"canvas {w.objectName()}: {w.width()}×{w.height()} < "
                           f"{need.width():.0f}×{need.height():.0f}")
    return bad


@pytest.mark.parametrize("size", [(1024, 700), (1400, 900)])
def test_docking_each_tool_keeps_the_views_and_the_tool_readable(qtbot, toy_files, size):
    window = sized_window(qtbot, toy_files, *size)
    for name in [t[0] for t in TOOLS]:
        panel = window.insight.show(name, (1000, 700))
        dock = window.insight.docks[name]
        qtbot.waitUntil(lambda d=dock: d.isVisible())
        before = window.views.size()
        dock.setFloating(False)
        qtbot.waitUntil(lambda d=dock: not d.isFloating() and d.isVisible())
        QApplication.processEvents()
        assert (window.width(), window.height()) == size, f"docking {name} grew the window"
        views = window.views
        assert views.width() >= MIN_VIEWS[0] and views.height() >= MIN_VIEWS[1], name
        assert views.width() >= before.width() - TAB_BAR, f"docking {name} narrowed the views"
        assert views.height() >= before.height() - TAB_BAR, f"docking {name} shrank the views"
        need = panel.minimumSizeHint()
        assert panel.width() >= need.width() and panel.height() >= need.height(), \
            f"{name} is squeezed: {panel.size()} < {need}"
        assert cut_parts(panel) == [], name
        dock.hide()


def test_docked_compare_keeps_its_rows_and_labels_whole(qtbot, toy_files):
    """The Compare canvas in a small dock showed 68 of the 470 pixels its five rows need:
    maps and labels were cut. Its minimum now covers the grid; the dock scrolls."""
    window = sized_window(qtbot, toy_files, 1024, 700)
    view = open_tool(qtbot, window, "compare")
    dock = window.insight.docks["compare"]
    dock.setFloating(False)
    qtbot.waitUntil(lambda: not dock.isFloating() and dock.isVisible())
    QApplication.processEvents()
    canvas = view.canvas
    rows = len(view.result.comparison.rows)
    # one class column is laid out as tiles (stop 26): two lines of 72-pixel maps
    assert rows >= 5 and canvas.height() >= 2 * 72
    shown = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    for label in view._row_labels + view._scale_labels:
        rect = label.sceneBoundingRect()
        assert shown.contains(rect), f"{label.text!r} is cut"
        assert rect.width() >= label.item.boundingRect().width(), f"{label.text!r} is cut"
    for box, _item in view._cells.values():
        rect = box.sceneBoundingRect()
        assert shown.contains(rect) and min(rect.width(), rect.height()) >= 70
    scroll = dock.widget()
    assert scroll.widget() is view  # what does not fit the dock scrolls
