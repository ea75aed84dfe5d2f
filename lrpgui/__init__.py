"""lrpgui: the LRP Explorer desktop application (PySide6 + pyqtgraph) over :mod:`lrpcore`."""

from __future__ import annotations

__all__ = ["MainWindow", "AppState"]


def __getattr__(name):
    # Qt is imported on first use, so ``import lrpgui.state`` stays light.
    if name == "MainWindow":
        from .main_window import MainWindow

        return MainWindow
    if name == "AppState":
        from .state import AppState

        return AppState
    raise AttributeError(name)
