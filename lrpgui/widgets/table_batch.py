"""Many cells of a table widget changed as one change.

Each change of a ``QTableWidgetItem`` (a new item, its text, font, colour, flags or tooltip)
tells the view at once, and a header that fits its columns to their contents then measures
every row again: filling a table of n rows costs n² measurements. EfficientNet-Lite0's 112
layers held the GUI thread 0.5–1 s per rule switch in the per-layer rule table and ~6 s per
click in the Conservation panel (1,170 cells).
"""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def batched_item_changes(table):
    """Change cells of ``table`` (rows already added) inside the block; the view and its
    header hear of all of them once, at the end."""
    model = table.model()
    blocked = model.blockSignals(True)
    try:
        yield
    finally:
        model.blockSignals(blocked)
        rows, columns = table.rowCount(), table.columnCount()
        if rows and columns:
            model.dataChanged.emit(model.index(0, 0), model.index(rows - 1, columns - 1))
