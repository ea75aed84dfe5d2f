"""Tools and the window at small sizes show every label, scale and map whole and alike:
Draw a digit at 760 pixels, the status bar at 1024, the Concepts maps as equal tiles."""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
import pytest

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture
def lenet_window(make_window, toy_files):
    return make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])


def _tile_widths(canvas):
    boxes = [item for item in canvas.ci.items if isinstance(item, pg.ViewBox)]
    return [round(b.geometry().width(), 1) for b in boxes]


@pytest.mark.parametrize("top", [6, 3, 8])
def test_concepts_maps_are_tiles_of_one_size(lenet_window, qtbot, top):
    """The last maps of the row were narrower (68 against 75 pixels at 760): a longer title
    ("ch 16 · 34%") widened its own column."""
    window = lenet_window
    panel = window.insight.show("concepts", (760, 700))
    window.insight.docks["concepts"].resize(760, 700)
    qtbot.waitUntil(lambda: panel.result is not None, timeout=60000)
    if top != panel.top_spin.value():
        with qtbot.waitSignal(panel.updated, timeout=60000):
            panel.top_spin.setValue(top)
            panel.refresh()
    qtbot.waitUntil(lambda: len(_tile_widths(panel.maps)) == top, timeout=5000)
    widths = _tile_widths(panel.maps)
    qtbot.waitUntil(lambda: max(_tile_widths(panel.maps)) - min(_tile_widths(panel.maps))
                    <= 1, timeout=3000)
    assert min(widths) > 20


def test_draw_a_digit_fits_760_pixels(lenet_window, qtbot):
    """At 760 pixels the tool was 923 wide: the scratch set scrolled out of sight and the
    heatmap's title ("relevance: epsilon:0.01, predicted class") ran to the edge."""
    import numpy as np

    from lrpgui.insight.draw_pad import PAD

    window = lenet_window
    panel = window.insight.show("draw", (760, 420))
    dock = window.insight.docks["draw"]
    dock.resize(760, 420)
    ink = np.zeros((PAD, PAD))
    ink[60:220, 130:150] = 1.0
    panel.pad.set_ink(ink)
    qtbot.waitUntil(lambda: panel.result is not None
                    and panel.result_version == panel.pad.version, timeout=20000)
    assert "predicted class" in panel.heat_title.text
    scroll = dock.widget()
    qtbot.waitUntil(lambda: scroll.viewport().width() >= 740, timeout=5000)
    qtbot.waitUntil(lambda: panel.minimumSizeHint().width() <= scroll.viewport().width()
                    and panel.width() <= scroll.viewport().width(), timeout=3000)
    assert not scroll.horizontalScrollBar().isVisible()
    labels = (panel.prediction, panel.centre, panel.add_button, panel.export_button)
    # the prediction's text arrives with the result; Qt lays it out on a later event
    qtbot.waitUntil(lambda: all(w.width() >= w.sizeHint().width() for w in labels),
                    timeout=3000)
    assert panel.views.width() >= panel.views.minimumSizeHint().width()
    right = panel.scratch_list.mapTo(panel, panel.scratch_list.rect().topRight()).x()
    assert right < scroll.viewport().width()  # the scratch set is in sight


def test_status_bar_at_1024_shows_its_texts_whole(lenet_window, qtbot):
    """At 1024 pixels beside EfficientNet's warning and timings the long permanent texts
    left status messages ten pixels ("rule EpsilonPlus in float32: recommended …" cut to
    nothing); messages longer than the room are shortened with "…", never cut off."""
    window = lenet_window
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() <= 1024, timeout=5000)
    window.state.rule = "alphabeta:2"  # LeNet-5's sum pools: a conservation warning
    indicator = window.insight.trust
    qtbot.waitUntil(lambda: indicator.isVisible() and window.state.explanation is not None
                    and window.state.explanation.rule_description == "alphabeta:2",
                    timeout=20000)
    bar = window.statusBar()
    permanent = [window.backend_label, window.time_label, window.conservation_label]
    assert all(label.text() for label in permanent)
    qtbot.waitUntil(lambda: all(label.width() >= label.sizeHint().width()
                                for label in permanent), timeout=3000)
    assert "ΣR = " in window.conservation_label.toolTip()  # the figures behind the ratio
    message = "EpsilonPlus in float32: recommended for this model"
    window.state.status = message
    qtbot.waitUntil(lambda: bar.currentMessage() == message, timeout=5000)

    def room():
        return min(w.x() for w in permanent + [indicator] if w.isVisible())

    assert bar.fontMetrics().horizontalAdvance(message) < room()
    long = "wrote /a/very/long/folder/" + "deep/" * 30 + "heatmap-of-sample-7.png"
    window.state.status = long
    qtbot.waitUntil(lambda: bar.currentMessage() not in ("", message), timeout=5000)
    shown = bar.currentMessage()
    assert "…" in shown and shown.startswith("wrote /a/") and shown.endswith("7.png")
    assert bar.fontMetrics().horizontalAdvance(shown) < room()
    assert bar.toolTip() == long
