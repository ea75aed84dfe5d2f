"""Input and heatmap side by side in linked view boxes, a zero-centred colour bar, and the
class-score bar chart. Views re-draw from AppState; a colormap change re-renders the cached
relevance and never asks for a new explanation.

Both images are in the model's input layout (e.g. the 32×32 padded digit of LeNet-5; a flat
784-vector as 28×28), the layout of ``state.relevance`` and of ``lrp explain --png``.
"""

from __future__ import annotations

import html
import os

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QHBoxLayout, QWidget

from lrpcore.targets import model_map_shape
from lrpcore.text import elide_middle

from .. import rendering
from ..explained import class_name, explained_class, explained_classes, predicted, target_text  # noqa: F401
from .axes import label_axes, readable
from .region_control import box_on_image, box_on_map, region_frame, show_frame

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)


def _image_view(name: str, columns=1):
    """(widget, title, view box, image item): a titled, aspect-locked image view. Input and
    heatmap views are alike (the colour bar has a widget of its own), so both draw the
    image at the same scale."""
    widget = pg.GraphicsLayoutWidget()
    widget.setObjectName(name)
    widget.setBackground("w")
    title = _Title("", size="9pt", color="k")
    widget.addItem(title, row=0, col=0, colspan=columns)
    box = widget.addViewBox(row=1, col=0)
    box.setAspectLocked(True)
    box.invertY(True)
    box.setMenuEnabled(False)
    item = pg.ImageItem()
    box.addItem(item)
    widget.setMinimumSize(160, 180)
    return widget, title, box, item


class _Title(pg.LabelItem):
    """A view title that never widens its column (a long title would draw its image larger
    than the other's) and can be given the height of its neighbour's title. A title wider
    than its view wraps at word boundaries instead of being cut at both ends ("evance for
    predicted class Egyptian c" at 1400 pixels); ``reflowed`` then evens the heights again."""

    even_height = 0.0
    reflowed = None  # called when wrapping changed the title's height

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        option = self.item.document().defaultTextOption()
        option.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.item.document().setDefaultTextOption(option)

    def setText(self, text, **args):  # noqa: N802 (pyqtgraph's name)
        self.item.setTextWidth(-1)  # measure the new text unwrapped; resizeEvent wraps it
        super().setText(text, **args)

    def resizeEvent(self, ev):  # noqa: N802 (Qt's name)
        width = self.rect().width()
        item = self.item
        current = item.textWidth()
        item.setTextWidth(-1)
        natural = item.boundingRect().width()
        wanted = float(width) if 0 < width < natural else -1.0
        item.setTextWidth(wanted)
        super().resizeEvent(ev)
        if wanted != current and callable(self.reflowed):
            self.reflowed()

    def updateMin(self):  # noqa: N802 (pyqtgraph's name)
        super().updateMin()
        self.setMinimumWidth(0)
        hints = getattr(self, "_sizeHint", None)  # pyqtgraph's cache of the text's size
        if isinstance(hints, dict):
            for which in (Qt.SizeHint.MinimumSize, Qt.SizeHint.PreferredSize):
                if which in hints:
                    hints[which] = (0, hints[which][1])
        if self.even_height:
            self.setMinimumHeight(self.even_height)
            self.setMaximumHeight(self.even_height)


