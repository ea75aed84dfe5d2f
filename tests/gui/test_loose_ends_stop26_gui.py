"""Stop 26's loose ends in the explorer: each test failed before the fix it guards."""

from __future__ import annotations

import shutil

import pytest

from .conftest import shared_file


def test_the_summary_of_an_onnx_model_says_its_scaling_is_assumed(make_window, qtbot,
                                                                   tmp_path):
    """`lrp info` says an ONNX file holds no input scaling and which sidecar would set it;
    the explorer's summary gave no hint (EfficientNet-Lite0's export expects
    (x/255 − 0.498)/0.502, not the x/255 taken). Both say lrpcore's one sentence."""
    pytest.importorskip("onnx")
    from lrpcore.cli.cmd_info import describe_model
    from lrpcore.io.sidecar import assumed_scaling
    from lrpgui.widgets.model_summary import ModelSummary

    path = tmp_path / "digits_net.onnx"  # no sidecar beside it
    shutil.copy(shared_file("models", "torch_onnx", "mnist_resnet.onnx"), path)
    window = make_window()
    summary = window.findChild(ModelSummary, "modelSummary")
    assert "scaling is assumed" not in summary.toPlainText()  # the toy model's file states it
    assert window.open_model(str(path)) is True
    qtbot.waitUntil(lambda: not window.opening, timeout=60000)
    sentence = assumed_scaling(window.state.model, str(path))
    assert sentence and "digits_net.json" in sentence
    qtbot.waitUntil(lambda: sentence in summary.toPlainText(), timeout=20000)
    assert sentence in describe_model(window.state.model, str(path))
