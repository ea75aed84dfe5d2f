"""A PyTorch user's array in the model's own layout (N×C×H×W, already scaled) opens in the
explorer: it is read back as the raw images it comes from (``InputSpec.unprocess``), drawn and
explained as such, with the relevance of the array itself (issue 12: such arrays were refused
with "does not fit the model")."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore

from .conftest import shared_file

pytest.importorskip("onnx")


@pytest.mark.parametrize("name", ["mnist_resnet.onnx", "efficientnet_lite0.onnx"])
def test_an_array_in_the_models_own_layout_opens_and_is_explained_as_it_is(
        make_window, qtbot, tmp_path, name):
    model_path = shared_file("models", "torch_onnx", name)
    model = lrpcore.load_model(model_path)
    spec = model.input_spec
    raw = np.random.default_rng(0).integers(0, 256, (2,) + tuple(spec.raw_shape))
    fed = spec.preprocess(raw)  # N×C×H×W, scaled (and normalised) as the model takes it
    assert fed.shape[1:] == tuple(spec.shape) != tuple(spec.raw_shape)
    data = tmp_path / "nchw.npy"
    np.save(data, fed)
    window = make_window(model=model_path, dataset=data)
    s = window.state
    assert "model's own input" in s.status
    assert s.dataset.sample_shape == tuple(spec.raw_shape)
    np.testing.assert_allclose(s.dataset.images(np.array([0, 1])), raw, rtol=0, atol=1e-9)
    want = lrpcore.explain(s.model, fed[:1], raw=True, rule=s.rule, dtype=s.dtype,
                           target=s.target if not s.target.isdigit() else int(s.target))[0]
    np.testing.assert_allclose(s.relevance, want.transpose(1, 2, 0), rtol=1e-4,
                               atol=1e-6 * np.abs(want).max())


def test_arrays_of_the_raw_shape_are_read_as_they_are(tmp_path):
    from lrpcore.io.datasets import read_model_layout

    model = lrpcore.load_model(shared_file("models", "torch_onnx", "mnist_resnet.onnx"))
    images = np.zeros((2, 28, 28, 1), np.uint8)
    np.save(tmp_path / "raw.npy", images)
    dataset = lrpcore.open_dataset(tmp_path / "raw.npy")
    assert not read_model_layout(model, dataset)
    assert dataset.sample_shape == (28, 28, 1) and dataset.dtype == np.uint8