class ImagePair(QWidget):
    """The input and its heatmap; zoom and pan are linked; hover reports pixel values. A
    segmentation model's region is framed on both; while ``drawing`` a drag on either draws
    it (``region_drawn``: the box as rows and columns of the output map)."""

    hovered = Signal(str)
    region_drawn = Signal(tuple)  # (y0, y1, x0, x1) of the output map

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.input_widget, self.input_title, self.input_box, self.input_item = \
            _image_view("inputView")
        self.heat_widget, self.heat_title, self.heat_box, self.heat_item = \
            _image_view("heatmapView")
        # Zoom and pan are shared by handing over the region asked for (the target range),
        # not pyqtgraph's X/Y links: two aspect-locked boxes of different shapes (the
        # heatmap has its colour bar beside it) widened each other's ranges through the
        # links until the digits were drawn small. Both views fit the image whenever their
        # size changes (first layout, a dragged splitter) until the user zooms or pans.
        self._syncing = False
        for title in (self.input_title, self.heat_title):
            title.reflowed = self._even_titles
        for box, other in ((self.input_box, self.heat_box), (self.heat_box, self.input_box)):
            box.setDefaultPadding(0.02)
            box.sigRangeChanged.connect(lambda *_a, a=box, b=other: self._follow(a, b))
        self.colorbar = pg.ColorBarItem(values=(-1.0, 1.0), interactive=False, width=14,
                                        colorMap=self._colormap(state.colormap))
        readable(self.colorbar.axis)
        # the colour bar in a widget of its own, beside the heatmap: inside the heatmap's
        # widget it took width from the heatmap, which was then drawn smaller than the input
        self.bar_widget = pg.GraphicsLayoutWidget()
        self.bar_widget.setObjectName("colorBar")
        self.bar_widget.setBackground("w")
        self.bar_title = pg.LabelItem("", size="8pt", color="k")
        self.bar_widget.addItem(self.bar_title, row=0, col=0)
        self.bar_widget.addItem(self.colorbar, row=1, col=0)
        self.bar_widget.setFixedWidth(78)
        self.bar_widget.setToolTip("Colour bar: relevance from −max to +max of the map on "
                                   "display, zero in the middle")
        self.input_widget.setToolTip("The model's input (drag to pan, wheel to zoom, "
                                     "double-click or Home to fit)")
        self.heat_widget.setToolTip("The relevance heatmap (zoom and pan are linked with the "
                                    "input; double-click or Home to fit)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.input_widget, 1)
        layout.addWidget(self.heat_widget, 1)
        layout.addWidget(self.bar_widget)
        self.rendered_rgb = None  # last heatmap image on display (tests read it)
        self.render_count = 0
        self._shape = None
        self._scaling = rendering.DISPLAY_SCALING
        self._mask_for = None  # (input, scaling, mask): the outline of the input on display
        for widget, box in ((self.input_widget, self.input_box),
                            (self.heat_widget, self.heat_box)):
            widget.scene().sigMouseMoved.connect(
                lambda pos, b=box: self._on_mouse(b, pos))
            widget.installEventFilter(self)
            widget.viewport().installEventFilter(self)
            widget.scene().sigMouseClicked.connect(self._on_click)
        state.events.explanation.connect(self._on_explanation)
        state.events.colormap.connect(self._on_colormap)
        state.events.sample_hidden.connect(self._title_input)
        state.events.outline.connect(lambda _v: self.redraw_heatmap())
        state.events.channels.connect(lambda _v: self.redraw_heatmap())
        self.drawing = False
        self.region_frames = []  # the region's frame on the input and on the heatmap
        for box in (self.input_box, self.heat_box):
            self.region_frames.append(region_frame(box))
            box.mouseDragEvent = lambda ev, axis=None, b=box: self._drag(b, ev, axis)
        state.events.region.connect(lambda _v: self._frame_region())

    # -- a segmentation model's region ------------------------------------------------------
    def set_drawing(self, on) -> None:
        """Take (True) or stop taking a drag on either view as the region, not as a pan."""
        self.drawing = bool(on)
        for widget in (self.input_widget, self.heat_widget):
            if self.drawing:
                widget.setCursor(Qt.CursorShape.CrossCursor)
            else:
                widget.unsetCursor()
        if not self.drawing:
            self._frame_region()

    def _map_hw(self):
        model = self.state.model
        shape = None if model is None else model_map_shape(model)
        return None if shape is None or len(shape) != 3 else tuple(shape[:2])

    def _drag(self, box, ev, axis=None) -> None:
        """A drag while drawing frames the box on both views and, released, is the region;
        else the views pan as before."""
        map_hw = self._map_hw()
        if not self.drawing or map_hw is None or self._shape is None:
            type(box).mouseDragEvent(box, ev, axis)
            return
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        a = box.mapSceneToView(ev.buttonDownScenePos())
        b = box.mapSceneToView(ev.scenePos())
        region = box_on_map(a.y(), b.y(), a.x(), b.x(), self._shape, map_hw)
        self._show_frames(box_on_image(region, self._shape, map_hw))
        if ev.isFinish():
            self.set_drawing(False)
            self.region_drawn.emit(region)

    def _frame_region(self) -> None:
        """Frame the region explained on both views (none for the whole map)."""
        region, map_hw = self.state.region, self._map_hw()
        if region is None or map_hw is None or self._shape is None:
            self._show_frames(None)
        else:
            self._show_frames(box_on_image(region, self._shape, map_hw))

    def _show_frames(self, box) -> None:
        for frame in self.region_frames:
            show_frame(frame, box)

    def reset_zoom(self) -> None:
        """Fit both images again (the zoom-reset button, a double-click, the Home key)."""
        self.input_box.enableAutoRange()
        self.heat_box.enableAutoRange()
        self.input_box.autoRange(padding=0.02)
        self.heat_box.autoRange(padding=0.02)

    def _on_click(self, event) -> None:
        if event.double():
            self.reset_zoom()
            event.accept()

    @staticmethod
    def _colormap(name):
        lut = rendering.bar_lut(name)
        return pg.ColorMap(pos=np.linspace(0.0, 1.0, len(lut)), color=lut, name=name)

    # -- state events -----------------------------------------------------------------------
    def _on_explanation(self, result) -> None:
        if result is None:
            self.input_item.clear()
            self.heat_item.clear()
            self.input_title.setText("")
            self.heat_title.setText("")
            self.rendered_rgb = None
            self.colorbar.hide()  # its range was the closed data's map (±0.49 beside nothing)
            self.bar_title.setText("")
            self._show_frames(None)  # a frame around nothing
            return
        self._title_input()
        self.heat_title.setText(f"relevance for {target_text(result)}<br>"
                                f"{html.escape(result.rule_description)}")
        self._even_titles()
        h, w = rendering.as_image2d(rendering.displayable(result.relevance)).shape
        self._scaling = rendering.display_scaling((h, w))
        img = rendering.digit(rendering.displayable(result.input_unit), self._scaling)
        first = self._shape != (h, w)
        self._shape = (h, w)
        self.input_item.setImage(np.ascontiguousarray(img, dtype=np.float32),
                                 autoLevels=False, levels=(0.0, 1.0))
        self.input_item.setRect(QRectF(0, 0, w, h))
        # a strip of features is framed, as its tile is: white cells vanished on the white
        # view, so XOR's (0, 1) showed one black square right of the middle
        frame = pg.mkPen(rendering.FRAME) if rendering.is_strip(result.input_unit) else None
        for item in (self.input_item, self.heat_item):
            item.setBorder(frame)
        self.redraw_heatmap()
        self._frame_region()
        if first:  # a new image size: fit it again, also while the window is laid out
            self.input_box.enableAutoRange()
            self.heat_box.enableAutoRange()

    def _title_input(self, _value=None) -> None:
        """'input / sample i, true class c', and a note when the grid's filters hide it."""
        result = self.state.explanation
        if result is None:
            return
        label = result.request.label
        text = f"input<br>sample {result.index}" + _file_of(self.state, result) + (
            "" if label is None else f", true class {class_name(result.request.model, label)}")
        if self.state.sample_hidden and result.index == self.state.sample_index:
            text += "<br><i>hidden by the grid filter</i>"
        self.input_title.setText(text)
        self._even_titles()

    def _even_titles(self) -> None:
        """Both titles as tall as the taller one: the images below then get the same height
        and, aspect locked, the same scale."""
        titles = (self.input_title, self.heat_title)
        tallest = max(t.item.boundingRect().height() for t in titles)
        for t in titles:
            t.even_height = tallest
            t.updateMin()
            t.updateGeometry()

    def _follow(self, source, box) -> None:
        """``source`` was zoomed or panned: show the same region in ``box``. A mere resize
        keeps the region asked for and hands nothing over (that would end ``box``'s fit)."""
        wanted = source.targetRect()
        if self._syncing or _same_rect(wanted, box.targetRect()):
            return
        self._syncing = True
        try:
            box.setRange(rect=wanted, padding=0)
        finally:
            self._syncing = False

    def _on_colormap(self, name) -> None:
        self.colorbar.setColorMap(self._colormap(name))
        self.redraw_heatmap()

    def redraw_heatmap(self) -> None:
        result = self.state.explanation
        if result is None:
            return
        mask = self._outline(result) if self.state.outline else None
        shown = shown_relevance(result, self.state.channels)
        style = rendering.outline_style(rendering.displayable(result.input_unit))
        rgb = rendering.heatmap_with_mask(shown, mask, self.state.colormap, self._scaling,
                                          style)
        self.rendered_rgb = rgb
        self.render_count += 1
        h, w = self._shape
        self.heat_item.setImage(np.ascontiguousarray(rgb, dtype=np.float32), autoLevels=False,
                                levels=(0.0, 1.0))
        self.heat_item.setRect(QRectF(0, 0, w, h))
        vmax = float(np.max(np.abs(shown))) or 1.0
        self.colorbar.setLevels((-vmax, vmax))
        self.colorbar.show()
        self._bar_for(result, vmax)

    def _bar_for(self, result, vmax) -> None:
        """gray-red2 is no lookup: what it clears (R > 10·var(R), and all negative R) is
        drawn grey, so the bar is made from this map and says where the cut lies."""
        name = self.state.colormap
        if name != "gray-red2":
            if self.bar_title.text:
                self.colorbar.setColorMap(self._colormap(name))
                self.bar_title.setText("")
            return
        R = rendering.as_image2d(shown_relevance(result, self.state.channels))
        lut, cut = rendering.gray_red2_bar(R, vmax)
        self.colorbar.setColorMap(pg.ColorMap(pos=np.linspace(0.0, 1.0, len(lut)), color=lut,
                                              name="gray-red2"))
        # a cut above the largest relevance clears none of it: "grey above 139 (cleared)"
        # beside a bar that ended at 27 read as if the top had been cleared
        self.bar_title.setText(f"grey above<br>{cut:.3g}<br>(cleared)" if cut < float(np.max(R))
                               else f"cut {cut:.3g}:<br>none<br>cleared")

    def _outline(self, result):
        """The outline of the input on display, kept while only the rule, target or colormap
        changes (an edge filter per click is the slowest part of a photograph's render). None
        for a strip of features (XOR's two inputs): it has no edges, and the edge filter drew
        a black block over the second feature's relevance."""
        if rendering.is_strip(result.input_unit):
            return None
        x01 = rendering.displayable(result.input_unit)
        cached = self._mask_for
        if cached is None or cached[1] != self._scaling or not _same_array(cached[0], x01):
            self._mask_for = cached = (x01, self._scaling,
                                       rendering.outline_mask(x01, self._scaling))
        return cached[2]

    # -- hover ------------------------------------------------------------------------------
    def _on_mouse(self, box, scene_pos) -> None:
        """Describe the pixel under the mouse; off the image the text is cleared."""
        self.hovered.emit(self.describe_point(box.mapSceneToView(scene_pos)))

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        """The mouse left a view: its pixel text would describe a pixel no longer pointed at."""
        if event.type() == QEvent.Type.Leave:
            self.hovered.emit("")
        return super().eventFilter(watched, event)

    def describe_point(self, point) -> str:
        """'row r, col c: input v, relevance R' for a point in image coordinates.

        The input is the model's input value there (preprocessed, one per channel), the
        relevance the sum over channels, both in the model's input layout.
        """
        result = self.state.explanation
        if result is None or self._shape is None:
            return ""
        row, col = int(np.floor(point.y())), int(np.floor(point.x()))
        h, w = self._shape
        if not (0 <= row < h and 0 <= col < w):
            return ""
        x = np.asarray(result.model_input).reshape(h, w, -1)
        rel = np.asarray(result.relevance).reshape(h, w, -1).sum(axis=2)
        value = ", ".join(f"{v:.4g}" for v in x[row, col])
        text = f"row {row}, col {col}: input {value}, relevance {rel[row, col]:+.4g}"
        unit = np.asarray(result.input_unit)
        if unit.ndim == 3 and unit.shape[2] == 3 and unit.shape[:2] == (h, w):
            r, g, b = np.clip(np.round(unit[row, col] * 255), 0, 255).astype(int)
            text += f", RGB ({r}, {g}, {b})"
        return text


def _same_array(a, b) -> bool:
    """The same picture (a comparison costs far less than the edge filter it saves)."""
    return a is b or (a.shape == b.shape and bool(np.array_equal(a, b)))


def shown_relevance(result, channels="sum") -> np.ndarray:
    """The relevance map the heatmap view draws: colour images reduced over their channels
    as the Colour panel says (sum, max-abs or one channel); others as they are."""
    from lrpcore.render.overlay import channel_map  # noqa: PLC0415

    return channel_map(rendering.displayable(result.relevance), channels)


def _same_rect(a, b, tol=1e-9) -> bool:
    scale = max(abs(a.width()), abs(a.height()), 1.0)
    return all(abs(p - q) <= tol * scale for p, q in zip(
        (a.left(), a.top(), a.width(), a.height()),
        (b.left(), b.top(), b.width(), b.height()), strict=True))


class ClassAxis(pg.AxisItem):
    """A category axis whose labels are cut to the space of one bar, or of two where they
    alternate between two lines ("drilling platform" and "space shuttle" side by side at
    50 px a bar were drawn over each other). Labels are cut before pyqtgraph lays them out;
    it drops any label that leaves the axis, so a label at either end, which would, is drawn
    here moved inside: the first bar is the predicted class ("Egyptian cat" at the left end
    was dropped, later cut to "Egypti…")."""

    GAP = 6  # pixels kept free between two labels

    def generateDrawSpecs(self, p):  # noqa: N802 (pyqtgraph's name)
        levels = self._tickLevels
        fitted = self._fitted_levels(p, levels)
        if fitted is None:
            return super().generateDrawSpecs(p)
        self._tickLevels = fitted
        try:
            specs = super().generateDrawSpecs(p)
        finally:
            self._tickLevels = levels
        if specs is None:
            return specs
        axis, ticks, texts = specs
        return axis, ticks, texts + self._moved_inside(p, fitted[0], texts)

    def _fitted_levels(self, p, levels):
        """``levels`` with each label cut to the room of its bar (two bars' on two lines);
        at an end, a label may reach from the axis's end to half that room past its tick."""
        if not levels or not levels[0]:
            return None
        width = self.mapRectFromParent(self.geometry()).width()
        span = float(self.range[1] - self.range[0])
        if width <= 0 or span <= 0:
            return None
        scale = width / span
        values = sorted(float(v) for v, _text in levels[0])
        step = float(np.diff(values).min()) * scale if len(values) > 1 else width
        metrics = QFontMetrics(self.style.get("tickFont") or p.font())
        # labels wider than a bar alternate between two lines: each then has the room of
        # two bars (ImageNet's names at 1024 pixels were cut to "bobs…", "foot…")
        staggered = any(metrics.horizontalAdvance(text) > step - self.GAP
                        for _v, text in levels[0])
        room = max((2 if staggered else 1) * step - self.GAP, 8.0)
        labels = sorted(levels[0], key=lambda t: float(t[0]))
        xs = [(float(v) - self.range[0]) * scale for v, _t in labels]

        def cut(text, here):
            here = max(min(here, width - 2.0), 8.0)
            if metrics.horizontalAdvance(text) <= here:
                return text
            return metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(here))

        texts = [cut(t, min(room, x + room / 2, width - x + room / 2))
                 for (_v, t), x in zip(labels, xs, strict=True)]
        # a label at an end, moved inside (_moved_inside), may reach up to its neighbour on
        # its line: the predicted class "Egyptian cat" was cut to the room left of its tick
        after = 2 if staggered else 1
        for k, inward in ((0, 1), (len(labels) - 1, -1)):
            j = k + inward * after
            if not 0 <= j < len(labels) or k == j:
                continue
            edge = xs[k] if inward > 0 else width - xs[k]  # its tick from the axis's end
            reach = abs(xs[j] - xs[k]) + edge - metrics.horizontalAdvance(texts[j]) / 2 \
                - self.GAP  # the free room from the end to the neighbour
            texts[k] = cut(labels[k][1], reach if reach > 2 * edge else 2 * (reach - edge))
        return [[(v, "\n" + t if staggered and k % 2 else t)
                 for k, ((v, _t), t) in enumerate(zip(labels, texts, strict=True))],
                *levels[1:]]

    def _moved_inside(self, p, labels, drawn) -> list:
        """Draw specs of the labels pyqtgraph dropped for leaving the axis, moved inside it
        (as pyqtgraph places a bottom axis's labels, but not past either end)."""
        left = [text for _rect, _flags, text in drawn]
        bounds = self.mapRectFromParent(self.geometry())
        span = float(self.range[1] - self.range[0])
        top = bounds.top() + max(0, self.style["tickLength"]) + self.style["tickTextOffset"][1]
        flags = (Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
                 | Qt.TextFlag.TextDontClip)
        moved = []
        for value, text in labels:
            if text in left:
                left.remove(text)
                continue
            x = bounds.left() + (float(value) - self.range[0]) * bounds.width() / span
            if not bounds.left() <= x <= bounds.right():
                continue  # a tick out of view has no label
            size = p.boundingRect(QRectF(0, 0, 100, 100), Qt.AlignmentFlag.AlignCenter, text)
            w, h = size.width(), size.height() * 0.8  # pyqtgraph's measure
            x0 = min(max(x - w / 2, bounds.left()), bounds.right() - w)
            moved.append((QRectF(x0, top, w, h), flags, text))
        return moved


