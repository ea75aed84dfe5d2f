"""The explorer opens graph models exported from PyTorch (ResNet, EfficientNet-Lite0) and
explains them: the heatmap is drawn from the relevance in the model's own layout."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore

from .conftest import shared_file

pytest.importorskip("onnx")


@pytest.mark.parametrize("name", ["mnist_resnet.onnx", "efficientnet_lite0.onnx"])
def test_window_explains_a_pytorch_graph_model(make_window, qtbot, tmp_path, name):
    model_path = shared_file("models", "torch_onnx", name)
    model = lrpcore.load_model(model_path)
    H, W, C = model.input_spec.raw_shape
    images = np.random.default_rng(0).integers(0, 256, (3, H, W, C)).astype(np.uint8)
    data = tmp_path / "images.npy"
    np.save(data, images)
    window = make_window(model=model_path, dataset=data)
    s = window.state
    assert s.model.input_spec.layout == "NCHW"
    # the views hold images: the model's C×H×W relevance drawn as H×W×C
    assert s.relevance.shape == (H, W, C)
    want = lrpcore.explain(s.model, images[:1], rule=s.rule, target=s.target
                           if not s.target.isdigit() else int(s.target))[0]
    np.testing.assert_allclose(s.relevance, want.transpose(1, 2, 0), rtol=1e-6, atol=1e-9)
    assert "ΣR" in window.conservation_label.text()
