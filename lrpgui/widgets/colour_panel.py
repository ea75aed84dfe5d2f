"""What photographs add to the explorer: the channel reduction of the heatmap, the overlay of
the heatmap on a greyscale copy of the photograph (opacity adjustable, exported as PNG and
.npy with sidecars), and a busy indicator for slow clicks (the target box searchable by
class name lives in ``class_choice``).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import (
    QBoxLayout,
    QGridLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QWidget,
)

from lrpcore.render.overlay import CHANNEL_MAPS, channel_map, overlay

from .. import rendering
from .choice_box import ChoiceBox
from .region_control import framing, region_frame, show_frame

CONTROLS_WIDTH = 150  # the least width of the controls beside the overlay picture
QWIDGETSIZE_MAX = (1 << 24) - 1  # Qt's "no maximum"


def is_colour(result) -> bool:
    x = np.asarray(result.input_unit) if result is not None else None
    return x is not None and x.ndim == 3 and x.shape[2] == 3


class ColourPanel(QWidget):
    """Channel reduction, overlay view with opacity slider, and the overlay export."""

    export_requested = Signal()

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.setObjectName("colourPanel")
        self.state = state
        self.channels = ChoiceBox(objectName="channelChoice")
        for name, (doc, _fn) in CHANNEL_MAPS.items():
            self.channels.addItem(name, name)
            self.channels.setItemData(self.channels.count() - 1, doc,
                                      Qt.ItemDataRole.ToolTipRole)
        self.channels.setToolTip("How a colour image's relevance (one value per channel) "
                                 "becomes one heatmap: summed, the channel of the largest "
                                 "magnitude, or one channel")
        self.channels.currentIndexChanged.connect(
            lambda _i: setattr(self.state, "channels", self.channels.currentData()))
        self.opacity = QSlider(Qt.Orientation.Horizontal, objectName="overlayOpacity")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(100 * state.overlay_opacity))
        self.opacity.setToolTip("Opacity of the heatmap over the greyscale photograph")
        self.opacity.valueChanged.connect(
            lambda v: setattr(self.state, "overlay_opacity", v / 100.0))
        self.export_button = QPushButton("overlay…", objectName="exportOverlayButton")
        self.export_button.setToolTip("Save the overlay as PNG and .npy (float RGB), each with "
                                      "a JSON sidecar")
        self.export_button.clicked.connect(self.export_requested)
        self.widget = pg.GraphicsLayoutWidget()
        self.widget.setObjectName("overlayView")
        self.widget.setBackground("w")
        self.widget.setToolTip("The heatmap blended over a greyscale copy of the input: which "
                               "parts of the picture carry the evidence")
        self.box = self.widget.addViewBox(row=0, col=0)
        self.box.setAspectLocked(True)
        self.box.invertY(True)
        self.box.setMenuEnabled(False)
        self.item = pg.ImageItem()
        self.box.addItem(self.item)
        self.frame = region_frame(self.box)  # a segmentation model's region, as on the views
        # small enough that the Explanation dock above keeps its rule table readable at
        # 1024×700; the preview grows with the dock
        self.widget.setMinimumSize(56, 56)
        self.widget.ci.setContentsMargins(0, 0, 0, 0)
        self.box.setDefaultPadding(0.0)  # the picture to the frame's edge: every pixel counts
        self.note = QLabel(objectName="overlayNote")
        self.note.setWordWrap(True)
        # one control a line: narrow enough to stand beside the picture (see _arrange)
        self.controls = QWidget(objectName="overlayControls")
        column = QGridLayout(self.controls)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(QLabel("channels:"), 0, 0)
        column.addWidget(self.channels, 0, 1)
        column.addWidget(QLabel("opacity:"), 1, 0)
        column.addWidget(self.opacity, 1, 1)
        column.addWidget(self.export_button, 2, 1)
        column.setColumnStretch(1, 1)
        column.setRowStretch(4, 1)
        column.addWidget(self.note, 3, 0, 1, 2)
        # beside first: the least height the window has to give (see _arrange)
        self.body = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self.body.setContentsMargins(4, 4, 4, 4)
        self.body.addWidget(self.widget, 1)
        self.body.addWidget(self.controls)
        self.rendered = None  # the overlay on display, H×W×3 float (tests read it)
        self.rendered_for = None  # the explanation it was drawn from
        self._stale = False
        for name in ("explanation", "channels", "overlay_opacity", "colormap"):
            getattr(state.events, name).connect(lambda _v: self.redraw())
        state.events.channels.connect(self._sync_choice)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._arrange()

    def _arrange(self) -> None:
        """Controls under the picture or beside it, whichever leaves the larger square: at
        1024×700 the dock is wider than tall, and channels above and opacity below the
        picture left it a 45-pixel strip."""
        need = self.controls.minimumSizeHint()
        margins = self.body.contentsMargins()
        w = self.width() - margins.left() - margins.right() - self.body.spacing()
        h = self.height() - margins.top() - margins.bottom() - self.body.spacing()
        narrow = max(need.width(), CONTROLS_WIDTH)
        beside = min(h, w - narrow)
        below = min(w, h - need.height())
        if beside > below:  # the controls as narrow as they go, the picture the rest
            self.controls.setMaximumWidth(narrow)
            direction = QBoxLayout.Direction.LeftToRight
        else:
            self.controls.setMaximumWidth(QWIDGETSIZE_MAX)
            direction = QBoxLayout.Direction.TopToBottom
        if self.body.direction() != direction:
            self.body.setDirection(direction)

    def follow(self, state, dock, on_show=None) -> None:
        """Show ``dock`` with the first explanation of a colour model, hide it with the first
        of a greyscale one (the user's choice stays until the model changes): the panel
        would only take space from digits. ``on_show()`` runs when this shows the dock (the
        window then gives the preview room)."""
        pending = [True]

        def model_changed(_model):
            pending[0] = True

        def explained(result):
            if pending[0] and result is not None:
                pending[0] = False
                hidden = dock.isHidden()
                dock.setVisible(is_colour(result))
                if hidden and is_colour(result) and on_show is not None:
                    on_show()

        state.events.model.connect(model_changed)
        state.events.explanation.connect(explained)

    def _sync_choice(self, value) -> None:
        i = self.channels.findData(value)
        if i >= 0 and i != self.channels.currentIndex():
            self.channels.setCurrentIndex(i)

    def redraw(self) -> None:
        """Draw the overlay now when the panel is visible; else when it is shown again (a
        hidden dock costs no work per click)."""
        self._stale = True
        if self.isVisible():
            self._render()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._stale:
            self._render()

    def _render(self) -> None:
        self._stale = False
        result = self.state.explanation
        self.rendered_for = result
        show_frame(self.frame, None)
        if result is None:
            self.item.clear()
            self.rendered = None
            return
        R = channel_map(rendering.displayable(result.relevance), self.state.channels)
        x = rendering.displayable(result.input_unit)
        try:
            image = overlay(R, x, self.state.overlay_opacity, self.state.colormap)
        except ValueError:  # flat inputs (no picture to lay the map on)
            self.item.clear()
            self.rendered = None
            self.note.setText("no overlay: the input is not an image")
            return
        self.note.setText("" if is_colour(result) else
                          "a greyscale input: the overlay shows it under the heatmap")
        self.rendered = image
        h, w = image.shape[:2]
        self.item.setImage(np.ascontiguousarray(image, dtype=np.float32), autoLevels=False,
                           levels=(0.0, 1.0))
        self.item.setRect(QRectF(0, 0, w, h))
        show_frame(self.frame, framing(result.request.model, result.request.region)((h, w)))


class BusyIndicator(QProgressBar):
    """A moving bar in the status bar while an explanation is being computed."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("busyIndicator")
        self.setRange(0, 0)
        self.setMaximumWidth(110)
        self.setMaximumHeight(14)
        self.setTextVisible(False)
        self.setToolTip("Explaining… (a new click replaces the running one)")
        self.hide()

    def set_busy(self, busy: bool) -> None:
        self.setVisible(bool(busy))
