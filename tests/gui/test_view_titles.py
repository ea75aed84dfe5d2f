"""The views' titles name the explained class and the rule in full: a title wider than its
view wraps instead of being cut at both ends (ImageNet's "relevance for predicted class
Egyptian cat" read "evance for predicted class Egyptian c" in a 1400-pixel window)."""

from __future__ import annotations

import numpy as np
from colour_models import colour_graph_model, write_photos

import lrpcore


def _fits(title) -> bool:
    text = title.item.mapRectToParent(title.item.boundingRect())
    return text.width() <= title.rect().width() + 1.0 and text.left() >= -1.0


def test_long_heatmap_title_wraps_inside_its_view(make_window, tmp_path, qtbot):
    model_path = tmp_path / "colour-graph.npz"
    lrpcore.save_model(colour_graph_model(), model_path)
    window = make_window(model_path, write_photos(tmp_path / "photos"))
    window.state.target = "7"  # "Egyptian cat"
    qtbot.waitUntil(lambda: window.state.relevance is not None)
    window.state.rule = "EpsilonGammaBox"
    qtbot.waitUntil(lambda: window.state.relevance is not None)
    views = window.views
    title = views.heat_title
    assert "Egyptian cat" in title.text and "EpsilonGammaBox" in title.text
    views.heat_widget.setFixedWidth(170)  # narrower than the title's longest line
    qtbot.waitUntil(lambda: 0 < title.rect().width() < 175)
    qtbot.waitUntil(lambda: _fits(title))
    # wrapped onto more lines, and both titles still as tall as each other
    assert title.item.boundingRect().height() > 3 * 10
    qtbot.waitUntil(lambda: np.isclose(views.input_title.rect().height(), title.rect().height()))
    views.heat_widget.setMinimumWidth(0)
    views.heat_widget.setMaximumWidth(16777215)