class ScoresPlot(pg.PlotWidget):
    """Bar chart of the class scores; the predicted class in red, the true class outlined."""

    def __init__(self, state, parent=None):
        super().__init__(parent, axisItems={"bottom": ClassAxis("bottom")})
        self.setObjectName("scoresPlot")
        self.state = state
        self.setBackground("w")
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        # scores as they are: probabilities of 0.2 and 0.6 read "200", "600" "(x0.001)"
        label_axes(self, "score", "class")
        self.setTitle("class scores: predicted class red, true class outlined, "
                      "▼ explained class", size="9pt", color="k")
        self.setToolTip("The model's output for every class; ▼ marks the class whose "
                        "relevance is on display")
        self.setMinimumHeight(150)
        self.marker = pg.ScatterPlotItem(symbol="t", size=13, brush=pg.mkBrush(230, 150, 0),
                                         pen=pg.mkPen("k", width=1))
        self.marker.setZValue(10)
        self.addItem(self.marker)
        self.explained = None  # classes marked as explained (all of them for "output")
        self.bars = None
        self.heights = None
        self._model = None
        self._ticks = None
        self.shown_classes = []  # class index per bar, left to right
        state.events.explanation.connect(self._on_explanation)

    def _on_explanation(self, result) -> None:
        if result is None:
            if self.bars is not None:
                self.removeItem(self.bars)
                self.bars = None
            self.heights = None
            self.explained = None
            self.marker.setData([], [])
            # no classes or scale of a model or data no longer on display (ticks 0…9 beside
            # a 4-class model's empty plot)
            self.getAxis("bottom").setTicks([[]])
            self._model = self._ticks = None
            self.shown_classes = []
            self.hideAxis("left")
            self.hideAxis("bottom")
            return
        scores = np.asarray(result.scores, dtype=np.float64).reshape(-1)
        self.heights = scores
        self.showAxis("left")
        self.showAxis("bottom")
        model = result.request.model
        # a segmentation model's bars: the share of its map's pixels predicted as each class
        # (of the region's pixels when one is set: ``result.scores`` are theirs)
        self.getAxis("left").setLabel("share of pixels" if model_map_shape(model) else "score")
        self.explained = explained_classes(result, scores.size)
        label = result.request.label
        shown = shown_classes(scores, label, self.explained)
        self.shown_classes = shown
        values = scores[shown]
        red = predicted(result)  # of a region, its class, as the bars are its shares
        brushes = [pg.mkBrush(200, 40, 40) if k == red else pg.mkBrush(120, 140, 200)
                   for k in shown]
        pens = [pg.mkPen("k", width=2.5) if k == label else pg.mkPen(None) for k in shown]
        x = np.arange(len(shown))
        if self.bars is None or self._model is not model or self._ticks != shown:
            if self.bars is not None:
                self.removeItem(self.bars)
            self.bars = pg.BarGraphItem(x=x, height=values, width=0.7, brushes=brushes,
                                        pens=pens)
            self.addItem(self.bars)
            names = model.class_names
            self.getAxis("bottom").setTicks([[(i, _short(names[k]) if k < len(names)
                                               else str(k)) for i, k in enumerate(shown)]])
            self._model, self._ticks = model, shown
        else:  # same model and classes: update the bars in place (cheaper than a new item)
            self.bars.setOpts(height=values, brushes=brushes, pens=pens)
        top = len(shown) < scores.size
        self.setLabel("bottom", f"class (top {len(shown)} of {scores.size})" if top
                      else "class")
        lo, hi = min(0.0, float(values.min())), max(0.0, float(values.max()))
        pad = 0.08 * ((hi - lo) or 1.0)
        where = {k: i for i, k in enumerate(shown)}
        marked = [k for k in self.explained if k in where]
        tops = [max(float(scores[k]), 0.0) + 0.6 * pad for k in marked]
        self.marker.setData([where[k] for k in marked], tops)
        self.setRange(xRange=(-0.6, len(shown) - 0.4), yRange=(lo - pad, hi + 2 * pad),
                      padding=0)


