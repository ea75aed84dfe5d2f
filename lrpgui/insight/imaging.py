"""Small pyqtgraph image cells for the insight tools: relevance maps with a fixed scale.

The fast path of pyqtgraph: C-contiguous float32 data, explicit levels (−v, v) and the
colormap's 256-entry palette as lookup table, so the same scale can be given to a whole row
(or to every map) and a colormap switch re-colours without recomputing anything.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QRectF, Qt

from .. import rendering


def map2d(r) -> np.ndarray:
    """A relevance map as one 2-D float array: H×W×C summed over channels, H×W kept,
    vectors as a one-row strip."""
    r = np.asarray(r, dtype=np.float64)
    if r.ndim == 3:
        return r.sum(axis=2)
    if r.ndim == 2:
        return r
    return r.reshape(1, -1)


def max_abs(a) -> float:
    return float(np.max(np.abs(a))) if np.size(a) else 0.0


def image_cell(layout: pg.GraphicsLayout, row: int, col: int, size=None):
    """A ViewBox with an ImageItem (row-major, aspect locked, no mouse) at (row, col)."""
    # no context menu made at all: building each box's menu (and removing it) was half the
    # time of Compare's 50-cell grid, all of it on the GUI thread
    box = layout.addViewBox(row=row, col=col, enableMenu=False)
    box.setAspectLocked(True)
    box.invertY(True)
    box.setMouseEnabled(False, False)
    if size is not None:
        box.setMinimumSize(size, size)
    item = pg.ImageItem(axisOrder="row-major")
    item.setBorder(pg.mkPen(rendering.FRAME))
    box.addItem(item)
    return box, item


def show_relevance(item: pg.ImageItem, r2d, vmax: float, cmap: str) -> None:
    """Colour ``r2d`` on the scale [−vmax, vmax] with the colormap's palette."""
    v = float(vmax) if vmax and np.isfinite(vmax) and vmax > 0 else 1.0
    item.setImage(np.ascontiguousarray(r2d, dtype=np.float32), autoLevels=False,
                  levels=(-v, v), lut=rendering.bar_lut(cmap))


def show_input(item: pg.ImageItem, x01) -> None:
    """The input as gray levels, ink dark on white (as the main view draws it)."""
    x = np.asarray(x01, dtype=np.float64)
    if x.ndim == 3 and x.shape[2] == 3:
        img = x
    else:
        img = 1.0 - map2d(x) / (x.shape[2] if x.ndim == 3 else 1)
    item.setImage(np.ascontiguousarray(img, dtype=np.float32), autoLevels=False,
                  levels=(0.0, 1.0))


def even_columns(grid: pg.GraphicsLayout, n: int) -> None:
    """Give the first ``n`` columns of ``grid`` one width, that of the widest cell: a grid
    shares its width out by the cells' preferred sizes, so a longer title ("ch 16 · 34%"
    over "ch 6 · 11%") made its column wider and the last maps of a row smaller."""
    lay = grid.layout
    least = widest = 0.0
    for item, cells in grid.items.items():
        if len(cells) == 1 and cells[0][1] < n:
            least = max(least, item.effectiveSizeHint(Qt.SizeHint.MinimumSize).width())
            widest = max(widest, item.effectiveSizeHint(Qt.SizeHint.PreferredSize).width())
    for col in range(max(n, getattr(grid, "even_columns", 0))):  # columns no longer used
        on = col < n  # lose their width; a tight grid shrinks by the minimum: that one too
        lay.setColumnMinimumWidth(col, least if on else 0.0)
        lay.setColumnPreferredWidth(col, widest if on else 0.0)
        lay.setColumnStretchFactor(col, 1 if on else 0)
    grid.even_columns = n


def fit(box: pg.ViewBox, shape) -> None:
    """Show the whole image (shape H×W…, or N for a vector drawn as a strip) with a margin."""
    shape = tuple(shape)
    h, w = (1, int(shape[0])) if len(shape) == 1 else (int(shape[0]), int(shape[1]))
    box.setRange(xRange=(0, w), yRange=(0, h), padding=0.02)


def outline_overlay(box: pg.ViewBox) -> pg.ImageItem:
    """An image item above a map cell that draws the input's outline (transparent
    elsewhere), as the main heatmap view does. Averaged when drawn smaller than the image:
    picking every n-th pixel broke a photograph's outline into scattered dots; hidden when
    drawn at under half size (:func:`outline_readable`): a photograph's edges in an
    80-pixel cell were a dense scribble over the map."""
    item = pg.ImageItem(axisOrder="row-major", autoDownsample=True)
    item.setZValue(5)
    box.addItem(item)
    box.sigTransformChanged.connect(lambda *_a: item.setVisible(outline_readable(box, item)))
    return item


MIN_OUTLINE_SCALE = 0.5  # screen pixels per image pixel an outline needs to be read


