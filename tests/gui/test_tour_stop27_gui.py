"""Stop 27's tour of the explorer as a new user: what a researcher met on the toolbox LeNet-5,
EfficientNet-Lite0 on a folder of photographs, the MNIST ResNet and a segmentation model."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from lrpgui.insight.tools import TOOLS

from .waiting import window_at


@pytest.mark.parametrize("name", [t[0] for t in TOOLS])
def test_a_tool_fills_its_window_before_it_scrolls(qtbot, toy_files, name):
    """Conservation and SpRAy (whose layouts hold word-wrapped lines) scrolled in a floating
    window of 1100×760, their lower plots cut, though they need 500 and 240 pixels: the scroll
    area took their preferred height for the width as the least. A tool now shrinks to its
    window down to its minimum and only then scrolls."""
    window = window_at(qtbot, toy_files[0], toy_files[1], 1400, 900)
    panel = window.insight.show(name, (1000, 700))
    dock = window.insight.docks[name]
    qtbot.waitUntil(dock.isVisible)
    area = dock.widget()
    for height in (760, 600, 500):
        dock.resize(1000, height)
        QApplication.processEvents()
        room = area.viewport().height()
        if room < panel.minimumSizeHint().height():
            continue  # below its minimum a tool scrolls, on purpose
        qtbot.waitUntil(lambda r=room: panel.height() <= r, timeout=5000)
        assert not area.verticalScrollBar().isVisible(), (name, height)
