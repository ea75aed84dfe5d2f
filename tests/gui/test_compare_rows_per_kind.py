"""Compare's other rows follow the kind of model, as the main rule does: a photograph model
(graph, zennit's numerics) starts from zennit's composites, a toolbox digit model from the
toolbox's rules; rows a user set for one kind come back when a model of that kind does."""

from __future__ import annotations

import numpy as np
from colour_models import colour_graph_model

import lrpcore
from lrpcore.conventions import TOOLBOX, ZENNIT

from .insight_helpers import open_tool


def test_compare_rows_follow_the_kind_of_model(make_window, qtbot, tmp_path, toy_files):
    model_path, data_path = tmp_path / "colour.npz", tmp_path / "photos.npy"
    lrpcore.save_model(colour_graph_model(), model_path)
    np.save(data_path, np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), np.uint8))
    window = make_window()  # the toy digit model (toolbox)
    view = open_tool(qtbot, window, "compare")
    assert view.rules() == [window.state.rule] + [r for r in TOOLBOX.compare
                                                  if r != window.state.rule]
    view.rule_boxes[2].setCurrentText("flat")  # a digit user's own row
    window.close_dataset()
    assert window.open_model(str(model_path))
    qtbot.waitUntil(lambda: window.state.rule == "EpsilonPlus", timeout=20000)
    assert view.rules() == list(ZENNIT.compare)  # no alphabeta:2 on every photo layer
    window.open_model(str(toy_files[0]))
    qtbot.waitUntil(lambda: window.state.rule == "epsilon:0.01", timeout=20000)
    assert view.rules()[2] == "flat" and view.rules()[0] == "epsilon:0.01"
