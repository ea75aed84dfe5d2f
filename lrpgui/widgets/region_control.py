"""The region of a segmentation model: explain the target's pixels in a box of the output map
only, as ``lrp explain --region Y0:Y1,X0:X1`` does. The box is typed (Y0:Y1,X0:X1, rows then
columns of the map, counted as ``REGION_COUNTING`` says) or drawn on the input or heatmap
view; "whole map" goes back. The control is shown only while a model whose output is a map
is open."""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QPen, QShortcut
from PySide6.QtWidgets import QGraphicsRectItem, QHBoxLayout, QLineEdit, QPushButton, QWidget

from lrpcore.errors import LRPError
from lrpcore.map_targets import REGION_COUNTING, region_text
from lrpcore.targets import model_map_shape


def box_on_map(y0, y1, x0, x1, image_hw, map_hw) -> tuple:
    """A box drawn on the views (image pixels, any order, fractions) as the rows and columns
    of the output map it covers: scaled where the map is smaller than the input, rounded
    outwards, kept inside the map and at least one pixel wide."""
    (h, w), (mh, mw) = image_hw, map_hw

    def span(a, b, size, map_size):
        lo, hi = sorted((a * map_size / size, b * map_size / size))
        start = min(max(math.floor(lo), 0), map_size - 1)
        return start, min(max(math.ceil(hi), start + 1), map_size)

    return (*span(y0, y1, h, mh), *span(x0, x1, w, mw))


def box_on_image(region, image_hw, map_hw) -> tuple:
    """(y0, y1, x0, x1) of a map's ``region`` in the views' image pixels: scaled, no
    receptive field (a model file does not say where a map pixel looks; a valid convolution's
    map is centred a border further in, which the README says the frame leaves out)."""
    (h, w), (mh, mw) = image_hw, map_hw
    y0, y1, x0, x1 = region
    return y0 * h / mh, y1 * h / mh, x0 * w / mw, x1 * w / mw


def region_frame(box):
    """The region's frame over an image of view box ``box`` (magenta, dashed, hidden until
    :func:`show_frame` places it): the main views and Compare's cells draw the same one."""
    frame = QGraphicsRectItem()
    pen = QPen(QColor(255, 0, 255), 2, Qt.PenStyle.DashLine)
    pen.setCosmetic(True)
    frame.setPen(pen)
    frame.setZValue(10)
    frame.hide()
    box.addItem(frame, ignoreBounds=True)
    return frame


def framing(model, region):
    """A function of an image's (H, W) giving ``region``'s box in its pixels, or None (no
    region, or ``model``'s output is no map): the tools frame the box their maps explain."""
    shape = model_map_shape(model)
    if region is None or shape is None or len(shape) != 3:
        return lambda _hw: None
    return lambda hw: box_on_image(region, tuple(hw)[:2], tuple(shape[:2]))


def show_frame(frame, box) -> None:
    """Frame ``box`` (y0, y1, x0, x1 in image pixels); hide the frame for None."""
    if box is None:
        frame.hide()
        return
    y0, y1, x0, x1 = box
    frame.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
    frame.show()


class RegionControl(QWidget):
    """Y0:Y1,X0:X1 typed, a "draw" button (the views then take a drag as the box) and
    "whole map"; writes ``state.region``, whose change asks for a new explanation."""

    draw_requested = Signal(bool)  # the views take (True) or stop taking a drag as the box
    error = Signal(str)

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.edit = QLineEdit(objectName="regionEdit")
        self.edit.setPlaceholderText("whole map")
        self.edit.setToolTip("Explain the target's pixels in rows Y0:Y1 and columns X0:X1 of "
                             "a segmentation model's output map only (as lrp explain --region)")
        self.draw_button = QPushButton("draw", objectName="regionDrawButton", checkable=True)
        self.draw_button.setToolTip("Drag a box on the input or the heatmap: the target's "
                                    "pixels inside it are explained (click again or press "
                                    "Escape to stop drawing)")
        self.reset_button = QPushButton("whole map", objectName="regionResetButton")
        self.reset_button.setToolTip("Explain the target's pixels in the whole output map "
                                     "again")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.draw_button)
        layout.addWidget(self.reset_button)
        self.edit.editingFinished.connect(self._typed)
        self.draw_button.toggled.connect(self.draw_requested.emit)
        # Escape stops drawing (only while drawing: Escape is the window's otherwise)
        self.stop_drawing = QShortcut(QKeySequence(Qt.Key.Key_Escape), self,
                                      context=Qt.ShortcutContext.WindowShortcut)
        self.stop_drawing.setEnabled(False)
        self.stop_drawing.activated.connect(lambda: self.draw_button.setChecked(False))
        self.draw_button.toggled.connect(self.stop_drawing.setEnabled)
        self.reset_button.clicked.connect(lambda: self._set(None))
        state.events.region.connect(lambda _v: self._sync())
        state.events.model.connect(lambda _v: self._sync())
        self._sync()

    def map_shape(self) -> tuple | None:
        """(H, W) of the open model's output map; None when its output is no map."""
        model = self.state.model
        shape = None if model is None else model_map_shape(model)
        return None if shape is None or len(shape) != 3 else tuple(shape[:2])

    def applies(self) -> bool:
        return self.map_shape() is not None

    def take_drawn(self, region) -> None:
        """A box drawn on a view (rows and columns of the map): explained at once."""
        self.draw_button.setChecked(False)
        self._set(tuple(int(v) for v in region))

    def _typed(self) -> None:
        text = self.edit.text().strip()
        if text != region_text(self.state.region):
            self._set(text or None)

    def _set(self, value) -> None:
        try:
            self.state.region = value
        except (LRPError, ValueError, TypeError) as exc:
            self._sync()  # the box shows the region explained, not the refused text
            self.error.emit(str(exc))

    def _sync(self) -> None:
        region = self.state.region
        self.edit.setText(region_text(region))
        self.reset_button.setEnabled(region is not None)
        shape = self.map_shape()
        if shape is None:
            self.draw_button.setChecked(False)
            return
        h, w = shape
        self.edit.setToolTip(
            f"Explain the target's pixels in rows Y0:Y1 and columns X0:X1 of the {h}×{w} "
            f"output map only (as lrp explain --region: {REGION_COUNTING}; e.g. "
            f"0:{h // 2},0:{w // 2}); pred is then the class at the most pixels there. Empty: "
            "the whole map")
