"""The sample grid: thumbnails with true label and prediction, plus its filters.

A filter that hides the sample on display takes nothing away: the views keep showing it, the
count label (and the input view's title, through ``state.sample_hidden``) say that it is
hidden, the arrow keys move on from where it would stand, and the grid selects it again as
soon as a filter lets it through.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, QSize, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QVBoxLayout,
    QWidget,
)

from ..item_models import ORDERS, THUMB, SampleListModel
from .class_choice import ClassChoice, class_entries
from .rule_panel import signals_blocked

_Move = QAbstractItemView.CursorAction
TILE_EXTRA = 56  # a tile with class names is at most this much wider than its thumbnail
FORWARD = (_Move.MoveRight, _Move.MoveDown, _Move.MoveNext, _Move.MovePageDown)
BACKWARD = (_Move.MoveLeft, _Move.MoveUp, _Move.MovePrevious, _Move.MovePageUp)


class GridView(QListView):
    """A QListView whose arrow keys, while nothing is current (the sample on display is
    hidden by the filters), go to the listed neighbour of that sample, not to the first tile.

    ``hidden_row()`` answers the row where the hidden sample would stand, or None.
    """

    def __init__(self, hidden_row, **kwargs):
        super().__init__(**kwargs)
        self.hidden_row = hidden_row
        self._focusing = False
        self._scroll_wanted = None  # a row to bring into sight once the layout reaches it

    def scroll_to_row(self, row: int) -> None:
        """Bring ``row`` into sight now, or as soon as the batched layout has placed it (a
        sample chosen at start, by a script or with ``--sample`` lies beyond the first
        batch of a large dataset)."""
        index = self.model().index(row, 0, QModelIndex())
        if self.visualRect(index).isValid():
            self._scroll_wanted = None
            self.scrollTo(index)
        else:
            self._scroll_wanted = row

    def _scroll_if_pending(self) -> None:
        row = self._scroll_wanted
        if row is not None and self.model() is not None and row < self.model().rowCount():
            index = self.model().index(row, 0, QModelIndex())
            if self.visualRect(index).isValid():
                self._scroll_wanted = None
                self.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)

    def updateGeometries(self):  # noqa: N802 (Qt's name; called after each layout batch)
        super().updateGeometries()
        self._scroll_if_pending()

    def timerEvent(self, event):  # noqa: N802 (Qt's name; drives the batched layout)
        super().timerEvent(event)
        self._scroll_if_pending()

    def focusInEvent(self, event):  # noqa: N802 (Qt's name)
        """Qt makes the first tile current on focus when none is: that would replace the
        hidden sample on display by another one merely by clicking into the grid."""
        self._focusing = True
        try:
            super().focusInEvent(event)
        finally:
            self._focusing = False

    def moveCursor(self, action, modifiers):  # noqa: N802 (Qt's name)
        row = None if self.currentIndex().isValid() else self.hidden_row()
        n = self.model().rowCount() if self.model() is not None else 0
        if row is not None and self._focusing:
            return QModelIndex()
        if row is None or n == 0 or action not in FORWARD + BACKWARD:
            return super().moveCursor(action, modifiers)
        row = row if action in FORWARD else row - 1
        return self.model().index(min(max(row, 0), n - 1), 0, QModelIndex())


# how the grid names a sample whose predicted class is not its label: a classifier's is
# misclassified; a segmentation model's class at the most pixels is only not the label
CLASS_WORDS = {"filter": "misclassified only", "tile": "misclassified",
               "tip": "Show only samples whose predicted class differs from the true class"}
MAP_WORDS = {"filter": "most-pixels class ≠ label only",
             "tile": "class at the most pixels ≠ label",
             "tip": "Show only samples whose class at the most pixels differs from their label "
                    "(a segmentation model predicts a class per pixel: a label per sample is "
                    "no mask of classes, so this is no misclassification)"}


class SampleGrid(QWidget):
    """A QListView in icon mode over :class:`SampleListModel`; selection → state."""

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.model = SampleListModel(self)
        self.view = GridView(self._hidden_row, objectName="sampleGrid")
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setFlow(QListView.Flow.LeftToRight)
        self.view.setWrapping(True)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setUniformItemSizes(True)
        self.view.setLayoutMode(QListView.LayoutMode.Batched)
        self.view.setBatchSize(500)
        self.view.setIconSize(QSize(THUMB, THUMB))
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setModel(self.model)
        self.model.shown_rows = self._shown_rows

        self._names_for = None  # the model whose class names the tiles show
        self.true_filter = ClassChoice(objectName="trueClassFilter")
        self.pred_filter = ClassChoice(objectName="predClassFilter")
        self.mis_only = QCheckBox("misclassified only", objectName="misclassifiedOnly")
        self.count_label = QLabel(objectName="sampleCount")
        self.order_box = QComboBox(objectName="gridOrder")
        for name, (text, tip) in ORDERS.items():
            self.order_box.addItem(text, name)
            self.order_box.setItemData(self.order_box.count() - 1, tip,
                                       Qt.ItemDataRole.ToolTipRole)
        self.order_box.setToolTip("Order of the tiles: classes mixed (one of each class in "
                                  "turn), dataset order, or sorted by true class")
        self.true_filter.setToolTip("Show only samples of this true class")
        self.pred_filter.setToolTip("Show only samples the model assigns to this class")
        self.count_label.setToolTip("Samples listed by the filters, of all samples")
        self.view.setToolTip("Click a sample to explain it; arrow keys move; Shift/Ctrl-click "
                             "select several for a batch export")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("order"))
        bar.addWidget(self.order_box)
        bar.addWidget(QLabel("true class"))
        bar.addWidget(self.true_filter)
        bar.addWidget(QLabel("predicted"))
        bar.addWidget(self.pred_filter)
        bar.addWidget(self.mis_only)
        bar.addStretch(1)
        bar.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)

        self.view.selectionModel().currentChanged.connect(self._current_changed)
        self.true_filter.currentIndexChanged.connect(
            lambda _i: setattr(state, "filter_true", self.true_filter.currentData()))
        self.pred_filter.currentIndexChanged.connect(
            lambda _i: setattr(state, "filter_pred", self.pred_filter.currentData()))
        self.mis_only.toggled.connect(lambda on: setattr(state, "misclassified_only", on))
        self.order_box.currentIndexChanged.connect(
            lambda _i: self.set_order(self.order_box.currentData()))
        state.events.dataset.connect(self._on_dataset)
        state.events.model.connect(lambda _m: self._on_model())
        state.events.predictions.connect(self._on_predictions)
        state.events.predicted.connect(self._on_predicted)
        for name in ("filter_true", "filter_pred", "misclassified_only", "filter_subset"):
            getattr(state.events, name).connect(lambda _v: self._apply_filters())
        state.events.sample_index.connect(self.select_sample)
        self._say_what_disagrees()
        self._on_dataset(state.dataset)

    def _shown_rows(self) -> tuple[int, int]:
        """(first, last) rows of tiles the viewport can show, a row of tiles to spare; every
        row when the first tile on display is not found (repainting too much is harmless)."""
        n = self.model.rowCount()
        grid, port = self.view.gridSize(), self.view.viewport().rect()
        if not grid.isValid() or grid.width() < 1 or grid.height() < 1:
            return 0, n - 1
        first = None
        for y in range(0, min(grid.height() + 1, port.height()), 4):
            index = self.view.indexAt(QPoint(grid.width() // 2, y))
            if index.isValid():
                first = index.row()
                break
        if first is None:
            return 0, n - 1
        per_row = max(1, port.width() // grid.width())
        rows = port.height() // grid.height() + 2
        first = max(0, first - first % per_row - per_row)
        return first, first + (rows + 1) * per_row - 1

    # -- state → view -----------------------------------------------------------------------
    def _on_dataset(self, dataset) -> None:
        self._take_class_names()
        self.model.set_dataset(dataset)
        self._fill_filters()
        self._apply_filters()

    def _on_model(self) -> None:
        self.model.redraw_thumbnails()  # the open samples as fitted to this model
        self._fill_filters()
        self._say_what_disagrees()

    def _say_what_disagrees(self) -> None:
        """"misclassified" says of a segmentation model (a class per pixel) only that the class
        at the most pixels is not the sample's one label, and is said so."""
        from lrpcore.targets import model_map_shape  # noqa: PLC0415

        model = self.state.model
        words = MAP_WORDS if model is not None and model_map_shape(model) else CLASS_WORDS
        self.mis_only.setText(words["filter"])
        self.mis_only.setToolTip(words["tip"])
        self.model.mismatch = words["tile"]

    def _take_class_names(self) -> None:
        """The tiles name the open model's classes (copied and measured once per model)."""
        model = self.state.model
        if self._names_for is model and self.model.class_names is not None:
            return
        self._names_for = model
        self.model.class_names = list(model.class_names) if model is not None else None
        self.fit_tiles()

    def _fill_filters(self) -> None:
        model = self.state.model
        self._take_class_names()
        texts, values = class_entries(model, head=[("any", None)], unknown=10)
        for combo, value in ((self.true_filter, self.state.filter_true),
                             (self.pred_filter, self.state.filter_pred)):
            with signals_blocked(combo):
                combo.set_entries(texts, values, current=value)
        self.true_filter.setEnabled(self.state.labels is not None)
        self.mis_only.setEnabled(self.state.labels is not None)

    def fit_tiles(self) -> None:
        """Tiles as wide as their labels need, within limits: digits "3→8" fit under the
        thumbnail, class names ("?→Egyptian cat", cut to "?→Egypt…" before) get a tile up to
        TILE_EXTRA wider (longer names end in "…"; the tooltip has them in full). The view is
        never lower than one whole row of tiles, so a short Samples dock still shows the
        labels (at 1024×700 they were cut through)."""
        metrics = self.view.fontMetrics()
        names = self.model.class_labels()
        widest = widest_label(metrics, names, THUMB + TILE_EXTRA - 8)
        width = max(THUMB + 16, min(THUMB + TILE_EXTRA, widest + 8))
        tile = QSize(width, THUMB + 8 + metrics.lineSpacing())
        self.model.tile_size = tile
        grid = QSize(tile.width() + 2, tile.height() + 2)
        if grid != self.view.gridSize():
            self.view.setGridSize(grid)
        self.view.setMinimumHeight(grid.height() + 2 * self.view.frameWidth())

    def _on_predictions(self, predictions) -> None:
        self.model.set_predictions(predictions)
        self._after_refilter()

    def _on_predicted(self, batch) -> None:
        """A batch of predictions while the dataset is predicted: those samples only."""
        if batch is not None and self.model.update_predictions(batch.indices, batch.classes):
            self._after_refilter()

    def _apply_filters(self) -> None:
        s = self.state
        self.model.set_filters(s.filter_true, s.filter_pred, s.misclassified_only,
                               s.filter_subset)
        with signals_blocked(self.mis_only):
            self.mis_only.setChecked(s.misclassified_only)
        for combo, value in ((self.true_filter, s.filter_true),
                             (self.pred_filter, s.filter_pred)):  # set by a script or tool
            with signals_blocked(combo):
                combo.setCurrentIndex(max(combo.findData(value), 0))
        self._after_refilter()

    def _after_refilter(self) -> None:
        self.select_sample(self.state.sample_index)

    def _show_count(self) -> None:
        s = self.state
        n = self.model.rowCount()
        total = len(s.dataset) if s.dataset is not None else 0
        text = f"{n:,} of {total:,} samples"
        if s.sample_hidden:
            text += f" · sample {s.sample_index} (on display) is hidden by the filter"
        self.count_label.setText(text)

    def select_sample(self, dataset_index) -> None:
        """Make the sample current in the grid; if the filters hide it, select nothing."""
        row = self.model.row_of(int(dataset_index))
        hidden = row is None and self.state.dataset is not None
        self.state.sample_hidden = hidden
        self._show_count()
        selection = self.view.selectionModel()
        if row is None:
            if self.view.currentIndex().isValid() or selection.hasSelection():
                with signals_blocked(selection):
                    selection.clearSelection()
                    selection.setCurrentIndex(QModelIndex(),
                                              QItemSelectionModel.SelectionFlag.NoUpdate)
                self.view.viewport().update()
            return
        index = self.model.index(row)
        if self.view.currentIndex() == index:
            self.view.scroll_to_row(row)  # e.g. after a new order: still in sight
            return
        with signals_blocked(selection):
            selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.view.scroll_to_row(row)
        self.view.viewport().update()

    def set_order(self, name: str) -> None:
        """Show the tiles in another order (see ``item_models.ORDERS``); the sample on
        display stays selected and in sight."""
        self.model.set_order(name)
        self.view.doItemsLayout()  # tiles have their places at once (clicks, scripts)
        with signals_blocked(self.order_box):
            self.order_box.setCurrentIndex(max(self.order_box.findData(name), 0))
        self._after_refilter()

    def _hidden_row(self) -> int | None:
        """Where the hidden sample on display would stand in the grid (None: not hidden)."""
        if not self.state.sample_hidden:
            return None
        return self.model.first_row_after(self.state.sample_index)

    # -- view → state -----------------------------------------------------------------------
    def _current_changed(self, current, _previous) -> None:
        if current.isValid():
            self.state.sample_index = self.model.dataset_index(current.row())

    def selected_indices(self) -> list[int]:
        rows = sorted(i.row() for i in self.view.selectionModel().selectedIndexes())
        return [self.model.dataset_index(r) for r in rows]


def widest_label(metrics, names, enough: int) -> int:
    """The width of the widest tile label "?→name ✗" (at least ``enough`` when one is that
    wide), measuring the longest names first and only while a longer name could still be
    wider: 100,000 class names measured one by one took ~1 s at every model change."""
    if not names:
        return 0
    frame = metrics.horizontalAdvance("?→ ✗")  # the label without the name
    per_char = max(metrics.horizontalAdvance(c) for c in set("".join(names)) or " ")
    widest = 0
    for name in sorted(names, key=len, reverse=True):
        if widest >= enough or frame + len(name) * per_char <= widest + 2:
            break  # no name left can be (noticeably) wider
        widest = max(widest, metrics.horizontalAdvance(f"?→{name} ✗"))
    return widest
