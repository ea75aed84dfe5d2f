"""The explorer opens graph models exported from PyTorch (ResNet, EfficientNet-Lite0) and
explains them: the heatmap is drawn from the relevance in the model's own layout."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

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


@pytest.mark.parametrize("name", ["decoder_ts.onnx", "convnext_dynamo.onnx"])
def test_window_explains_decoders_and_convnext(make_window, qtbot, tmp_path, name):
    """Transposed convolutions and nearest resizing; ConvNeXt's LayerNorm (a layer whose
    relevance passes as its gradient: no rule row) and its dense layers at every position."""
    from pathlib import Path

    model_path = Path(__file__).resolve().parents[1] / "data" / "zoo" / name
    model = lrpcore.load_model(model_path)
    H, W, C = model.input_spec.raw_shape
    images = np.random.default_rng(1).integers(0, 256, (2, H, W, C)).astype(np.uint8)
    data = tmp_path / "images.npy"
    np.save(data, images)
    window = make_window(model=str(model_path), dataset=data)
    s = window.state
    assert s.relevance.shape == (H, W, C)
    want = lrpcore.explain(s.model, images[:1], rule=s.rule, dtype=s.dtype, target=s.target
                           if not s.target.isdigit() else int(s.target))[0]
    np.testing.assert_allclose(s.relevance, want.transpose(1, 2, 0), rtol=1e-9, atol=1e-12)
    assert "ΣR" in window.conservation_label.text()


def test_browser_lists_efficientnet_and_the_app_explains_photographs(make_window, qtbot):
    """lrp-explorer --model efficientnet-lite0 --dataset natural-images: offline, by name."""
    from lrpcore.io import imagenet

    if not imagenet.available():
        pytest.skip("the [imagenet] extra is not installed")
    # waits for the explanation only: the accuracy over natural-images (every photograph
    # through EfficientNet on the batch worker) is not looked at here, and under load it was
    # most of the 20 s make_window allows
    window = make_window(model="efficientnet-lite0", dataset="natural-images", wait=False)
    qtbot.waitUntil(lambda: window.state.explanation is not None, timeout=60000)
    models = window.browser.models
    entries = {models.item(r).text(): models.item(r).data(Qt.ItemDataRole.UserRole)
               for r in range(models.count())}
    assert entries["EfficientNet-Lite0 (ImageNet)"] == "efficientnet-lite0"  # issue 13's name
    # shown whole: it wraps before "(ImageNet)" instead of being cut in the middle
    window.resize(1024, 700)
    item = models.findItems("EfficientNet-Lite0 (ImageNet)", Qt.MatchFlag.MatchExactly)[0]
    fm = models.fontMetrics()
    rect = models.visualItemRect(item)
    assert rect.height() >= 2 * fm.height()
    assert models.viewport().width() >= fm.horizontalAdvance("EfficientNet-Lite0")
    s = window.state
    assert s.relevance.shape == (224, 224, 3)
    assert s.model.class_names[s.explanation.prediction] == "Egyptian cat"  # chelsea


def test_browser_says_how_to_get_efficientnet_when_missing(make_window, monkeypatch):
    from lrpcore.io import imagenet

    monkeypatch.setattr(imagenet, "checkpoint_path", lambda: None)
    window = make_window()
    window.browser.refresh()
    models = window.browser.models
    notes = [models.item(r) for r in range(models.count())
             if "not installed" in models.item(r).text()]
    assert len(notes) == 1
    assert "pip install" in notes[0].toolTip()
    assert not notes[0].flags() & Qt.ItemFlag.ItemIsEnabled