def outline_readable(box: pg.ViewBox, item: pg.ImageItem) -> bool:
    """Whether ``box`` draws the map under outline ``item`` at MIN_OUTLINE_SCALE screen
    pixels per map pixel or more (an empty or not yet laid out cell counts as readable)."""
    if item.image is None:
        return True
    px = box.viewPixelSize()[0]  # map pixels per screen pixel
    return not px > 0 or 1.0 / px >= MIN_OUTLINE_SCALE


def show_outline(overlay: pg.ImageItem, x01, shape, on=True) -> bool:
    """Draw the Canny outline of input ``x01`` over a map of ``shape`` (H×W…); cleared when
    ``on`` is False or the map is not in the input's layout (e.g. a hidden layer's map).
    Returns whether an outline is drawn."""
    return put_outline(overlay, outline_image(x01, shape, on), shape)


def outline_image(x01, shape, on=True) -> np.ndarray | None:
    """The RGBA picture :func:`show_outline` draws (None: none), made once for a grid of
    maps of one input: an edge filter per cell cost a photograph's sweep 24 of them."""
    shape = tuple(shape)
    if not on or x01 is None or len(shape) < 2:
        return None
    x = np.asarray(x01)
    if x.shape[:2] != shape[:2] or x.ndim not in (2, 3):
        return None
    mask = rendering.outline_mask(x)
    style = rendering.outline_style(x)
    rgba = np.zeros(mask.shape + (4,), dtype=np.float32)
    rgba[mask] = (style.grey, style.grey, style.grey, style.alpha)
    return rgba


def put_outline(overlay: pg.ImageItem, rgba, shape) -> bool:
    """Show :func:`outline_image`'s picture over a map of ``shape`` (cleared for None)."""
    if rgba is None:
        overlay.clear()
        return False
    h, w = tuple(shape)[:2]
    overlay.setImage(rgba, autoLevels=False, levels=(0.0, 1.0))
    overlay.setRect(QRectF(0, 0, w, h))
    box = overlay.getViewBox()
    if isinstance(box, pg.ViewBox):
        overlay.setVisible(outline_readable(box, overlay))
    return True


def input_for_map(model, raw, shape, raw_layout=True):
    """Sample ``raw`` in [0, 1], laid out as a relevance map of ``shape`` (H×W…) is, for
    the map's outline: the model's input layout (LeNet-5's padded 32×32 digit, a photograph
    channels-last), else (``raw_layout``) the raw layout of maps cropped back to it; a flat
    input folded when the map is its square. None when neither fits (a hidden layer's map,
    XOR's two inputs): one rule for every tool that outlines a map."""
    shape = tuple(shape)[:2]
    if raw is None or model is None or len(shape) < 2:
        return None
    for x in _input_layouts(model, raw, raw_layout):
        if x.ndim == 1 and x.size == shape[0] * shape[1]:
            x = x.reshape(shape)
        if x.ndim in (2, 3) and x.shape[:2] == shape:
            return x.reshape(shape + (-1,))
    return None


def _input_layouts(model, raw, raw_layout):
    """The sample as the model is fed it (in [0, 1]), then as read (raw range → [0, 1])."""
    from ..services import model_input_unit, shown_inputs  # noqa: PLC0415 (heavy; when drawn)
    from .worker_tasks import input_image  # noqa: PLC0415

    raw = np.asarray(raw)
    try:
        x = model_input_unit(model, raw[None], np.float64)[0]
    except Exception:  # noqa: BLE001 (a sample that does not fit: no outline, no error)
        pass
    else:
        spec = model.input_spec
        if x.ndim == 3 and spec is not None and spec.layout == "NCHW":  # C×H×W photograph
            x = spec.image_layout(x[None])[0]
        yield shown_inputs(raw[None], x[None])[0]  # a photograph: the main view's pixels
    if raw_layout:
        yield input_image(model, raw)


def keep_whole(canvas: pg.GraphicsLayoutWidget) -> pg.GraphicsLayoutWidget:
    """Keep ``canvas`` (a grid of map cells and labels) at least as large as its grid needs,
    now and whenever cells or labels change: a smaller view shows only part of the grid,
    cutting maps and labels (in a small dock the tool's scroll area scrolls instead)."""
    if canvas.property("lrpKeepsWhole") is None:  # the minimum set so far stays the least
        least = canvas.minimumSize()
        canvas.setProperty("lrpKeepsWhole", (least.width(), least.height()))
        canvas.ci.installEventFilter(_WholeGrid(canvas))
    _fit_minimum(canvas)
    return canvas


def _fit_minimum(canvas) -> None:
    hint = canvas.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize)
    frame = 2 * canvas.frameWidth()
    least_w, least_h = canvas.property("lrpKeepsWhole")
    canvas.setMinimumSize(max(least_w, math.ceil(hint.width()) + frame),
                          max(least_h, math.ceil(hint.height()) + frame))


class _WholeGrid(QObject):
    """A changed grid layout posts LayoutRequest to the canvas's central item: the canvas's
    minimum follows."""

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            _fit_minimum(self.parent())
        return False
