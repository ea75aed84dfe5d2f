"""The sample grid's item model: dataset indices, filtered, with lazily drawn thumbnails.

Only the rows the view asks for are drawn (``data()`` for DecorationRole), and the last few
thousand thumbnails are kept in an LRU cache, so a 60,000-image dataset scrolls smoothly. The
numpy → QImage conversion happens here, on the GUI thread, at the Qt boundary.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPixmap

from lrpcore.errors import LRPError
from lrpcore.io.datasets import mixed_order
from lrpcore.spec import span_fraction
from lrpcore.text import no_markup

from . import rendering

THUMB = 56
DATASET_INDEX_ROLE = Qt.ItemDataRole.UserRole + 1
MISCLASSIFIED_ROLE = Qt.ItemDataRole.UserRole + 2
ORDERS = {  # name → (label shown, tooltip)
    "mixed": ("classes mixed", "one sample of each class in turn: variety from the first row"),
    "dataset": ("dataset order", "the order of the samples in the dataset file"),
    "class": ("by true class", "all samples of class 0, then class 1, ... (dataset order "
              "within a class)"),
}


def pixels(img) -> np.ndarray:
    """One sample as uint8 pixels (H×W or H×W×C).

    A vector (a sample of a dense model that is no image, e.g. XOR's two features) becomes a
    one-row strip. Float samples already in [0, 1] keep their values, so that different
    samples do not look alike; others are stretched to their own range.
    """
    a = np.asarray(img)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if a.dtype != np.uint8:
        a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = float(a.min()), float(a.max())
        if lo >= 0.0 and hi <= 1.0:
            lo, hi = 0.0, 1.0
        a = np.clip(span_fraction(a, lo, hi) * 255, 0, 255).astype(np.uint8)
    return a


def gray_qimage(img) -> QImage:
    """uint8 H×W (or H×W×1) or H×W×3 → QImage that owns its pixels (see :func:`pixels`)."""
    a = pixels(img)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    a = np.ascontiguousarray(a)
    if a.ndim == 2:
        h, w = a.shape
        return QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    h, w, _ = a.shape
    a = np.ascontiguousarray(a[..., :3])
    return QImage(a.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class SampleListModel(QAbstractListModel):
    """Rows are dataset indices passing the filters; text shows true label and prediction."""

    def __init__(self, parent=None, cache_size=4000):
        super().__init__(parent)
        self._dataset = None
        self._labels = None
        self._predictions = None
        self.class_names = None  # the model's class names (tiles name classes by them)
        self.mismatch = "misclassified"  # a tile's word for predicted ≠ label (SampleGrid)
        self.tile_size = QSize(THUMB + 16, THUMB + 22)  # thumbnail and label (SampleGrid sets)
        self._rows = np.zeros(0, dtype=np.int64)
        self._order_name = "mixed"
        self._order = np.zeros(0, dtype=np.int64)  # every dataset index, in display order
        self._rank = np.zeros(0, dtype=np.int64)  # position of each dataset index in _order
        self._row_ranks = np.zeros(0, dtype=np.int64)  # _rank[_rows], increasing
        self._filters = (None, None, False, None)
        self._cache: OrderedDict[int, QPixmap] = OrderedDict()
        self._cache_size = cache_size
        self.renders = 0  # thumbnails drawn so far (tests check laziness)
        # (first, last) rows a view shows, or None (the grid sets it): a repaint of every row
        # made the icon-mode view measure each of 60,000 tiles (0.1 s on the GUI thread,
        # several times per model opened and once per batch of predictions); rows out of
        # sight are drawn from data() when they scroll in, at one tile size
        self.shown_rows = None

    # -- content ----------------------------------------------------------------------------
    def set_dataset(self, dataset) -> None:
        self.beginResetModel()
        self._dataset = dataset
        labels = getattr(dataset, "labels", None) if dataset is not None else None
        self._labels = None if labels is None else np.asarray(labels)
        self._predictions = None
        self._cache.clear()
        self._set_order_arrays()
        self._rows = self._filtered()
        self._row_ranks = self._rank[self._rows]
        self.endResetModel()

    def redraw_thumbnails(self) -> None:
        """Draw the thumbnails again: opening a model fits an open image folder to it (a
        16×16 colour net's tiles stayed in colour after a greyscale 28×28 one was opened)."""
        self._cache.clear()
        self._repaint([Qt.ItemDataRole.DecorationRole])

    def _repaint(self, roles) -> None:
        """dataChanged for ``roles`` over the rows on display (:attr:`shown_rows`), else all."""
        n = int(self._rows.size)
        if not n:
            return
        first, last = (0, n - 1) if self.shown_rows is None else self.shown_rows()
        first, last = max(0, first), min(n - 1, last)
        if first <= last:
            self.dataChanged.emit(self.index(first), self.index(last), roles)

    @property
    def order(self) -> str:
        return self._order_name

    def set_order(self, name: str) -> None:
        """Show the rows in one of :data:`ORDERS` ("mixed": the classes in turn)."""
        if name not in ORDERS:
            raise ValueError(f"unknown order {name!r}: use {', '.join(ORDERS)}")
        if name == self._order_name:
            return
        self._order_name = name
        self.beginResetModel()
        self._set_order_arrays()
        self._rows = self._filtered()
        self._row_ranks = self._rank[self._rows]
        self.endResetModel()

    def _set_order_arrays(self) -> None:
        n = 0 if self._dataset is None else len(self._dataset)
        if self._labels is None or self._order_name == "dataset":
            order = np.arange(n, dtype=np.int64)
        elif self._order_name == "class":
            order = np.argsort(self._labels, kind="stable").astype(np.int64)
        else:
            order = mixed_order(self._labels, n)
        self._order = order
        self._rank = np.empty(n, dtype=np.int64)
        self._rank[order] = np.arange(n, dtype=np.int64)

    def set_predictions(self, predictions) -> None:
        """New (possibly partial, −1 = unknown) predictions; refilter only when filters use
        them, else repaint the rows in place."""
        self._predictions = None if predictions is None else np.asarray(predictions).copy()
        self._predictions_changed()

    def update_predictions(self, indices, classes) -> bool:
        """Predictions of the samples ``indices`` arrived (a batch while the dataset is
        predicted): written in place, the cost of the batch, not of the dataset. Returns
        whether the rows were refiltered (False also when no predictions are set)."""
        if self._predictions is None:
            return False
        self._predictions[np.asarray(indices, dtype=np.int64)] = classes
        return self._predictions_changed()

    def _predictions_changed(self) -> bool:
        if self._filters[1] is not None or self._filters[2]:
            self._refilter()
            return True
        self._repaint([Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole,
                       Qt.ItemDataRole.BackgroundRole, MISCLASSIFIED_ROLE])
        return False

    def set_filters(self, true_class=None, pred_class=None, misclassified_only=False,
                    subset=None) -> None:
        filters = (true_class, pred_class, bool(misclassified_only), subset)
        if filters != self._filters:
            self._filters = filters
            self._refilter()

    def _refilter(self) -> None:
        rows = self._filtered()
        if np.array_equal(rows, self._rows):
            return
        self.beginResetModel()
        self._rows = rows
        self._row_ranks = self._rank[rows]
        self.endResetModel()

    def _filtered(self) -> np.ndarray:
        if self._dataset is None:
            return np.zeros(0, dtype=np.int64)
        keep = np.ones(len(self._dataset), dtype=bool)
        true_class, pred_class, mis, subset = self._filters
        if subset is not None:
            only = np.zeros(len(self._dataset), dtype=bool)
            idx = np.asarray(subset, dtype=np.int64)
            only[idx[(idx >= 0) & (idx < len(only))]] = True
            keep &= only
        if true_class is not None:
            keep &= (self._labels == true_class) if self._labels is not None else False
        if pred_class is not None:
            keep &= (self._predictions == pred_class) if self._predictions is not None else False
        if mis:
            if self._labels is None or self._predictions is None:
                keep &= False
            else:
                keep &= (self._predictions >= 0) & (self._predictions != self._labels)
        return self._order[keep[self._order]]

    # -- lookup -----------------------------------------------------------------------------
    def dataset_indices(self) -> np.ndarray:
        return self._rows.copy()

    def row_of(self, dataset_index: int) -> int | None:
        if not 0 <= dataset_index < len(self._rank):
            return None
        pos = int(np.searchsorted(self._row_ranks, self._rank[dataset_index]))
        if pos < len(self._rows) and self._rows[pos] == dataset_index:
            return pos
        return None

    def first_row_after(self, dataset_index: int) -> int:
        """The row of the first listed sample after ``dataset_index`` in the grid's order
        (rowCount() if none): where a sample hidden by the filters would stand."""
        if not 0 <= dataset_index < len(self._rank):
            return len(self._rows)
        return int(np.searchsorted(self._row_ranks, self._rank[dataset_index], side="right"))

    def dataset_index(self, row: int) -> int:
        return int(self._rows[row])

    def misclassified(self, i: int) -> bool:
        if self._labels is None or self._predictions is None:
            return False
        p = int(self._predictions[i])
        return p >= 0 and p != int(self._labels[i])

    # -- Qt interface -----------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()):  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        i = int(self._rows[index.row()])
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(i)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbnail(i)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(i)
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(QColor(255, 205, 205)) if self.misclassified(i) else None
        if role == DATASET_INDEX_ROLE:
            return i
        if role == MISCLASSIFIED_ROLE:
            return self.misclassified(i)
        if role == Qt.ItemDataRole.SizeHintRole:
            return self.tile_size
        return None

    def _classes(self, i: int) -> tuple[str | None, str | None]:
        """(true class, predicted class) of sample ``i`` as text; None where unknown."""
        t = None if self._labels is None else self.class_label(int(self._labels[i]))
        p = None
        if self._predictions is not None and self._predictions[i] >= 0:
            p = self.class_label(int(self._predictions[i]))
        return t, p

    def class_label(self, k: int) -> str:
        """Class ``k`` by its name (the first of ImageNet's synonyms), else its number."""
        names = self.class_names
        if names is None or not 0 <= k < len(names):
            return str(k)
        return _label(names[k], k)

    def class_labels(self) -> list[str]:
        """:meth:`class_label` of every class (in one pass: 100,000 classes)."""
        return [_label(name, k) for k, name in enumerate(self.class_names or ())]

    def _text(self, i: int) -> str:
        t, p = self._classes(i)
        mark = " ✗" if self.misclassified(i) else ""
        return f"{t or '?'}→{p or '…'}{mark}"

    def _tooltip(self, i: int) -> str:
        """The tile's "t→p" in words, and its file when read from one (a folder of photos)."""
        t, p = self._classes(i)
        mark = f" ({self.mismatch})" if self.misclassified(i) else ""
        listing = getattr(self._dataset, "sample_files", None)
        files = listing([i]) if listing is not None else None
        where = f" ({no_markup(files[0])})" if files else ""
        return (f"sample {i}{where}: true class {t or 'unknown'}, predicted "
                f"{p or 'not yet computed'}{mark}")

    def _thumbnail(self, i: int) -> QPixmap:
        pix = self._cache.get(i)
        if pix is not None:
            self._cache.move_to_end(i)
            return pix
        try:
            img = self._dataset.images(np.array([i]))[0]
        except LRPError:  # a broken sample (NaN, unreadable file): an empty tile, no traceback
            pix = QPixmap(THUMB, THUMB)
            pix.fill(QColor(230, 230, 230))
        else:
            pix = thumbnail(gray_qimage(_invert_if_ink(pixels(img))))
        self.renders += 1
        self._cache[i] = pix
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return pix




def thumbnail(image: QImage) -> QPixmap:
    """A sample's tile picture: scaled to fit THUMB×THUMB and centred on a transparent square
    of that size, so that every picture stands in one place above its label. XOR's 2×1 strip
    (56×28) stood at the top of its square, and its white cells vanished into the tile: (0, 1)
    looked like a black square shifted right. A picture that leaves room gets a thin frame."""
    pix = QPixmap.fromImage(image).scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.FastTransformation)
    if pix.width() == THUMB and pix.height() == THUMB:
        return pix
    tile = QPixmap(THUMB, THUMB)
    tile.fill(Qt.GlobalColor.transparent)
    painter = QPainter(tile)
    x, y = (THUMB - pix.width()) // 2, (THUMB - pix.height()) // 2
    painter.drawPixmap(x, y, pix)
    painter.setPen(QColor(*rendering.FRAME))
    painter.drawRect(x, y, pix.width() - 1, pix.height() - 1)
    painter.end()
    return tile


def _invert_if_ink(img):
    """Single-channel samples are shown dark on white, as the input view draws them."""
    a = np.asarray(img)
    if a.dtype == np.uint8 and (a.ndim == 2 or a.shape[-1] == 1):
        return 255 - a
    return a


def _label(name, k) -> str:
    return str(name).split(",")[0].strip() or str(k)