TOP_CLASSES = 10


def shown_classes(scores, label=None, explained=()) -> list[int]:
    """The classes the scores plot draws: all of up to TOP_CLASSES; otherwise the
    TOP_CLASSES highest in score order, plus the true and the explained class when they
    are not among them (1000 ImageNet bars would be unreadable)."""
    n = len(scores)
    if n <= TOP_CLASSES:
        return list(range(n))
    order = [int(k) for k in np.argsort(-np.asarray(scores), kind="stable")[:TOP_CLASSES]]
    extra = ([label] if label is not None else []) + (list(explained) if len(explained) == 1
                                                       else [])
    for k in extra:
        if k is not None and 0 <= int(k) < n and int(k) not in order:
            order.append(int(k))
    return order


def _short(name, limit=16) -> str:
    """A class name short enough for a tick label: the first of its synonyms, cut."""
    text = str(name).split(",")[0].strip()
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _file_of(state, result) -> str:
    """", chelsea.jpg" (escaped, shortened in the middle) when the sample on display was read
    from an image file of the open dataset: a folder's photo named, not only numbered."""
    data, req = state.dataset, result.request
    listing = getattr(data, "sample_files", None)
    if listing is None or req.index is None or req.dataset_key != id(data):
        return ""
    files = listing([req.index])
    return f", {html.escape(elide_middle(os.path.basename(files[0]), 32))}" if files else ""

