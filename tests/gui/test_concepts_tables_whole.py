"""The Concepts panel's tables show every column (acceptance review): at its floating size
(1150 × 800) the ranking's and the composition's "share" column was cut off behind a
horizontal scroll bar (three columns at Qt's default 100 pixels in a ~255-pixel pane)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication

MODELS = Path(__file__).resolve().parents[2] / "models"


def test_ranking_and_composition_tables_need_no_horizontal_scrolling(make_window, toy_files,
                                                                    qtbot):
    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])
    with qtbot.waitSignal(window.insight["concepts"].updated, timeout=60000):
        panel = window.insight.show("concepts", (1150, 800))
    QApplication.processEvents()
    for table in (panel.ranking_table, panel.composition_table):
        assert table.rowCount() > 0
        assert table.horizontalScrollBar().maximum() == 0, table.objectName()
        assert all(table.columnWidth(j) > 0 for j in range(table.columnCount()))

