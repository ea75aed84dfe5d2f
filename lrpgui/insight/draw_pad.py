"""Draw a digit: a pad for mouse or pen strokes, live prediction and heatmap, a scratch set.

The pad keeps the strokes at ten times MNIST's resolution (ink bright on dark); while the
user draws, a throttle timer sends the ink to the insight worker at most every
``THROTTLE_MS``, where it becomes an MNIST-like 28×28 uint8 digit (``digit_prep``) and is
predicted and explained with the app's rule. The pen never waits for the model. Drawings can
be kept in an in-memory scratch set (shown as thumbnails; clicking one brings it back on the
pad) and exported as one ``.npy`` array (N×28×28 uint8).
"""

from __future__ import annotations

import html
import os

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from lrpcore.errors import ExportError
from lrpcore.fileio import atomic_save_npy

from .. import dialogs
from ..widgets.axes import label_axes, plot_widget
from . import imaging
from .digit_prep import SIDE, mnist_like, upsample
from .panel import ToolPanel
from .worker_tasks import digit_fits, request_from_state, run_draw

PAD = 280  # canvas side: ten canvas pixels per MNIST pixel
THROTTLE_MS = 120


class DrawPad(QWidget):
    """A square canvas; left button (or pen) draws white strokes on black."""

    changed = Signal()  # the ink changed (emitted for every stroke segment)
    stroke_finished = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("drawPad")
        self.image = QImage(PAD, PAD, QImage.Format.Format_Grayscale8)
        self.image.fill(0)
        self.brush = 2.0  # stroke width in MNIST pixels
        self._last: QPointF | None = None
        self.version = 0  # bumped at every change, so results can be matched to the ink
        self.setMinimumSize(224, 224)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw a digit with the left mouse button or a pen")

    def sizeHint(self) -> QSize:
        return QSize(PAD, PAD)

    # -- geometry ---------------------------------------------------------------------------
    def canvas_rect(self) -> QRectF:
        """Where the canvas is painted: the largest centred square."""
        side = min(self.width(), self.height())
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def to_canvas(self, pos) -> QPointF:
        r = self.canvas_rect()
        scale = PAD / r.width() if r.width() else 1.0
        return QPointF((pos.x() - r.x()) * scale, (pos.y() - r.y()) * scale)

    # -- drawing ----------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        p = self.to_canvas(event.position())
        self._last = p
        self._stroke(p, p)

    def mouseMoveEvent(self, event) -> None:
        if self._last is None:
            return super().mouseMoveEvent(event)
        p = self.to_canvas(event.position())
        self._stroke(self._last, p)
        self._last = p

    def mouseReleaseEvent(self, event) -> None:
        if self._last is None:
            return super().mouseReleaseEvent(event)
        self._last = None
        self.stroke_finished.emit()

    def _stroke(self, a: QPointF, b: QPointF) -> None:
        painter = QPainter(self.image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(QColor(255, 255, 255), self.brush * PAD / SIDE)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        if a == b:
            painter.drawPoint(a)
        else:
            painter.drawLine(a, b)
        painter.end()
        self._changed()

    def _changed(self) -> None:
        self.version += 1
        self.update()
        self.changed.emit()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        r = self.canvas_rect()
        painter.drawImage(r, self.image)
        box = r.width() * 20 / SIDE  # MNIST's 20×20 box, as a faint guide
        guide = QRectF(r.center().x() - box / 2, r.center().y() - box / 2, box, box)
        painter.setPen(QPen(QColor(70, 70, 70), 1, Qt.PenStyle.DashLine))
        painter.drawRect(guide)
        painter.setPen(QPen(QColor(120, 120, 120), 1))
        painter.drawRect(r.adjusted(0, 0, -1, -1))
        painter.end()

    # -- contents ---------------------------------------------------------------------------
    def ink(self) -> np.ndarray:
        """The strokes as PAD×PAD floats in [0, 1] (a copy)."""
        img = self.image
        buf = np.frombuffer(img.constBits(), dtype=np.uint8)
        rows = buf[:img.bytesPerLine() * img.height()].reshape(img.height(), img.bytesPerLine())
        return rows[:, :img.width()].astype(np.float64) / 255.0

    def is_empty(self) -> bool:
        return not self.ink().any()

    def set_ink(self, ink) -> None:
        a = np.clip(np.round(np.asarray(ink, dtype=np.float64) * 255), 0, 255).astype(np.uint8)
        if a.shape != (PAD, PAD):
            raise ValueError(f"ink must be {PAD}×{PAD}, got {a.shape}")
        a = np.ascontiguousarray(a)
        self.image = QImage(a.data, PAD, PAD, PAD, QImage.Format.Format_Grayscale8).copy()
        self._changed()

    def clear(self) -> None:
        self.image.fill(0)
        self._last = None
        self._changed()


def digit_pixmap(digit, side=56) -> QPixmap:
    """A thumbnail of a 28×28 uint8 digit (made on the GUI thread)."""
    d = np.ascontiguousarray(np.asarray(digit, dtype=np.uint8).reshape(SIDE, SIDE))
    img = QImage(d.data, SIDE, SIDE, SIDE, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(img.scaled(side, side))


class DrawPanel(ToolPanel):
    """The pad, its live prediction and heatmap, and the scratch set of drawn digits."""

    key = "insight-draw"
    follows_selection = False

    def __init__(self, runner, parent=None):
        super().__init__(runner, parent)
        self.setObjectName("drawPanel")
        self.result = None  # the DrawResult on display
        self.result_version = -1  # pad version the result was computed from
        self.scratch: list[dict] = []  # {"digit": 28×28 uint8, "prediction": int}
        self._build()
        self._throttle = QTimer(self)
        self._throttle.setSingleShot(True)
        self._throttle.setInterval(THROTTLE_MS)
        self._throttle.timeout.connect(self._throttled)
        self.pad.changed.connect(self._ink_changed)
        self.pad.stroke_finished.connect(self._ink_changed)
        for name in ("model", "rule", "layer_rules", "target", "dtype", "backend"):
            getattr(self.state.events, name).connect(lambda _v: self._settings_changed())
        self.state.events.colormap.connect(lambda _c: self._draw_heatmap())
        self.state.events.outline.connect(lambda _c: self._draw_heatmap())

    def _build(self) -> None:
        self.pad = DrawPad()
        self.brush = QDoubleSpinBox(objectName="brushSize")
        self.brush.setRange(0.5, 6.0)
        self.brush.setSingleStep(0.5)
        self.brush.setValue(self.pad.brush)
        self.brush.setSuffix(" px")
        self.brush.setToolTip("stroke width in MNIST pixels")
        self.brush.valueChanged.connect(lambda v: setattr(self.pad, "brush", float(v)))
        self.clear_button = QPushButton("Clear", objectName="clearPad")
        self.clear_button.clicked.connect(self.clear)
        self.centre = QCheckBox("centre like MNIST", objectName="centreDigit")
        self.centre.setChecked(True)
        self.centre.setToolTip("fit the drawing into 20×20 pixels and centre its mass, "
                               "as the MNIST digits were prepared")
        self.centre.toggled.connect(lambda _v: self._ink_changed())
        # two short rows under the pad, not one long one: at 760 pixels the tool fits
        # without scrolling the scratch set out of sight
        pad_tools = QHBoxLayout()
        pad_tools.addWidget(QLabel("Brush"))
        pad_tools.addWidget(self.brush)
        pad_tools.addStretch(1)
        pad_tools.addWidget(self.clear_button)
        left = QVBoxLayout()
        left.addWidget(self.pad, 1)
        left.addLayout(pad_tools)
        left.addWidget(self.centre)

        self.prediction = QLabel("draw a digit", objectName="drawPrediction")
        font = self.prediction.font()
        font.setPointSize(font.pointSize() + 6)
        font.setBold(True)
        self.prediction.setFont(font)
        self.views = pg.GraphicsLayoutWidget()
        self.views.setObjectName("drawViews")
        self.views.setBackground("w")
        imaging.keep_whole(self.views)  # titles and maps never cut: a small dock scrolls
        ci = self.views.ci
        ci.addItem(pg.LabelItem("model input", size="9pt", color="k"), row=0, col=0)
        ci.addItem(pg.LabelItem("relevance", size="9pt", color="k"), row=0, col=1)
        self.input_box, self.input_item = imaging.image_cell(ci, 1, 0, 120)
        self.heat_box, self.heat_item = imaging.image_cell(ci, 1, 1, 120)
        self.heat_outline = imaging.outline_overlay(self.heat_box)
        for box in (self.input_box, self.heat_box):
            imaging.fit(box, (SIDE, SIDE))
        # rule and target under both maps: over the heatmap alone the longer title widened
        # its column, and the digit and its relevance were drawn at different sizes
        self.heat_title = pg.LabelItem("", size="9pt", color="k")
        ci.addItem(self.heat_title, row=2, col=0, colspan=2)
        imaging.even_columns(ci, 2)
        self.scores = plot_widget("drawScores")
        label_axes(self.scores, "score", "class")
        self.scores.setMenuEnabled(False)
        self.scores.setMouseEnabled(False, False)
        self.scores.setMinimumHeight(120)
        self.bars = None
        middle = QVBoxLayout()
        middle.addWidget(self.prediction)
        middle.addWidget(self.error_label)
        middle.addWidget(self.views, 2)
        middle.addWidget(self.scores, 1)

        self.scratch_list = QListWidget(objectName="scratchList")
        self.scratch_list.setViewMode(QListView.ViewMode.IconMode)
        self.scratch_list.setIconSize(QSize(48, 48))
        self.scratch_list.setResizeMode(QListView.ResizeMode.Adjust)
        self.scratch_list.setMovement(QListView.Movement.Static)
        self.scratch_list.setMinimumWidth(150)
        self.scratch_list.currentRowChanged.connect(self._scratch_selected)
        self.add_button = QPushButton("Add to scratch set", objectName="addScratch")
        self.remove_button = QPushButton("Remove", objectName="removeScratch")
        self.export_button = QPushButton("Export .npy…", objectName="exportScratch")
        self.add_button.clicked.connect(self.add_to_scratch)
        self.remove_button.clicked.connect(self.remove_selected)
        self.export_button.clicked.connect(lambda: self.export_scratch())
        right = QVBoxLayout()
        right.addWidget(QLabel("Scratch set (in memory)"))
        right.addWidget(self.scratch_list, 1)
        for b in (self.add_button, self.remove_button, self.export_button):
            right.addWidget(b)

        layout = QHBoxLayout(self)
        layout.addLayout(left, 3)
        layout.addLayout(middle, 3)
        layout.addLayout(right, 1)

    # -- live updates -----------------------------------------------------------------------
    def _ink_changed(self) -> None:
        if not self._throttle.isActive():
            self._throttle.start()  # at most one job per THROTTLE_MS while drawing

    def _settings_changed(self) -> None:
        if not self.pad.is_empty() or self.unavailable() is not None:
            self.refresh()
        elif not self.pad.isEnabled():  # a model of digits again: the pad is back
            self.pad.setEnabled(True)
            self.clear_error()

    def unavailable(self) -> str | None:
        """Why the open model cannot be drawn for (None when it can): a colour or a
        differently sized model takes no 28×28 greyscale digit."""
        model = self.state.model
        if model is None or digit_fits(model):
            return None
        spec = model.input_spec
        takes = "inputs of unknown format" if spec is None else \
            "×".join(str(int(n)) for n in spec.raw_shape) + " " + (
                "colour images" if spec.raw_shape[-1] == 3 else "inputs")
        return (f"Draw a digit needs a model of 28×28 greyscale digits; the open model takes "
                f"{takes}. Open an MNIST model to draw.")

    def _throttled(self) -> None:
        self._stale = False
        self.start()

    def start(self) -> int:
        why = self.unavailable()
        self.pad.setEnabled(why is None)
        if why is not None:
            self._show_empty()
            self.prediction.setText("not available for this model")
            self.show_error(why)
            return 0
        if self.pad.is_empty():
            self._show_empty()
            return 0
        req = request_from_state(self.state, raw=np.zeros(1))
        if req is None:
            self.show_error("open a model first")
            return 0
        if not digit_fits(req.model):
            self.show_error("the open model does not take 28×28 grayscale digits")
            return 0
        ink, centre, version = self.pad.ink(), self.centre.isChecked(), self.pad.version
        cache = self.runner.cache

        rule = _rule_text(self.state)

        def run(token):
            return version, run_draw(req, cache, ink, centre, token), rule

        return self.submit(run, self._show)

    def _show(self, versioned) -> None:
        version, result, rule = versioned
        # the rule on a line of its own, under both maps: beside "model input" it made the
        # grid wider than the tool at 760 pixels
        self._set_heat_title(f"relevance: {html.escape(rule)}")
        self.clear_error()
        self.result = result
        self.result_version = version
        names = list(self.state.model.class_names) if self.state.model is not None else []
        name = names[result.prediction] if result.prediction < len(names) else result.prediction
        self.prediction.setText(f"prediction: {name}  (score {result.scores.max():.3g})")
        imaging.show_input(self.input_item, result.digit / 255.0)
        self._draw_heatmap()
        self._draw_scores(result.scores, result.prediction)
        self.updated.emit()

    def _show_empty(self) -> None:
        self.result = None
        self.prediction.setText("draw a digit")
        self.input_item.clear()
        self.heat_item.clear()
        self.heat_outline.clear()
        self._set_heat_title("")
        if self.bars is not None:
            self.scores.removeItem(self.bars)
            self.bars = None

    def _set_heat_title(self, text) -> None:
        """The line naming rule and target, under both maps; the two columns keep one
        width, so that the digit and its relevance are drawn at one size."""
        self.heat_title.setText(text)
        imaging.even_columns(self.views.ci, 2)

    def _draw_heatmap(self) -> None:
        if self.result is None:
            return
        r = imaging.map2d(self.result.relevance)
        imaging.show_relevance(self.heat_item, r, imaging.max_abs(r), self.state.colormap)
        x01 = np.asarray(self.result.digit, dtype=np.float64) / 255.0
        imaging.show_outline(self.heat_outline, x01.reshape(r.shape), r.shape,
                             self.state.outline and x01.size == r.size)

    def _draw_scores(self, scores, best) -> None:
        if self.bars is not None:
            self.scores.removeItem(self.bars)
        s = np.asarray(scores, dtype=float).reshape(-1)
        brushes = [pg.mkBrush(200, 40, 40) if k == best else pg.mkBrush(120, 140, 200)
                   for k in range(s.size)]
        self.bars = pg.BarGraphItem(x=np.arange(s.size), height=s, width=0.7, brushes=brushes)
        self.scores.addItem(self.bars)
        self.scores.getAxis("bottom").setTicks([[(k, str(k)) for k in range(s.size)]])

    def clear(self) -> None:
        self._throttle.stop()
        self.pad.clear()
        self._throttle.stop()
        self.runner.cancel(self.key)
        self._job = 0
        self._show_empty()

    # -- the scratch set --------------------------------------------------------------------
    def current_digit(self) -> np.ndarray | None:
        """The pad's drawing as the model sees it (28×28 uint8), None when the pad is empty."""
        if self.pad.is_empty():
            return None
        if self.result is not None and self.result_version == self.pad.version:
            return self.result.digit
        return mnist_like(self.pad.ink(), centre=self.centre.isChecked())

    def add_to_scratch(self) -> int:
        """Keep the current drawing in the scratch set; returns its index (−1: pad empty)."""
        digit = self.current_digit()
        if digit is None:
            self.show_error("the pad is empty: draw a digit first")
            return -1
        pred = self.result.prediction if (self.result is not None and
                                          self.result_version == self.pad.version) else None
        self.scratch.append({"digit": np.array(digit, dtype=np.uint8), "prediction": pred})
        k = len(self.scratch) - 1
        text = f"#{k}" + ("" if pred is None else f" → {pred}")
        item = QListWidgetItem(QIcon(digit_pixmap(digit)), text)
        self.scratch_list.blockSignals(True)
        self.scratch_list.addItem(item)
        self.scratch_list.setCurrentRow(k)
        self.scratch_list.blockSignals(False)
        return k

    def remove_selected(self) -> None:
        k = self.scratch_list.currentRow()
        if 0 <= k < len(self.scratch):
            self.scratch.pop(k)
            self.scratch_list.blockSignals(True)
            self.scratch_list.takeItem(k)
            self.scratch_list.blockSignals(False)

    def _scratch_selected(self, k: int) -> None:
        if 0 <= k < len(self.scratch):
            self.pad.set_ink(upsample(self.scratch[k]["digit"], PAD))

    def scratch_digits(self) -> np.ndarray:
        """The scratch set as an N×28×28 uint8 array."""
        if not self.scratch:
            return np.zeros((0, SIDE, SIDE), dtype=np.uint8)
        return np.stack([s["digit"] for s in self.scratch]).astype(np.uint8)

    def export_scratch(self, path=None) -> str | None:
        """Write the scratch set as .npy (N×28×28 uint8, atomically); returns the path."""
        if not self.scratch:
            self.show_error("the scratch set is empty: add drawings first")
            return None
        if path is None:
            settings = self.app_settings
            folder = settings.last_dir("export") if settings is not None else os.getcwd()
            path = dialogs.ask_save_file(self, "Export drawn digits",
                                         os.path.join(folder, "drawn_digits.npy"),
                                         "NumPy (*.npy)")
            if not path:
                return None
            if settings is not None:
                settings.set_last_dir("export", os.path.dirname(path))
        path = os.fspath(path)
        try:
            if not path.endswith(".npy"):
                raise ExportError(f"{path}: drawn digits are exported as .npy")
            from ..flows import Refused, refuse_open_file  # noqa: PLC0415

            try:  # over the open dataset's .npy: the samples on display were replaced
                refuse_open_file(self.state, path, "Cannot export")
            except Refused as exc:
                raise ExportError(str(exc)) from None
            atomic_save_npy(path, self.scratch_digits())
        except (OSError, ExportError) as exc:
            self.show_error(str(exc) if isinstance(exc, ExportError) else f"{path}: {exc}")
            return None
        self.clear_error()
        self.state.status = f"wrote {len(self.scratch)} drawn digits to {path}"
        return path


def _rule_text(state) -> str:
    """The rule the drawing is explained with, as the views name it (layer overrides too)."""
    rule = state.rule
    # a drawing has no label: target "true" explains the predicted class (run_draw), and the
    # title says so instead of naming a true class that was not explained
    target = {"pred": "predicted class", "true": "predicted class (a drawing has no true "
              "class)", "output": "all outputs"}.get(state.target, f"class {state.target}")
    if state.layer_rules:  # in the order given, which is the order applied (a later key
        # wins where two name one layer); sorted as text, layer 10 came before layer 2
        rule += " + " + ", ".join(f"layer {k}: {v}" for k, v in state.layer_rules.items())
    return f"{rule}, {target}"
