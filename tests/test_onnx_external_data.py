"""ONNX weights kept in a file beside the model, as ``torch.onnx.export(..., dynamo=True)``
writes every model by default (``model.onnx`` + ``model.onnx.data``): read from the model's
own folder only, each tensor within that file and exactly its declared size (the zoo's
``flatmlp_extdata`` is checked against zennit in ``test_zoo_reference.py``)."""

import shutil
from pathlib import Path

import numpy as np
import pytest

import lrpcore

onnx = pytest.importorskip("onnx")

ZOO = Path(__file__).parent / "data" / "zoo"


def _copy(tmp_path):
    for name in ("flatmlp_extdata.onnx", "flatmlp_extdata.onnx.data"):
        shutil.copy(ZOO / name, tmp_path / name)
    return tmp_path / "flatmlp_extdata.onnx"


def _edit(path, key, value):
    """The model with the first initializer's external ``key`` set to ``value``."""
    proto = onnx.load(path, load_external_data=False)
    entry = next(e for e in proto.graph.initializer[0].external_data if e.key == key)
    entry.value = value
    onnx.save(proto, path)
    return path


def test_weights_beside_the_model_load_as_one_file_does():
    """Was refused ('external data is not supported'): every plain dynamo=True export."""
    one = lrpcore.load_model(ZOO / "flatmlp_dynamo.onnx")
    two = lrpcore.load_model(ZOO / "flatmlp_extdata.onnx")
    x = np.load(ZOO / "flatmlp.npz")["x"]
    np.testing.assert_array_equal(
        lrpcore.Explainer(two, dtype="float64").forward(x, raw=True).relevance("EpsilonPlus"),
        lrpcore.Explainer(one, dtype="float64").forward(x, raw=True).relevance("EpsilonPlus"))


@pytest.mark.parametrize("location, text", [
    ("../flatmlp_extdata.onnx.data", "only a file in the model's own folder"),
    ("/etc/passwd", "only a file in the model's own folder"),
    ("missing.data", "cannot read"),
    ("a\x00b", "only a file in the model's own folder"),  # was an internal ValueError
    (".", "is a folder"),
])
def test_a_data_file_outside_the_folder_or_missing_is_refused(tmp_path, location, text):
    path = _edit(_copy(tmp_path), "location", location)
    with pytest.raises(lrpcore.ModelFormatError, match=text) as info:
        lrpcore.load_model(path)
    assert "\n" not in str(info.value)


def test_a_link_leading_out_of_the_folder_is_refused(tmp_path):
    inside = tmp_path / "model"
    inside.mkdir()
    path = _copy(inside)
    (inside / "flatmlp_extdata.onnx.data").rename(tmp_path / "elsewhere.data")
    (inside / "flatmlp_extdata.onnx.data").symlink_to(tmp_path / "elsewhere.data")
    with pytest.raises(lrpcore.ModelFormatError, match="leads out of the model's folder"):
        lrpcore.load_model(path)


@pytest.mark.parametrize("key, value", [("length", "8"), ("offset", "4100"),
                                        ("offset", "-4"), ("length", "many")])
def test_a_tensor_that_does_not_fit_its_data_file_is_refused(tmp_path, key, value):
    path = _edit(_copy(tmp_path), key, value)
    with pytest.raises(lrpcore.ModelFormatError, match="net.1.weight") as info:
        lrpcore.load_model(path)
    assert "\n" not in str(info.value)


def test_a_negative_dimension_is_refused_before_reading(tmp_path):
    """dims [-1] with length -4 passed the size checks and read(-4) raised an internal
    ValueError."""
    path = _edit(_copy(tmp_path), "length", "-4")
    proto = onnx.load(path, load_external_data=False)
    del proto.graph.initializer[0].dims[:]
    proto.graph.initializer[0].dims.extend([-1])
    onnx.save(proto, path)
    with pytest.raises(lrpcore.ModelFormatError, match="negative dimension"):
        lrpcore.load_model(path)
