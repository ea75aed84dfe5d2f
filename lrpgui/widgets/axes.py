"""How the explorer's plots title their axes: one look for the class scores, the colour bar
and every tool."""

from __future__ import annotations

import math

import pyqtgraph as pg

AXIS_TEXT = (40, 40, 40)  # pyqtgraph's default, (150, 150, 150), is faint on white


def plot_widget(name: str, **kwargs) -> pg.PlotWidget:
    """A white plot widget with the object name ``name``: ``pg.PlotWidget(objectName=…)``
    hands the name to its plot item, and the tools' plots had none."""
    plot = pg.PlotWidget(**kwargs)
    plot.setObjectName(name)
    plot.setBackground("w")
    # room above the plot for half a tick label: the top tick (an empty plot's "1.0") is
    # centred on the plot's top edge, and its upper half was cut off
    room = plot.fontMetrics().height() // 2 + 2
    left, _top, right, bottom = plot.getPlotItem().layout.getContentsMargins()
    plot.getPlotItem().layout.setContentsMargins(left, room, right, bottom)
    return plot


def label_axes(plot: pg.PlotItem | pg.PlotWidget, left: str, bottom: str) -> None:
    """Title the axes of a white plot, in dark text (tick labels too), and write their
    numbers as they are: pyqtgraph's SI scaling wrote 0.6 as "600 (x0.001)"."""
    for side, text in (("left", left), ("bottom", bottom)):
        axis = plot.getAxis(side)
        axis.enableAutoSIPrefix(False)
        readable(axis)
        axis.setLabel(text)


def readable(axis: pg.AxisItem) -> None:
    """Dark tick labels (and title) on white: pyqtgraph's default grey was faint."""
    axis.setTextPen(AXIS_TEXT)


class IndexAxis(pg.AxisItem):
    """An axis of indices (the eigengap plot's eigenvalue number): ticks at whole numbers
    only; pyqtgraph ticked three eigenvalues at 1.0, 1.5, 2.0, 2.5, 3.0."""

    def tickValues(self, minVal, maxVal, size):  # noqa: N802, N803 (pyqtgraph's names)
        levels = [(spacing, values) for spacing, values in super().tickValues(minVal, maxVal, size)
                  if spacing >= 1]
        if levels or not (math.isfinite(minVal) and math.isfinite(maxVal)):
            return levels
        return [(1.0, [float(v) for v in range(math.ceil(minVal), math.floor(maxVal) + 1)])]


def fit_axis_title(plot: pg.PlotWidget, side: str, titles) -> None:
    """Title a vertical axis with the longest of ``titles`` its height holds, chosen again
    on every resize: in a short window "Laplacian eigenvalue" ran past the plot's ends."""
    axis = plot.getAxis(side)

    def fit(*_args) -> None:
        room = axis.geometry().height()
        if room <= 0:
            return
        for title in titles:  # as drawn (its own font and size): the text item's length
            if axis.labelText != title:
                axis.setLabel(title)
            if axis.label.boundingRect().width() <= room:
                return

    plot.getViewBox().sigResized.connect(fit)
    fit()
