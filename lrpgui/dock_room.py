"""Side docks take a share of the width a window gains.

Qt hands every new pixel of a wider window to the central widget: the Browser and the
Explanation dock stayed as narrow as at 1024 pixels after maximising, and that narrow layout
was then saved and came back. Each side's docks now get SIDE_SHARE of the growth.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow

SIDE_SHARE = 0.2  # of the width a window gains, for each side (left, right) that has docks
SIDES = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea)


def side_docks(window: QMainWindow) -> list[QDockWidget]:
    """One docked, visible dock per side (a side's docks share one width)."""
    found = {}
    for dock in window.findChildren(QDockWidget):
        area = window.dockWidgetArea(dock)
        if area in SIDES and area not in found and dock.isVisible() and not dock.isFloating():
            found[area] = dock
    return [found[a] for a in SIDES if a in found]


def share_growth(window: QMainWindow, grown: int) -> None:
    """Widen the side docks by their share of ``grown`` pixels (nothing when it shrank)."""
    if grown <= 0:
        return
    docks = side_docks(window)
    if docks:
        extra = int(grown * SIDE_SHARE)
        window.resizeDocks(docks, [d.width() + extra for d in docks], Qt.Orientation.Horizontal)
