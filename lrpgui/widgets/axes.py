"""How the explorer's plots title their axes: one look for the class scores, the colour bar
and every tool."""

from __future__ import annotations

import pyqtgraph as pg

AXIS_TEXT = (40, 40, 40)  # pyqtgraph's default, (150, 150, 150), is faint on white


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
