"""A colour model with class names in a 1024×700 window: the colour dock opens beside the rule
panel and the sample tiles carry class names. The tiles' labels were cut ("?→Egypt…", and
through the middle of the line by a Samples dock lower than one row of tiles), and the rule
table showed three rows."""

from __future__ import annotations

import pytest
from colour_models import N_CLASSES, colour_graph_model, write_photos
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from .waiting import window_at

ROWS = 5  # layer rows the rule table shows at least (lrpgui.widgets.layer_table.MIN_ROWS)


@pytest.fixture
def named_colour_files(tmp_path):
    import lrpcore

    model = colour_graph_model()
    model.meta["class_names"] = [f"tabby cat {k}" for k in range(N_CLASSES)]
    path = tmp_path / "named.npz"
    lrpcore.save_model(model, path)
    return path, write_photos(tmp_path / "photos")


@pytest.fixture
def small_window(qtbot, named_colour_files):
    window = window_at(qtbot, *named_colour_files, 1024, 700)
    qtbot.waitUntil(window.colour_dock.isVisible)
    QApplication.processEvents()
    assert (window.width(), window.height()) == (1024, 700)
    return window


def test_sample_tiles_show_class_names_whole_at_1024_by_700(small_window):
    view = small_window.grid.view
    grid = small_window.grid.model
    metrics = view.fontMetrics()
    assert grid.rowCount() == 5
    for row in range(grid.rowCount()):
        index = grid.index(row)
        text = grid.data(index)
        assert text.startswith("?→tabby cat ")
        rect = view.visualRect(index)
        assert metrics.horizontalAdvance(text) <= rect.width() - 6, (text, rect)
    first = view.visualRect(grid.index(0))
    assert first.top() >= 0 and first.bottom() <= view.viewport().height(), \
        "the first row of tiles is cut by the Samples dock"


def test_rule_table_keeps_rows_with_the_colour_dock_open_at_1024_by_700(small_window):
    table = small_window.rules.layer_table
    assert table.rowCount() > ROWS
    assert small_window.colour_dock.isVisible() and small_window.colour.widget.height() > 0
    visible = table.viewport().height() / table.rowHeight(0)
    assert visible >= ROWS - 0.05, visible
    assert table.item(0, 1).data(Qt.ItemDataRole.DisplayRole)
