"""Mul, Div, Add and Sub of data and a constant (Keras's BatchNormalization and Rescaling as
tf2onnx writes them): folded into the layer before, else an Affine that relevance passes;
an N×H×W×C input rescaled before its Transpose keeps its layout; zB's bounds follow the
input range through such Affines to the first convolution."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import lrpcore
from lrpcore import ModelFormatError

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

RNG = np.random.default_rng(5)


def _save(path, nodes, inits, in_shape, out_shape):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in inits.items()])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(proto, path)
    return proto


def _keras_like(path, rescale):
    """N×H×W×C input, (Rescaling), Transpose to NCHW, Conv, ReLU, pooling, Gemm (the same
    weights every time)."""
    rng = np.random.default_rng(7)
    inits = {"W": rng.normal(size=(4, 3, 3, 3)), "B": rng.normal(size=4) * 0.1,
             "G": rng.normal(size=(2, 4)), "s": 1 / 256, "o": -0.5}  # exact in float32
    nodes = [helper.make_node("Transpose", ["r"], ["t"], perm=[0, 3, 1, 2], name="nchw"),
             helper.make_node("Conv", ["t", "W", "B"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["a"], name="relu"),
             helper.make_node("GlobalAveragePool", ["a"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "G"], ["y"], transB=1, name="fc")]
    if rescale:
        nodes = [helper.make_node("Mul", ["x", "s"], ["m"], name="rescale"),
                 helper.make_node("Add", ["m", "o"], ["r"], name="offset")] + nodes
    else:
        nodes[0].input[0] = "x"
    return _save(path, nodes, inits, ["N", 5, 5, 3], ["N", 2])


def test_a_rescaled_nhwc_input_keeps_its_layout_and_computes_as_onnx(tmp_path):
    proto = _keras_like(tmp_path / "k.onnx", True)
    model = lrpcore.load_model(tmp_path / "k.onnx")
    assert model.input_spec.layout == "NHWC"
    assert [n.layer.kind for n in model.nodes][0] == "Affine"  # Mul and Add: one node
    x = RNG.uniform(0, 255, size=(2, 5, 5, 3)).astype(np.float32)
    want = ReferenceEvaluator(proto).run(None, {"x": x})[0]
    np.testing.assert_allclose(model.forward(x.astype(np.float64)), want, rtol=1e-5,
                               atol=1e-6)


def test_zb_bounds_are_the_input_range_also_through_a_rescaling(tmp_path):
    """zennit's EpsilonGammaBox(low, high) takes the input's range at the first convolution as
    given, through a Rescaling inside the model: the engine's default bounds are the input's
    [0, 256], and the rescaled model with the bounds the convolution sees, named in a
    per-layer rule, equals the model without Rescaling explained from the rescaled pixels
    (the Affine passes relevance)."""
    _keras_like(tmp_path / "with.onnx", True)
    _keras_like(tmp_path / "without.onnx", False)
    inside = lrpcore.load_model(tmp_path / "with.onnx")
    outside = lrpcore.load_model(tmp_path / "without.onnx")
    inside.input_spec = replace(inside.input_spec, divide=1.0, raw_range=(0.0, 256.0),
                                value_range=(0.0, 256.0))
    outside.input_spec = replace(outside.input_spec, divide=1.0, raw_range=(-0.5, 0.5),
                                 value_range=(-0.5, 0.5))
    x = RNG.uniform(0, 256, size=(2, 5, 5, 3))
    fw = lrpcore.Explainer(inside, dtype="float64").forward(x, raw=True)
    assert tuple(map(float, fw.explainer.input_range)) == (0.0, 256.0)
    conv = next(n.name for n in inside.nodes if n.layer.kind == "Convolution")
    R_in = fw.relevance("EpsilonGammaBox", layer_rules={conv: "zb:-0.5:0.5"})
    R_out = lrpcore.Explainer(outside, dtype="float64").forward(x / 256 - 0.5, raw=True) \
        .relevance("EpsilonGammaBox")
    np.testing.assert_allclose(R_in, R_out, rtol=1e-9, atol=1e-12 * np.abs(R_out).max())
    assert not np.allclose(fw.relevance("EpsilonGammaBox"), R_out)


def test_per_channel_scale_of_an_nchw_input_and_a_misshapen_constant(tmp_path):
    inits = {"k": RNG.uniform(0.5, 2, size=(3, 1, 1)), "W": RNG.normal(size=(2, 3, 1, 1))}
    nodes = [helper.make_node("Div", ["x", "k"], ["d"], name="normalise"),
             helper.make_node("Conv", ["d", "W"], ["c"], name="conv"),
             helper.make_node("GlobalAveragePool", ["c"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["y"], name="flat")]
    proto = _save(tmp_path / "p.onnx", nodes, inits, ["N", 3, 4, 4], ["N", 2])
    model = lrpcore.load_model(tmp_path / "p.onnx")
    assert model.input_spec.layout == "NCHW"
    x = RNG.normal(size=(2, 3, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(model.forward(x.astype(np.float64)),
                               ReferenceEvaluator(proto).run(None, {"x": x})[0], rtol=1e-5)
    # a constant of shape (4,) on the N×2×4×4 convolution output broadcasts along the width
    nodes.insert(2, helper.make_node("Mul", ["c", "w"], ["cw"], name="widthwise"))
    nodes[3].input[0] = "cw"
    _save(tmp_path / "bad.onnx", nodes, {**inits, "w": np.ones(4)}, ["N", 3, 4, 4], ["N", 2])
    with pytest.raises(ModelFormatError, match=r"widthwise.*neither one value nor one per "
                                               r"channel \(2×1×1\)"):
        lrpcore.load_model(tmp_path / "bad.onnx")
