"""Hooks the insight tools into the main window: its docks and a "Tools" menu.

``install_insight_tools(window)`` is the one call the main window makes. The docks start
hidden; a tool computes only while it is visible (and catches up when it is shown again).
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFrame, QScrollArea

from .compare_view import CompareView
from .concepts_panel import ConceptsPanel
from .conservation_panel import ConservationPanel
from .draw_pad import DrawPanel
from .pixelflip_panel import PixelFlipPanel
from .runner import Runner
from .sanity_window import SanityPanel
from .spray_window import SprayPanel
from .sweep_window import SweepPanel
from .trust_indicator import TrustIndicator

# (attribute, menu text, dock title, dock object name, class, area, floating size, shortcut)
TOOLS = (
    ("compare", "Compare…", "Compare", "compareDock", CompareView,
     Qt.DockWidgetArea.BottomDockWidgetArea, (1100, 720), "Ctrl+Shift+C"),
    ("conservation", "Conservation", "Conservation per layer", "conservationDock",
     ConservationPanel, Qt.DockWidgetArea.RightDockWidgetArea, (760, 780), "Ctrl+Shift+L"),
    ("pixelflip", "Pixel-flipping…", "Pixel-flipping", "pixelFlipDock", PixelFlipPanel,
     Qt.DockWidgetArea.RightDockWidgetArea, (820, 620), "Ctrl+Shift+P"),
    ("draw", "Draw a digit…", "Draw a digit", "drawDock", DrawPanel,
     Qt.DockWidgetArea.BottomDockWidgetArea, (960, 420), "Ctrl+Shift+D"),
    ("sweep", "Sweep parameters…", "Parameter sweep (faithfulness)", "sweepDock", SweepPanel,
     Qt.DockWidgetArea.RightDockWidgetArea, (1100, 780), "Ctrl+Shift+W"),
    ("sanity", "Sanity check…", "Sanity check (model randomisation)", "sanityDock",
     SanityPanel, Qt.DockWidgetArea.BottomDockWidgetArea, (1000, 640), "Ctrl+Shift+Y"),
    ("concepts", "Concepts (CRP)…", "Concepts (CRP)", "conceptsDock", ConceptsPanel,
     Qt.DockWidgetArea.RightDockWidgetArea, (1100, 760), "Ctrl+Shift+K"),
    ("spray", "Strategies (SpRAy)…", "Strategies (SpRAy)", "sprayDock", SprayPanel,
     Qt.DockWidgetArea.BottomDockWidgetArea, (1200, 820), "Ctrl+Shift+R"),
)


class InsightTools:
    """The insight panels of one window, their docks and menu actions."""

    def __init__(self, window):
        self.window = window
        self.runner = Runner(window.state, window.controller, getattr(window, "service", None))
        self.panels: dict = {}
        self.docks: dict = {}
        self.actions: dict = {}
        menu = window.menuBar().addMenu("&Tools")
        menu.setObjectName("toolsMenu")
        self.menu = menu
        for attr, text, title, name, cls, area, size, shortcut in TOOLS:
            panel = cls(self.runner)
            panel.app_settings = getattr(window, "settings", None)  # e.g. the last export folder
            dock = QDockWidget(title, window, objectName=name)
            dock.setWidget(scrolled(panel))
            window.addDockWidget(area, dock)
            dock.hide()
            dock.topLevelChanged.connect(
                lambda floating, a=attr: None if floating else self._docked(a))
            action = QAction(text, window)
            action.setObjectName(f"{attr}Action")
            action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(lambda _c=False, a=attr, s=size: self.show(a, s))
            menu.addAction(action)
            self.panels[attr] = panel
            self.docks[attr] = dock
            self.actions[attr] = action
        self.trust = TrustIndicator(window.state)  # conservation warnings in the status bar
        window.statusBar().addPermanentWidget(self.trust)
        self.trust.open_layer.connect(self.open_conservation_at)

    def open_conservation_at(self, layer: int):
        """Show the Conservation panel with the relevance at the input of ``layer``."""
        panel = self.panels["conservation"]
        panel.shown_layer = int(layer)  # kept when the panel's next result arrives
        self.show("conservation", next(t[6] for t in TOOLS if t[0] == "conservation"))
        panel.select_layer(int(layer))
        return panel

    def show(self, name: str, floating_size=None):
        """Show a tool's dock (floating at a useful size for the big ones); returns the panel."""
        dock = self.docks[name]
        if not dock.isVisible() and floating_size is not None and not dock.isFloating():
            dock.setFloating(True)
            dock.resize(fit_screen(self.window, floating_size))
        dock.show()
        dock.raise_()
        return self.panels[name]

    def __getitem__(self, name):
        return self.panels[name]

    def _docked(self, name: str) -> None:
        """A tool put into the window takes the place of the largest dock in its area as a tab
        (another tool's first), so the views keep their size and the tool gets a whole dock's
        room rather than a sliver of a split; alone in an area it gets its minimum size from
        the views' spare room (Qt never takes them below their minimum). In a small place
        the tool scrolls rather than squeezing its controls (see :func:`scrolled`)."""
        window, dock = self.window, self.docks[name]
        area = window.dockWidgetArea(dock)
        peers = [d for d in window.findChildren(QDockWidget) if d is not dock
                 and d.isVisible() and not d.isFloating() and window.dockWidgetArea(d) == area]
        if peers:
            tools = [d for d in peers if d in self.docks.values()]
            window.tabifyDockWidget(tools[0] if tools else
                                    max(peers, key=lambda d: d.width() * d.height()), dock)
            dock.raise_()
            return
        vertical = area in (Qt.DockWidgetArea.TopDockWidgetArea,
                            Qt.DockWidgetArea.BottomDockWidgetArea)
        need = self.panels[name].minimumSizeHint()
        window.resizeDocks([dock], [need.height() if vertical else need.width()],
                           Qt.Orientation.Vertical if vertical else Qt.Orientation.Horizontal)


class ToolScroll(QScrollArea):
    """A tool's scroll area: it asks for little room, so that docking the tool (Qt docks it
    at its size hint first) takes almost nothing from the views before
    :meth:`InsightTools._docked` gives it its place; floating windows are sized explicitly."""

    def sizeHint(self) -> QSize:
        return QSize(160, 120)


def scrolled(panel) -> QScrollArea:
    """``panel`` in a frameless scroll area: in a small dock it keeps its minimum size (labels
    and controls readable) and scrolls, instead of squeezing or growing the window; with room
    it grows with the dock."""
    area = ToolScroll(objectName=f"{panel.objectName() or 'tool'}Scroll")
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(panel)
    return area


def fit_screen(window, size, margin=40) -> QSize:
    """``size`` shrunk to the free area of the window's screen (a 1366×768 laptop shows a
    whole tool window, title bar included)."""
    w, h = size
    screen = window.screen()
    if screen is not None:
        free = screen.availableGeometry()
        w, h = min(w, free.width() - margin), min(h, free.height() - margin)
    return QSize(max(w, 200), max(h, 150))


def install_insight_tools(window) -> InsightTools:
    """Create the insight docks and the Tools menu of ``window`` (kept as ``window.insight``)."""
    tools = InsightTools(window)
    window.insight = tools
    return tools
