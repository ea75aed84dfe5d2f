"""The per-layer rule table's widget: full layer descriptions where the dock has room.

The layer column takes all the width the other columns leave; the table asks for the width
its contents need, so a window with room shows every description in full (e.g. "Convolution
5×5×10×25 stride 1,1"). Where the dock is narrower the description is shortened in the
middle, so both the kind of layer and its last parameters stay visible; the cell's tooltip
holds the full text. A dock too narrow to leave the layer column room for a readable start
("Convolution 5×5", :meth:`LayerRuleTable.readable_width`) asks for that much width and
hides the output-shape column (it comes back when there is room): at 965 px the layer column
was 30 px wide and showed only "…".
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyledItemDelegate, QTableWidget

from .table_batch import batched_item_changes

HEADERS = ("#", "layer", "output", "rule")
LAYER_COLUMN = 1
OUTPUT_COLUMN = 2
READABLE = "Convolution 5×5"  # what the layer column shows at least (in the font's width)
MIN_WIDTH = 220
# a short form of a layer cell shown when the full text does not fit (a graph node: its name,
# which --layer-rule and KEY=SPEC take; the rule column already tells pass from zplus)
SHORT_ROLE = Qt.ItemDataRole.UserRole + 1
MARGIN = 8  # what a cell's text leaves free of its width
MIN_ROWS = 5  # rows the table shows at least, however many docks share its side (it showed
# three at 1024×700 with the colour dock open)


class _ShortWhenNarrow(QStyledItemDelegate):
    """Draws a cell's short form (:data:`SHORT_ROLE`) when its full text does not fit."""

    def initStyleOption(self, option, index) -> None:  # noqa: N802 (Qt's name)
        super().initStyleOption(option, index)
        if option.rect.width() > 0:  # drawing (a size hint is asked with an empty rect)
            option.text = shown_form(option.text, index.data(SHORT_ROLE), option.fontMetrics,
                                     option.rect.width())


def shown_form(text, short, metrics, width) -> str:
    """The full text when it fits ``width``, else the short form when there is one."""
    if short and width > 0 and \
            metrics.elidedText(text, Qt.TextElideMode.ElideMiddle, width - MARGIN) != text:
        return short
    return text
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
        self.setItemDelegateForColumn(LAYER_COLUMN, _ShortWhenNarrow(self))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(MIN_WIDTH)
        self.setMinimumHeight(self.rows_height(MIN_ROWS))
        # Tab goes on to the next control (arrow keys move between cells): cell by cell, a
        # graph's table held the keyboard for hundreds of presses
        self.setTabKeyNavigation(False)

    def batched_changes(self):
        """Change many cells as one change (:func:`batched_item_changes`): a rule switch
        rewrites every rule cell."""
        return batched_item_changes(self)

    def rows_height(self, rows: int) -> int:
        """Height of the header, ``rows`` rows of one line and the frame."""
        row = self.fontMetrics().height() + 4  # a row of one line, as resizeRowsToContents
        return self.horizontalHeader().sizeHint().height() + rows * row + 2 * self.frameWidth()

    def readable_width(self) -> int:
        """The least width of the layer column: a layer's kind and its first parameters."""
        return self.fontMetrics().horizontalAdvance(READABLE) + 12  # + the cell's margins

    def fit_columns(self) -> None:
        """Ask for the width that leaves the layer column :meth:`readable_width` beside the
        index and rule columns; hide the output column when showing it would leave the layer
        column less than that, and show it again when there is room."""
        header = self.horizontalHeader()
        fixed = sum(max(self.sizeHintForColumn(c), header.sectionSizeHint(c)) for c in (0, 3))
        chrome = 2 * self.frameWidth() + self.verticalScrollBar().sizeHint().width()
        least = max(MIN_WIDTH, fixed + self.readable_width() + chrome)
        if least != self.minimumWidth():
            self.setMinimumWidth(least)
        output = max(self.sizeHintForColumn(OUTPUT_COLUMN), header.sectionSizeHint(OUTPUT_COLUMN))
        hide = self.viewport().width() - fixed - output < self.readable_width()
        if hide != self.isColumnHidden(OUTPUT_COLUMN):
            self.setColumnHidden(OUTPUT_COLUMN, hide)

    def shown_text(self, row: int) -> str:
        """The text the layer cell of ``row`` shows now: its full or short form, shortened in
        the middle to the column's width as Qt draws it (tests read it)."""
        item = self.item(row, LAYER_COLUMN)
        width = self.columnWidth(LAYER_COLUMN)
        metrics = self.fontMetrics()
        text = shown_form(item.text(), item.data(SHORT_ROLE), metrics, width)
        return metrics.elidedText(text, Qt.TextElideMode.ElideMiddle, width - MARGIN)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self.fit_columns()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        """Wide enough for every cell in full (capped), so a roomy window shows them."""
        hint = super().sizeHint()
        columns = sum(max(self.sizeHintForColumn(c),
                          self.horizontalHeader().sectionSizeHint(c))
                      for c in range(self.columnCount()))
        width = columns + 2 * self.frameWidth() + self.verticalScrollBar().sizeHint().width()
        return QSize(min(max(width, self.minimumWidth()), MAX_WIDTH), hint.height())
