"""Pad, Slice, Concat and Softmax of a map transposed to N×H×W×C (tf2onnx leaves Keras's
ZeroPadding2D, Cropping2D, Concatenate and a final softmax there after a nearest UpSampling2D, see
tests/data/zoo/keras_seg_tf2onnx.onnx): read on the N×H×W×C axes they name, as the
channels-last map the engine stores; they were refused ("only the height and width of an
N×C×H×W tensor", "Transpose [0, 3, 1, 2] of data is supported only between NHWC and NCHW")."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore.errors import ModelFormatError

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

RNG = np.random.default_rng(1)
W = RNG.normal(size=(4, 3, 1, 1)).astype(np.float32)
X = RNG.normal(size=(2, 3, 5, 6))
C = np.einsum("nchw,kc->nkhw", X, W[:, :, 0, 0].astype(np.float64))  # the map, N×C×H×W


def _i64(v):
    return np.asarray(v, dtype=np.int64)


def _save(path, node, consts, out_shape, opset=15):
    """Conv, Transpose to N×H×W×C, ``node`` reading ``t`` and writing ``u``, Transpose back."""
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()]
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "W"], ["c"]),
         helper.make_node("Transpose", ["c"], ["t"], perm=[0, 2, 3, 1]), node,
         helper.make_node("Transpose", ["u"], ["y"], perm=[0, 3, 1, 2])], "nhwc",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 5, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        inits + [numpy_helper.from_array(W, "W")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)
    return path


CASES = {
    "channels": (helper.make_node("Slice", ["t", "s", "e", "a"], ["u"]),
                 {"s": _i64([1]), "e": _i64([3]), "a": _i64([3])}, C[:, 1:3]),
    "rows": (helper.make_node("Slice", ["t", "s", "e", "a"], ["u"]),
             {"s": _i64([1]), "e": _i64([-1]), "a": _i64([-3])}, C[:, :, 1:4]),
    "pad": (helper.make_node("Pad", ["t", "p"], ["u"]), {"p": _i64([0, 1, 2, 0, 0, 0, 1, 0])},
            np.pad(C, ((0, 0), (0, 0), (1, 0), (2, 1)))),
    "concat": (helper.make_node("Concat", ["t", "t"], ["u"], axis=-1), {},
               np.concatenate([C, C], 1)),
    "softmax": (helper.make_node("Softmax", ["t"], ["u"], axis=3), {},  # Keras's per pixel
                np.exp(C) / np.exp(C).sum(1, keepdims=True)),
    "log_softmax": (helper.make_node("LogSoftmax", ["t"], ["u"]), {},
                    C - np.log(np.exp(C).sum(1, keepdims=True))),
}


@pytest.mark.parametrize("case", CASES)
def test_an_nhwc_maps_own_axes_are_padded_sliced_and_concatenated(tmp_path, case):
    node, consts, want = CASES[case]
    model = lrpcore.load_model(_save(tmp_path / f"{case}.onnx", node, consts,
                                     ["N", *want.shape[1:]]))
    fw = lrpcore.Explainer(model, dtype="float64").forward(X, raw=True)
    np.testing.assert_allclose(fw.outputs().transpose(0, 3, 1, 2), want, rtol=1e-6, atol=1e-6)
    R = fw.relevance("epsilon:0.01", "output")  # the gradient at each: back onto X's pixels
    assert R.shape == X.shape and np.abs(R).max() > 0


@pytest.mark.parametrize("node, consts, problem", [
    (helper.make_node("Concat", ["t", "t"], ["u"], axis=1), {},
     "Concat along axis 1 of N×H×W×C maps: only of such maps along their channels (axis 3)"),
    (helper.make_node("Pad", ["t", "p"], ["u"]), {"p": _i64([0, 0, 0, 1, 0, 0, 0, 0])},
     "pads [0, 0, 0, 1, 0, 0, 0, 0]: only the height and width of an N×H×W×C map"),
    (helper.make_node("Slice", ["t", "s", "e", "a"], ["u"]),
     {"s": _i64([0]), "e": _i64([2]), "a": _i64([5])},
     "Slice's axis 5 is not an axis of its 4-dimensional input (-4 … 3"),
    (helper.make_node("Softmax", ["t"], ["u"], axis=1), {},
     "Softmax along axis 1 of a tensor of shape [5, 6, 4] is not supported; only over the "
     "features of a flat tensor (N×classes) or, from opset 13, the channels of a map"),
])
def test_other_uses_of_an_nhwc_map_are_refused_naming_its_axes(tmp_path, node, consts, problem):
    path = _save(tmp_path / "bad.onnx", node, consts, ["N", 8, 5, 6])
    with pytest.raises(ModelFormatError) as err:
        lrpcore.load_model(path)
    assert str(path) in str(err.value) and problem in str(err.value)


def test_a_softmax_over_a_maps_channels_before_opset_13_is_refused(tmp_path):
    """Before opset 13, Softmax's axis 1 of N×C×H×W is over C×H×W at once, not per pixel."""
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "W"], ["c"]), helper.make_node("Softmax", ["c"], ["y"])],
        "old", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 5, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 5, 6])],
        [numpy_helper.from_array(W, "W")])
    path = tmp_path / "old.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)]), path)
    with pytest.raises(ModelFormatError, match="Softmax along axis 1 of a tensor of shape "
                                               r"\[4, 5, 6\] is not supported"):
        lrpcore.load_model(path)
