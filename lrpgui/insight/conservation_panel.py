"""Conservation, layer by layer, for the explanation on display.

A table gives, for every layer (output at the top), the relevance sum arriving at its output,
the sum leaving at its input, what the layer created (+) or absorbed (−) and the sum relative
to the explained output f(x); a plot shows, at every layer, ΣR across the cut at its input
against f(x). Clicking a row shows the
relevance at that layer's input (convolutional maps summed over channels, vectors and 1×1
maps as a strip of their values). One backward pass with a trace gives all of it. A graph
model's rows name their node, and under each merge (Add, Concat) one row per input branch
gives the relevance that branch received and its share of the merge's. A node's own sum is
only part of what flows at its depth when a skip branch passes it, so the plot and the summary
use the cut (every edge from a node before it into one at or after it; a chain: the layer's
input sum), and a graph's table shows it in its own column: no dip at a branch that looks like
lost relevance.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from lrpcore.insight.conservation import branch_labels, branch_text, cut_summary, input_cut

from ..widgets.axes import label_axes, plot_widget
from ..widgets.table_batch import batched_item_changes
from . import imaging
from .panel import ToolPanel
from .worker_tasks import request_from_state, run_conservation

COLUMNS = ("layer", "type", "R at output", "R at input", "created (+) / absorbed (−)",
           "in / out", "in / f(x)", "ΣR across the cut", "node")
# the headers on two lines and the columns of names (type, node) sharing what the numbers
# leave, shortened in the middle: one line each, the table scrolled sideways in its own
# 760-pixel window (a graph model's node names out of sight)
HEADERS = ("layer", "type", "R at\noutput", "R at\ninput", "created (+)\nabsorbed (−)",
           "in /\nout", "in /\nf(x)", "ΣR across\nthe cut", "node")
NAME_COLUMNS = (1, 8)  # type, node
CUT_COLUMN = 7  # shown for graph models (a chain's cut is "R at input")
NODE_COLUMN = 8  # shown for graph models
CUT_TIP = ("Relevance crossing the cut at this node's input: on every edge from a node before "
           "it into one at or after it, skip branches included. It changes only where nodes "
           "absorb or create relevance; a single node's sum misses what flows past it")
BRANCH_TIP = ("What this input of the merge received, and its share of the merge's relevance "
              "(the node writing the input is named)")
TOLERANCE = 1e-6  # relative change below which a layer counts as conserving


def _num(v: float) -> str:
    return "—" if not math.isfinite(v) else f"{v:.6g}"


def _warning_text(diagnosis) -> str:
    """The diagnosis's warnings, then what the rule loses by its own definition (z⁺'s
    positive biases): said here, where the sums are, and not in the status bar."""
    if diagnosis is None:
        return ""
    notes = "".join(f"\nℹ {line}" for line in diagnosis.notes())
    if diagnosis.ok:
        return notes
    return "\n⚠ " + "\n⚠ ".join(diagnosis.warnings()[1:] or diagnosis.warnings()) + notes


class ConservationPanel(ToolPanel):
    """Per-layer relevance sums of the current explanation and the map at a chosen layer."""

    key = "insight-conservation"

    def __init__(self, runner, parent=None):
        super().__init__(runner, parent)
        self.setObjectName("conservationPanel")
        self.result = None
        self.shown_layer: int | None = None
        self.shown_map = None
        self.table_layers: list = []  # the layer of each table row (branch rows: the merge's)
        self._build()
        self.state.events.colormap.connect(lambda _c: self._draw_map())
        self.state.events.outline.connect(lambda _c: self._draw_map())

    def _build(self) -> None:
        self.summary = QLabel(objectName="conservationSummary")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS), objectName="conservationTable")
        self.table.setHorizontalHeaderLabels(HEADERS)
        for j, name in enumerate(COLUMNS):
            self.table.horizontalHeaderItem(j).setToolTip(name)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setWordWrap(False)  # wrapped, a cell is cut at its end, not its middle
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for j in NAME_COLUMNS:
            header.setSectionResizeMode(j, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.setMinimumHeight(150)
        self.plot = plot_widget("conservationPlot")
        self.plot.setMenuEnabled(False)
        label_axes(self.plot, "ΣR across the cut",
                   "layer (the cut at its input; rightmost: f(x))")
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.setMinimumHeight(140)
        self.sum_curve = self.plot.plot([], [], pen=pg.mkPen((0, 90, 200), width=2),
                                        symbol="o", symbolSize=7, symbolBrush=(0, 90, 200))
        self.target_line = pg.InfiniteLine(angle=0, pen=pg.mkPen((200, 30, 30), width=1,
                                                                 style=Qt.PenStyle.DashLine))
        self.plot.addItem(self.target_line)
        self.map_widget = pg.GraphicsLayoutWidget()
        self.map_widget.setObjectName("layerMapView")
        self.map_widget.setBackground("w")
        self.map_title = pg.LabelItem("", size="9pt", color="k")
        self.map_widget.ci.addItem(self.map_title, row=0, col=0)
        self.map_box, self.map_item = imaging.image_cell(self.map_widget.ci, 1, 0)
        self.map_outline = imaging.outline_overlay(self.map_box)
        self.map_widget.setMinimumHeight(160)
        imaging.keep_whole(self.map_widget)  # title and map never cut: a small dock scrolls
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.plot)
        split.addWidget(self.map_widget)
        split.setStretchFactor(0, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.error_label)
        layout.addWidget(split, 1)

    # -- work -------------------------------------------------------------------------------
    def start(self) -> int:
        req = request_from_state(self.state)
        if req is None:
            return 0
        cache = self.runner.cache
        return self.submit(lambda token: run_conservation(req, cache, token), self._show)

    def _show(self, result) -> None:
        if result.request.model is not self.state.model:
            return
        self.clear_error()
        self.result = result
        rows = result.rows
        explained = rows[0].explained if rows else float("nan")
        self.summary.setText(f"{result.description}: {cut_summary(explained, input_cut(rows))}"
                             + _warning_text(result.diagnosis))
        flagged = set() if result.diagnosis is None else \
            {f.layer for f in result.diagnosis.findings}
        entries = [(row, branch) for row in rows for branch in (None,) + tuple(row.branches)]
        labels = branch_labels(rows)
        self.table_layers = [row.layer for row, _ in entries]
        graph = any(row.node for row in rows)
        self.table.setColumnHidden(NODE_COLUMN, not graph)
        self.table.setColumnHidden(CUT_COLUMN, not graph)
        self.table.setRowCount(len(entries))
        with batched_item_changes(self.table):  # the view measures 1,170 cells once
            for i, (row, branch) in enumerate(entries):
                if branch is not None:
                    self._branch_row(i, row, branch, labels)
                    continue
                values = (str(row.layer), row.description, _num(row.sum_out), _num(row.sum_in),
                          _num(row.created), _num(row.ratio), _num(row.of_output), _num(row.cut),
                          row.label)
                for j, text in enumerate(values):
                    item = QTableWidgetItem(text)
                    if j == CUT_COLUMN:
                        item.setToolTip(CUT_TIP)
                    elif j in NAME_COLUMNS:  # whole where the column shortens it
                        item.setToolTip(text)
                    if j not in (1, NODE_COLUMN):
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                              | Qt.AlignmentFlag.AlignVCenter)
                    self.table.setItem(i, j, item)
                scale = max(abs(row.sum_out), abs(row.explained), 1e-300)
                if abs(row.created) > TOLERANCE * scale:
                    colour = QColor(255, 220, 215) if row.created > 0 else QColor(215, 230, 255)
                    self.table.item(i, 4).setBackground(QBrush(colour))
                if row.layer in flagged:  # a layer the diagnosis blames
                    for j in (0, 1):
                        self.table.item(i, j).setBackground(QBrush(QColor(255, 236, 190)))
        layers = [row.layer for row in rows]
        xs = np.array(layers[::-1] + [len(layers)], dtype=float)
        ys = np.array([row.cut for row in rows][::-1] + [explained], dtype=float)
        self.sum_curve.setData(xs, ys)
        self.target_line.setValue(explained)
        keep = self.shown_layer if self.shown_layer is not None else 0
        self.select_layer(min(keep, len(result.layer_maps) - 1))
        self.updated.emit()

    def _branch_row(self, i, row, branch, labels) -> None:
        """A merge's input branch: the relevance it received (in "R at input") and its share."""
        source, name, value = branch
        share = value / row.sum_in if row.sum_in != 0 else math.nan
        values = {1: branch_text(source, share), 3: _num(value),
                  NODE_COLUMN: labels.get(source, name)}
        for j in range(len(COLUMNS)):
            item = QTableWidgetItem(values.get(j, ""))
            item.setToolTip(f"{item.text()}: {BRANCH_TIP}" if j in NAME_COLUMNS else BRANCH_TIP)
            item.setForeground(QBrush(QColor(70, 70, 70)))
            if j == 3:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(i, j, item)

    def branches(self) -> dict:
        """{merge layer k: [(source node, name, relevance received), ...]} as the table shows
        them (tests read it)."""
        return {row.layer: list(row.branches) for row in self.result.rows
                if row.branches} if self.result else {}

    def flagged_layers(self) -> list:
        """Layers the diagnosis of the shown result blames (output first)."""
        d = None if self.result is None else self.result.diagnosis
        return [] if d is None else [f.layer for f in d.findings]

    # -- the layer map ----------------------------------------------------------------------
    def layer_sums(self) -> dict:
        """{layer k: ΣR at the input of layer k} as shown in the table (tests read it)."""
        return {row.layer: row.sum_in for row in self.result.rows} if self.result else {}

    def cut_sums(self) -> dict:
        """{layer k: ΣR across the cut at the input of layer k} as plotted (tests read it)."""
        return {row.layer: row.cut for row in self.result.rows} if self.result else {}

    def select_layer(self, k: int) -> None:
        """Show the relevance at the input of layer ``k`` (and select its table row)."""
        if self.result is None:
            return
        self.shown_layer = int(k)
        current = self.table.currentRow()
        on_it = 0 <= current < len(self.table_layers) and self.table_layers[current] == k
        if k in self.table_layers and not on_it:  # a merge's branch row counts as the merge
            self.table.blockSignals(True)
            self.table.selectRow(self.table_layers.index(k))
            self.table.blockSignals(False)
        self._draw_map()

    def _selection_changed(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows and self.result is not None and rows[0].row() < len(self.table_layers):
            self.select_layer(self.table_layers[rows[0].row()])

    def _draw_map(self) -> None:
        if self.result is None or self.shown_layer is None:
            return
        k = self.shown_layer
        r = np.asarray(self.result.layer_maps[k])
        self.shown_map = r
        vmax = imaging.max_abs(r)
        imaging.show_relevance(self.map_item, r, vmax, self.state.colormap)
        # the input's outline where the map is in the model's input layout (layer 0: the
        # padded 32×32 digit); a hidden layer's map has none (LeNet-5's first convolution
        # makes 28×28 maps: the raw digit's size, not its layout)
        req = self.result.request
        x01 = imaging.input_for_map(req.model, req.raw, r.shape, raw_layout=False)
        imaging.show_outline(self.map_outline, x01, r.shape, self.state.outline)
        imaging.fit(self.map_box, r.shape)
        layers = self.result.rows
        what = next((row.description for row in layers if row.layer == k), "initial relevance")
        self.map_title.setText(f"relevance at the input of layer {k} ({what}): "
                               f"ΣR = {r.sum():.5g}, shown ±{vmax:.3g}")
