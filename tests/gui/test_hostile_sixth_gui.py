"""A sixth hostile review, in the window: a model the explorer cannot explain is refused in
one line when it is opened."""

from __future__ import annotations

import numpy as np
import pytest

from .waiting import settle


def test_a_feature_extractor_is_an_error_in_the_window(make_window, qtbot, tmp_path):
    onnx = pytest.importorskip("onnx")
    from hostile_files import save_onnx_graph

    W = onnx.numpy_helper.from_array(np.ones((4, 1, 3, 3), np.float32), "W")
    conv = onnx.helper.make_node("Conv", ["x", "W"], ["y"], name="features")
    model = save_onnx_graph(tmp_path / "backbone.onnx", [conv], [W], [1, 1, 28, 28],
                            [1, 4, 26, 26])
    window = make_window(model=model, wait=False)
    qtbot.waitUntil(lambda: bool(window.last_error), timeout=20000)
    assert "not a vector of class scores" in window.last_error and str(model) in window.last_error
    assert window.state.model is None or window.state.model_path != str(model)
    settle(qtbot, window.controller)
