"""Widgets the insight windows build alike: read-only result tables, white heatmap canvases,
and the "settings over table over heatmaps" arrangement of the batch windows."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
)

from . import imaging


def result_table(name, columns, tooltip="", rows=False) -> QTableWidget:
    """A read-only table (no row numbers, last column stretched); ``rows``: one whole row at
    a time is selectable (a ranking the user picks from)."""
    t = QTableWidget(0, len(columns), objectName=name)
    t.setHorizontalHeaderLabels(columns)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    if rows:
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    t.verticalHeader().hide()
    t.horizontalHeader().setStretchLastSection(True)
    if tooltip:
        t.setToolTip(tooltip)
    return t


def canvas(name, tooltip="") -> pg.GraphicsLayoutWidget:
    """A white canvas for grids of heatmaps (imaging.image_cell adds the cells)."""
    w = pg.GraphicsLayoutWidget()
    w.setObjectName(name)
    w.setBackground("w")
    if tooltip:
        w.setToolTip(tooltip)
    return imaging.keep_whole(w)  # never shown cut: a small dock scrolls


def scrolling(maps) -> QScrollArea:
    """A grid of maps that scrolls on its own: kept whole (imaging.keep_whole), the sanity
    check of a ResNet (eleven steps) made the whole tool 1,400 pixels wide, its verdict cut
    and its Run button beyond the edge of the window."""
    area = QScrollArea(objectName=f"{maps.objectName()}Scroll")
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(maps)
    return area


def table_over_maps(panel, form, table, maps, *between) -> None:
    """The batch windows' layout: settings, then ``between`` (e.g. a verdict), the error
    line, and the table above the heatmaps (which get two thirds of the height)."""
    split = QSplitter(Qt.Orientation.Vertical)
    split.addWidget(table)
    split.addWidget(scrolling(maps))
    split.setStretchFactor(1, 2)
    layout = QVBoxLayout(panel)
    layout.addLayout(form)
    for w in between:
        layout.addWidget(w)
    layout.addWidget(panel.error_label)
    layout.addWidget(split, 1)


__all__ = ["canvas", "result_table", "scrolling", "table_over_maps"]
