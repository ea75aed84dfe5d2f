"""Rows or columns repeated by Unsqueeze, Tile and Reshape (tf.repeat: Keras's nearest
UpSampling2D as tf2onnx writes it, see tests/data/zoo/keras_seg_tf2onnx.onnx) load as a
nearest resize: the same outputs and relevance as ONNX Resize of mode nearest; anything else
done to the tensors between is refused in one line."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore.errors import ModelFormatError
from lrpcore.graph_upsampling import NearestResize

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

RNG = np.random.default_rng(5)
W = RNG.normal(size=(2, 3, 1, 1)).astype(np.float32)
B = RNG.normal(size=2).astype(np.float32)


def _save(path, nodes, consts, out_shape, opset=15):
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()]
    inits += [numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")]
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "W", "B"], ["c"])] + nodes, "repeat",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)
    return path


def _tf2onnx_upsampling(path, last="y"):
    """Rows ×2 then columns ×3 as tf2onnx writes UpSampling2D((2, 3)) of an NCHW map: the
    first repeat transposed to N×H×W×C on its way, the second on N×H×W×C, back to NCHW."""
    i64 = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
    nodes = [helper.make_node("Unsqueeze", ["c", "at3"], ["u1"]),
             helper.make_node("Tile", ["u1", "reps1"], ["t1"]),
             helper.make_node("Transpose", ["t1"], ["p1"], perm=[0, 2, 3, 4, 1]),
             helper.make_node("Shape", ["c"], ["shape"]),  # N, C, H, W: shape arithmetic
             helper.make_node("Gather", ["shape", "nhwc"], ["nhwc_shape"], axis=0),
             helper.make_node("Slice", ["nhwc_shape", "zero", "one"], ["n"]),
             helper.make_node("Slice", ["nhwc_shape", "two", "big"], ["wc"]),
             helper.make_node("Concat", ["n", "eight", "wc"], ["to1"], axis=0),
             helper.make_node("Reshape", ["p1", "to1"], ["r1"]),
             helper.make_node("Unsqueeze", ["r1", "at3"], ["u2"]),
             helper.make_node("Tile", ["u2", "reps2"], ["t2"]),
             helper.make_node("Reshape", ["t2", "to2"], ["r2"]),
             helper.make_node("Transpose", ["r2"], [last], perm=[0, 3, 1, 2])]
    consts = {"at3": i64([3]), "reps1": i64([1, 1, 1, 2, 1]), "reps2": i64([1, 1, 1, 3, 1]),
              "nhwc": i64([0, 2, 3, 1]), "zero": i64([0]), "one": i64([1]), "two": i64([2]),
              "big": i64([1 << 40]), "eight": i64([8]), "to2": i64([0, 8, 15, 2])}
    return nodes, consts


def _resize(path, scales, out_shape):
    nodes = [helper.make_node("Resize", ["c", "", "scales"], ["y"], mode="nearest")]
    return _save(path, nodes, {"scales": np.asarray(scales, dtype=np.float32)}, out_shape)


def _same_as_resize(repeated, resized):
    x = RNG.normal(size=(2, 3, 4, 5))
    fw, ref = (lrpcore.Explainer(lrpcore.load_model(p), dtype="float64").forward(x, raw=True)
               for p in (repeated, resized))
    y = fw.outputs()
    conv = np.einsum("nchw,kc->nhwk", x, W[:, :, 0, 0].astype(np.float64)) + B
    np.testing.assert_allclose(y, ref.outputs(), rtol=0, atol=1e-12)
    for rule in ("EpsilonPlus", "epsilon:0.01"):
        np.testing.assert_allclose(fw.relevance(rule, "output"),
                                   ref.relevance(rule, "output"), rtol=1e-12, atol=1e-14)
    return y, conv


def test_tf2onnx_nearest_upsampling_is_a_nearest_resize(tmp_path):
    nodes, consts = _tf2onnx_upsampling(tmp_path)
    repeated = _save(tmp_path / "repeat.onnx", nodes, consts, ["N", 2, 8, 15])
    model = lrpcore.load_model(repeated)
    resizes = [n.layer for n in model.nodes if isinstance(n.layer, NearestResize)]
    assert [(list(r.rows), list(r.cols)) for r in resizes] == [
        (np.repeat(np.arange(4), 2).tolist(), list(range(5))),
        (list(range(8)), np.repeat(np.arange(5), 3).tolist())]
    y, conv = _same_as_resize(repeated, _resize(tmp_path / "resize.onnx", [1, 1, 2, 3],
                                                ["N", 2, 8, 15]))
    np.testing.assert_allclose(y, np.repeat(np.repeat(conv, 2, axis=1), 3, axis=2),
                               rtol=1e-6, atol=1e-6)


def test_a_repeat_along_a_new_last_axis_is_one_of_columns(tmp_path):
    """tf.repeat along an NCHW map's width unsqueezes after its last axis, which reads as
    torch.stack's start until the Tile."""
    i64 = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
    nodes = [helper.make_node("Unsqueeze", ["c", "last"], ["u"]),
             helper.make_node("Tile", ["u", "reps"], ["t"]),
             helper.make_node("Reshape", ["t", "to"], ["y"])]
    repeated = _save(tmp_path / "repeat.onnx", nodes, {
        "last": i64([-1]), "reps": i64([1, 1, 1, 1, 3]), "to": i64([-1, 2, 4, 15])},
        ["N", 2, 4, 15])
    y, conv = _same_as_resize(repeated, _resize(tmp_path / "resize.onnx", [1, 1, 1, 3],
                                                ["N", 2, 4, 15]))
    np.testing.assert_allclose(y, np.repeat(conv, 3, axis=2), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("change, problem", [
    ({"reps1": [1, 2, 1, 2, 1]}, "Tile of a [2, 4, 1, 5] tensor by [1, 2, 1, 2, 1]: only along "
                                 "the axis of size 1 that an Unsqueeze added"),
    ({"to2": [0, 8, 5, 6]}, "Reshape of a repeat's [8, 5, 3, 2] tensor to [0, 8, 5, 6]: only "
                            "merging the copies into the height or width before them"),
    ({"relu": True}, "Relu of the [2, 4, 2, 5] tensor made by an Unsqueeze of a [2, 4, 5] map "
                     "is not supported"),
    ({"output": True}, "the graph output 't2' is a map with a new axis of copies"),
])
def test_anything_else_between_the_unsqueeze_and_the_reshape_is_refused(tmp_path, change,
                                                                        problem):
    nodes, consts = _tf2onnx_upsampling(tmp_path)
    for key in ("reps1", "to2"):
        if key in change:
            consts[key] = np.asarray(change[key], dtype=np.int64)
    shape = ["N", 2, 8, 15]
    if "relu" in change:  # a Relu of the tiled tensor before the Transpose
        nodes[1:3] = [nodes[1], helper.make_node("Relu", ["t1"], ["t1r"]),
                      helper.make_node("Transpose", ["t1r"], ["p1"], perm=[0, 2, 3, 4, 1])]
    if "output" in change:  # the second Tile's 5-D tensor is the output
        nodes = [n for n in nodes if n.output[0] not in ("r2", "y")]
        nodes[-1].output[0] = "y"
        nodes[-1].ClearField("output")
        nodes[-1].output.extend(["t2"])
        graph_out = "t2"
        shape = ["N", 8, 5, 3, 2]
    path = _save(tmp_path / "bad.onnx", nodes, consts, shape)
    if "output" in change:
        proto = onnx.load(path)
        proto.graph.output[0].name = graph_out
        onnx.save(proto, path)
    with pytest.raises(ModelFormatError) as err:
        lrpcore.load_model(path)
    text = " ".join(str(err.value).split())
    assert str(path) in text and problem in text, text


def test_tile_of_a_map_without_an_unsqueeze_is_refused(tmp_path):
    path = _save(tmp_path / "tile.onnx", [helper.make_node("Tile", ["c", "reps"], ["y"])],
                 {"reps": np.asarray([1, 1, 2, 1], dtype=np.int64)}, ["N", 2, 8, 5])
    with pytest.raises(ModelFormatError, match="Tile of data is supported only along an axis "
                                               "an Unsqueeze added"):
        lrpcore.load_model(path)
