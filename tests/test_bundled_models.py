"""The bundled models in ``models/``: native format, small, float32, and the accuracy their
metadata claims, recomputed here on the 10,000-image MNIST test set (../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import lrpcore
from lrpcore.io import models as model_io
from lrpcore.io.native import read_header, read_native

MODELS = Path(__file__).resolve().parents[1] / "models"
# file → (minimum test accuracy, layer kinds that must be present, architecture named)
BUNDLED = {
    "mnist-dense-rect.npz": (0.94, {"Linear", "Rect"}, "short-rect"),
    "mnist-dense-tanh.npz": (0.94, {"Linear", "Tanh"}, "short-tanh"),
    "mnist-lenet5.npz": (0.975, {"Convolution", "Rect", "SumPool"}, "lenet5"),
    "mnist-maxnet.npz": (0.975, {"Convolution", "Rect", "MaxPool"}, "maxnet"),
}


@pytest.fixture(scope="module")
def mnist_test():
    from conftest import shared_path

    images = np.load(shared_path("data", "mnist_test_images.npy"))
    labels = np.load(shared_path("data", "mnist_test_labels.npy"))
    return images, labels


@pytest.fixture(scope="module", params=sorted(BUNDLED))
def bundled(request):
    path = MODELS / request.param
    assert path.is_file(), f"bundled model {path} is missing"
    return request.param, path, lrpcore.load_model(path)


def test_native_format_small_float32(bundled):
    name, path, model = bundled
    assert os.path.getsize(path) < 5 * 1024 * 1024
    assert model_io.LOADERS[".npz"] is read_native
    assert read_header(path)["format"] == "lrp-explorer-model"
    weighted = [ly for ly in model.layers if ly.weighted]
    assert weighted and all(ly.W.dtype == np.float32 and ly.B.dtype == np.float32
                            for ly in weighted)
    kinds = {ly.kind for ly in model.layers}
    assert BUNDLED[name][1] <= kinds
    assert model.n_classes == 10 and model.class_names == [str(d) for d in range(10)]


def test_provenance_is_recorded(bundled):
    name, _, model = bundled
    prov = model.meta["provenance"]
    cmd = prov["command"]
    assert cmd.startswith("lrp train ") and f"--arch {BUNDLED[name][2]} " in cmd
    assert "--dataset mnist-sample" in cmd and f"--out models/{name}" in cmd
    assert f"--seed {prov['seed']}" in cmd
    assert prov["software"].startswith("lrp-explorer ") and prov["date"]
    assert prov["dataset"] == "mnist-sample (5000 samples)"


def test_lenet5_is_the_toolbox_architecture(lenet):
    ours = lrpcore.load_model(MODELS / "mnist-lenet5.npz")
    assert [ly.describe() for ly in ours.layers] == [ly.describe() for ly in lenet.layers]
    assert ours.input_spec.shape == lenet.input_spec.shape == (32, 32, 1)
    assert ours.input_spec.pad == 2 and ours.input_spec.pad_value == -1.0


def test_stored_accuracy_is_what_the_model_scores(bundled, mnist_test):
    name, _, model = bundled
    images, labels = mnist_test
    correct = 0
    for s in range(0, len(labels), 1000):
        out = lrpcore.predict(model, images[s:s + 1000], backend="numpy")
        correct += int((out.argmax(axis=1) == labels[s:s + 1000]).sum())
    stored = model.meta["accuracy"]
    assert stored["n"] == len(labels) == 10000
    assert round(correct / len(labels), 4) == stored["top1"]
    assert correct == stored["correct"]
    assert correct / len(labels) >= BUNDLED[name][0]


def test_a_regular_install_carries_the_bundled_models(tmp_path, monkeypatch):
    """'pip install .' (not -e) found no bundled model: models/ sat beside the package.
    lrpcore/models links to it and is package data, and the lookup falls back to it."""
    import tomllib

    from lrpcore import bundled

    root = Path(bundled.__file__).resolve().parents[1]
    assert (Path(bundled.__file__).parent / "models" / "mnist-lenet5.npz").is_file()
    data = tomllib.loads((root / "pyproject.toml").read_text())
    assert "models/*" in data["tool"]["setuptools"]["package-data"]["lrpcore"]
    site = tmp_path / "site-packages" / "lrpcore"  # an installed copy: no models/ beside it
    (site / "models").mkdir(parents=True)
    monkeypatch.delenv("LRP_MODELS_DIR", raising=False)
    monkeypatch.setattr(bundled, "__file__", str(site / "bundled.py"))
    assert bundled._models_dir() == site / "models"
