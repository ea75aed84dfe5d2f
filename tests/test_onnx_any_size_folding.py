"""Shape arithmetic of a model taking any input size, as tf2onnx writes a Keras U-Net built on
``Input((None, None, 3))`` (the padding after a valid Conv2DTranspose: Neg, Max, Min and a Split
of constants): evaluated at import for the size its sidecar gives. They were refused ("operator
Neg on constants only: it is not among the operators evaluated at import")."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lrpcore
from lrpcore.errors import ModelFormatError

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

RNG = np.random.default_rng(2)
W = RNG.normal(size=(2, 3, 1, 1)).astype(np.float32)


def _i64(v):
    return np.asarray(v, dtype=np.int64)


def _save(tmp_path, split=None):
    """Conv, then Pad to at least 6×8 (top and left one at most, the rest bottom and right),
    its pads computed from the map's shape."""
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"]),
             helper.make_node("Shape", ["c"], ["s"]),
             helper.make_node("Slice", ["s", "two", "four"], ["hw"]),
             helper.make_node("Sub", ["want", "hw"], ["diff"]),
             helper.make_node("Neg", ["diff"], ["neg"]),
             helper.make_node("Max", ["neg", "zero"], ["crop"]),  # what it would crop: none
             helper.make_node("Max", ["diff", "zero"], ["pad"]),
             helper.make_node("Min", ["pad", "one"], ["begin"]),
             helper.make_node("Sub", ["pad", "begin"], ["end"]),
             helper.make_node("Split", ["begin"] + (["sizes"] if split else []),
                              ["top", "left"], axis=0),
             helper.make_node("Concat", ["zeros", "top", "left", "crop", "end"], ["pads"], axis=0),
             helper.make_node("Pad", ["c", "pads"], ["y"])]
    consts = {"two": _i64([2]), "four": _i64([4]), "want": _i64([6, 8]), "zero": _i64([0]),
              "one": _i64([1]), "zeros": _i64([0, 0]), "sizes": _i64(split or [1, 1])}
    graph = helper.make_graph(
        nodes, "any_size",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2, "H2", "W2"])],
        [numpy_helper.from_array(v, k) for k, v in consts.items()]
        + [numpy_helper.from_array(W, "W")])
    path = tmp_path / "any.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)]), path)
    (tmp_path / "any.json").write_text(json.dumps({"input": {"shape": [3, 5, 6]}}))
    return path


@pytest.mark.parametrize("split", [None, [1, 1]])
def test_neg_max_min_and_split_of_constants_are_evaluated_at_import(tmp_path, split):
    model = lrpcore.load_model(_save(tmp_path, split))
    x = RNG.normal(size=(2, 3, 5, 6))
    fw = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True)
    c = np.einsum("nchw,kc->nkhw", x, W[:, :, 0, 0].astype(np.float64))
    want = np.pad(c, ((0, 0), (0, 0), (1, 0), (1, 1)))  # 5×6 to 6×8
    np.testing.assert_allclose(fw.outputs().transpose(0, 3, 1, 2), want, rtol=1e-6, atol=1e-6)


def test_a_split_of_constants_that_does_not_fit_is_refused(tmp_path):
    path = _save(tmp_path, split=[2, 1])
    with pytest.raises(ModelFormatError, match=r"Split of 2 values into \[2, 1\] does not fit"):
        lrpcore.load_model(path)
