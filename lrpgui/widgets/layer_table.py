"""The per-layer rule table's widget: full layer descriptions where the dock has room.

The layer column takes all the width the other columns leave; the table asks for the width
its contents need, so a window with room shows every description in full (e.g. "Convolution
5×5×10×25 stride 1,1"). Where the dock is narrower the description is shortened in the
middle, so both the kind of layer and its last parameters stay visible; the cell's tooltip
holds the full text.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget

HEADERS = ("#", "layer", "output", "rule")
LAYER_COLUMN = 1
MAX_WIDTH = 560  # the hint never asks for more than this


class LayerRuleTable(QTableWidget):
    """Rows: layer index, description, output shape, rule (editable)."""

    def __init__(self, **kwargs):
        super().__init__(0, len(HEADERS), **kwargs)
        self.setHorizontalHeaderLabels(list(HEADERS))
        self.verticalHeader().setVisible(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.horizontalHeader()
        for column in range(len(HEADERS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(LAYER_COLUMN, QHeaderView.ResizeMode.Stretch)
        self.setWordWrap(False)  # one line per layer, shortened in the middle when narrow
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(220)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        """Wide enough for every cell in full (capped), so a roomy window shows them."""
        hint = super().sizeHint()
        columns = sum(max(self.sizeHintForColumn(c),
                          self.horizontalHeader().sectionSizeHint(c))
                      for c in range(self.columnCount()))
        width = columns + 2 * self.frameWidth() + self.verticalScrollBar().sizeHint().width()
        return QSize(min(max(width, self.minimumWidth()), MAX_WIDTH), hint.height())
