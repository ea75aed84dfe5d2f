"""ONNX models take the uint8 images every dataset holds: without a sidecar an image input is
scaled to [0, 1] (torchvision's ToTensor), and a sidecar's per-channel mean/std (the README's
example) then gives zB the bounds of that range."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from shared_data import shared_path

import lrpcore

pytest.importorskip("onnx")


def test_resnet_classifies_raw_mnist_digits():
    """The ResNet was trained on digits / 255: fed 0…255 it called nearly every digit an 8."""
    model = lrpcore.load_model(shared_path("models", "torch_onnx", "mnist_resnet.onnx"))
    data = lrpcore.open_dataset(shared_path("data", "mnist_test_images.npy"))
    digits = np.asarray(data.images())[5000:5200]  # rows the ResNet did not train on
    labels = np.asarray(data.labels[5000:5200])
    assert digits.dtype == np.uint8
    accuracy = (lrpcore.predict(model, digits).argmax(axis=1) == labels).mean()
    assert accuracy > 0.85
    assert "[0, 255]" in model.input_spec.describe()


def test_readme_sidecar_gives_efficientnet_its_per_channel_bounds(tmp_path):
    src = shared_path("models", "torch_onnx", "efficientnet_lite0.onnx")
    path = tmp_path / "efficientnet_lite0.onnx"
    shutil.copyfile(src, path)
    mean, std = [0.498] * 3, [0.502] * 3
    path.with_suffix(".json").write_text(
        json.dumps({"input": {"divide": 255, "mean": mean, "std": std}}))
    spec = lrpcore.load_model(path).input_spec
    low, high = spec.channel_range()
    np.testing.assert_allclose(low, (0 - 0.498) / 0.502)
    np.testing.assert_allclose(high, (1 - 0.498) / 0.502)
    assert spec.raw_range == (0.0, 255.0)


def test_channels_first_input_points_to_raw():
    """A PyTorch user's preprocessed N×C×H×W batch without raw=True: the error says how to
    feed it (it only suggested H×W×C images)."""
    from colour_models import colour_graph_model

    model = colour_graph_model(16)
    x = np.random.default_rng(0).uniform(0, 1, (2, 3, 16, 16))
    with pytest.raises(lrpcore.ShapeError, match="raw=True"):
        lrpcore.explain(model, x)
    assert lrpcore.explain(model, x, raw=True).shape == x.shape
