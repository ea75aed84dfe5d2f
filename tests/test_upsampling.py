"""Transposed convolutions and nearest resizing (lrpcore.graph_upsampling,
lrpcore.io.onnx_upsampling) compute what ONNX defines: every attribute combination here is
checked against onnx's own reference evaluator. The zoo fixtures ``decoder`` and
``transfirst`` (tests/test_zoo_reference.py) check the relevance against zennit."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore import ModelFormatError

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

RNG = np.random.default_rng(7)


def _model(tmp_path, node, inits, in_shape, opset=19):
    graph = helper.make_graph(
        [node, helper.make_node("Flatten", ["y"], ["out"], name="flat")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *in_shape])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", None])], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / "m.onnx"
    onnx.save(proto, path)
    return path, proto


def _agrees(tmp_path, node, inits, in_shape, opset=19, atol=1e-5):
    path, proto = _model(tmp_path, node, inits, in_shape, opset)
    x = RNG.uniform(-1, 1, size=(2, *in_shape)).astype(np.float32)
    expected = ReferenceEvaluator(proto).run(None, {"x": x})[0]
    got = lrpcore.Explainer(lrpcore.load_model(path), dtype="float64").forward(
        x.astype(np.float64), raw=True).outputs()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=atol)
    return lrpcore.load_model(path)


RESIZES = [  # (coordinate mode, nearest mode, in H×W, scales or sizes)
    ("asymmetric", "floor", (4, 5), {"scales": [1, 1, 2, 2]}),  # PyTorch's nn.Upsample
    ("asymmetric", "floor", (6, 6), {"sizes": [2, 3, 9, 9]}),  # F.interpolate(size=…)
    ("half_pixel", "round_prefer_floor", (4, 5), {"scales": [1, 1, 3, 2]}),  # ONNX defaults
    ("half_pixel", "round_prefer_ceil", (5, 4), {"sizes": [2, 3, 7, 10]}),
    ("pytorch_half_pixel", "floor", (4, 4), {"scales": [1, 1, 1.5, 2.5]}),
    ("align_corners", "round_prefer_floor", (4, 5), {"sizes": [2, 3, 9, 3]}),
    ("half_pixel", "ceil", (6, 4), {"scales": [1, 1, 0.5, 2]}),  # shrinking too
    ("half_pixel_symmetric", "round_prefer_floor", (4, 5), {"scales": [1, 1, 1.7, 2.3]}),
    ("align_corners", "floor", (4, 5), {"scales": [1, 1, 1.7, 0.2]}),
    ("pytorch_half_pixel", "round_prefer_ceil", (4, 5), {"scales": [1, 1, 0.25, 0.2]}),
    ("asymmetric", "round_prefer_ceil", (3, 3), {"sizes": [2, 3, 1, 8]}),
]


@pytest.mark.parametrize("coordinates,nearest,hw,given", RESIZES)
def test_nearest_resize_reads_the_pixels_onnx_defines(tmp_path, coordinates, nearest, hw,
                                                      given):
    if "scales" in given:
        inits = [numpy_helper.from_array(np.array(given["scales"], np.float32), "scales")]
        inputs = ["x", "", "scales"]
    else:
        inits = [numpy_helper.from_array(np.array(given["sizes"], np.int64), "sizes")]
        inputs = ["x", "", "", "sizes"]
    node = helper.make_node("Resize", inputs, ["y"], name="resize", mode="nearest",
                            coordinate_transformation_mode=coordinates, nearest_mode=nearest)
    _agrees(tmp_path, node, inits, (3, *hw))


def test_opset_10_resize_reads_as_upsample_floor_of_asymmetric(tmp_path):
    scales = numpy_helper.from_array(np.array([1, 1, 2, 3], np.float32), "scales")
    node = helper.make_node("Upsample", ["x", "scales"], ["y"], name="up", mode="nearest")
    upsample = _agrees(tmp_path, node, [scales], (2, 3, 4), opset=9)
    # (onnx's reference evaluator cannot run Resize-10; its specification is Upsample's)
    node = helper.make_node("Resize", ["x", "scales"], ["y"], name="up", mode="nearest")
    path, _ = _model(tmp_path, node, [scales], (2, 3, 4), opset=10)
    x = RNG.uniform(size=(2, 2, 3, 4))
    np.testing.assert_array_equal(lrpcore.explain(lrpcore.load_model(path), x, raw=True),
                                  lrpcore.explain(upsample, x, raw=True))


def test_each_input_pixel_gets_the_relevance_of_its_copies(tmp_path):
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], name="resize",
                            mode="nearest", coordinate_transformation_mode="asymmetric",
                            nearest_mode="floor")
    model = _agrees(tmp_path, node, [scales], (2, 3, 3))
    layer = next(n.layer for n in model.nodes if n.layer.kind == "NearestResize")
    R = RNG.uniform(size=(1, 6, 6, 2))
    back = layer.relevance_back(R, None, np)
    expected = R.reshape(1, 3, 2, 3, 2, 2).sum(axis=(2, 4))
    np.testing.assert_allclose(back, expected, rtol=1e-14)


def _conv_transpose(x, W, B, strides=(1, 1), pads=(0, 0, 0, 0), output_padding=(0, 0),
                    group=1):
    """ConvTranspose as ONNX defines it, written out: input pixel (i, j) of channel c adds
    W[c, o] to the output window at (i·s − pad, j·s − pad); no convolution involved."""
    N, C, H, Wd = x.shape
    _, n_g, kh, kw = W.shape
    (sh, sw), (top, left, bottom, right) = strides, pads
    Ho = sh * (H - 1) + output_padding[0] + kh - top - bottom
    Wo = sw * (Wd - 1) + output_padding[1] + kw - left - right
    full = np.zeros((N, n_g * group, sh * (H - 1) + kh + output_padding[0],
                     sw * (Wd - 1) + kw + output_padding[1]))
    for c in range(C):
        g = c // (C // group)
        for i in range(H):
            for j in range(Wd):
                full[:, g * n_g:(g + 1) * n_g, i * sh:i * sh + kh, j * sw:j * sw + kw] += \
                    x[:, c, i, j][:, None, None, None] * W[c][None]
    return full[:, :, top:top + Ho, left:left + Wo] + B[None, :, None, None]


CONV_TRANSPOSES = [  # (in C×H×W, filters C_in×(n/g)×k×k, attributes)
    ((4, 3, 3), (4, 2, 2, 2), {"strides": [2, 2]}),  # U-Net's up-convolution
    ((4, 3, 4), (4, 3, 4, 4), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ((4, 3, 3), (4, 2, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1],
                               "output_padding": [1, 1], "group": 2}),
    ((3, 4, 4), (3, 2, 3, 3), {"pads": [1, 1, 1, 1]}),  # stride 1
    ((3, 3, 4), (3, 2, 3, 2), {"strides": [3, 2], "pads": [0, 1, 2, 0]}),  # asymmetric
    ((6, 3, 3), (6, 1, 3, 3), {"strides": [2, 2], "group": 6}),  # depthwise
]


@pytest.mark.parametrize("in_shape,filters,attrs", CONV_TRANSPOSES)
def test_transposed_convolution_computes_what_onnx_defines(tmp_path, in_shape, filters, attrs):
    W = RNG.normal(size=filters)
    B = RNG.normal(size=filters[1] * attrs.get("group", 1))
    node = helper.make_node("ConvTranspose", ["x", "W", "B"], ["y"], name="up", **attrs)
    path, _ = _model(tmp_path, node, [numpy_helper.from_array(W.astype(np.float32), "W"),
                                      numpy_helper.from_array(B.astype(np.float32), "B")],
                     in_shape)
    model = lrpcore.load_model(path)
    x = RNG.uniform(-1, 1, size=(2, *in_shape))
    t, left, b, r = attrs.get("pads", [0, 0, 0, 0])
    expected = _conv_transpose(x, W.astype(np.float32).astype(np.float64),
                               B.astype(np.float32).astype(np.float64),
                               attrs.get("strides", (1, 1)), (t, left, b, r),
                               attrs.get("output_padding", (0, 0)), attrs.get("group", 1))
    got = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True).outputs()
    np.testing.assert_allclose(got, expected.reshape(2, -1), rtol=0, atol=1e-12)
    # a native file keeps it: the same layers, the same relevance
    lrpcore.save_model(model, tmp_path / "m.npz")
    again = lrpcore.load_model(tmp_path / "m.npz")
    for rule in ("EpsilonPlusFlat", "EpsilonGammaBox"):
        np.testing.assert_allclose(
            lrpcore.explain(again, x, rule=rule, raw=True, dtype="float64"),
            lrpcore.explain(model, x, rule=rule, raw=True, dtype="float64"), rtol=1e-12)


@pytest.mark.parametrize("attrs,pads", [
    # output_shape and SAME: the padding ONNX's formula gives, as explicit pads
    ({"output_shape": [7, 6]}, [1, 1, 0, 1]),  # full 8×8: cut 1 (start first), 2
    ({"auto_pad": "SAME_UPPER"}, [0, 0, 1, 1]),  # full 7×7, wanted 6×6: cut 1, end
    ({"auto_pad": "SAME_LOWER"}, [1, 1, 0, 0]),
])
def test_output_shape_and_same_cut_what_onnx_says(tmp_path, attrs, pads):
    W = numpy_helper.from_array(RNG.normal(size=(3, 2, 4 if "output_shape" in attrs else 3,
                                                 4 if "output_shape" in attrs else 3))
                                .astype(np.float32), "W")
    x = RNG.uniform(-1, 1, size=(2, 3, 3, 3))
    outputs = []
    for given in (attrs, {"pads": pads}):
        node = helper.make_node("ConvTranspose", ["x", "W"], ["y"], name="up", strides=[2, 2],
                                **given)
        path, _ = _model(tmp_path, node, [W], (3, 3, 3))
        outputs.append(lrpcore.explain(lrpcore.load_model(path), x, raw=True,
                                       dtype="float64"))
    np.testing.assert_array_equal(outputs[0], outputs[1])


@pytest.mark.parametrize("attrs,message", [
    ({"strides": [2, 2], "pads": [3, 0, 0, 0]}, "cut more than the 3×3 filters add"),
    ({"strides": [2, 2], "output_padding": [2, 0]}, "output_padding.*below the strides"),
    ({"strides": [2, 2], "output_shape": [9, 9]}, "output_shape.*larger than"),
    ({"group": 2}, "group 2 does not divide the 3 input channels"),
])
def test_transposed_convolutions_the_engine_cannot_build_are_refused(tmp_path, attrs, message):
    W = numpy_helper.from_array(np.ones((3, 2, 3, 3), np.float32), "W")
    node = helper.make_node("ConvTranspose", ["x", "W"], ["y"], name="up", **attrs)
    path, _ = _model(tmp_path, node, [W], (3, 3, 3))
    with pytest.raises(ModelFormatError, match=f"m.onnx.*'up'.*{message}"):
        lrpcore.load_model(path)


def test_their_gradients_are_the_adjoints_of_their_forward_maps():
    """Training and gradient baselines go back through them: ⟨f(x), g⟩ = ⟨x, f*(g)⟩."""
    from lrpcore.graph_upsampling import NearestResize, Spread

    x = RNG.normal(size=(2, 4, 5, 3))
    # rows: input row 2 copied nowhere, row 3 three times; columns: a shrinking
    for layer in (Spread((2, 3)), NearestResize([0, 0, 1, 3, 3, 3], [0, 2, 4], (4, 5))):
        y = layer.forward(x, np)
        g = RNG.normal(size=y.shape)
        back = layer.gradient(x, y, g, np, np.float64)
        assert back.shape == x.shape
        np.testing.assert_allclose(np.vdot(y, g), np.vdot(x, back), rtol=1e-12)


def test_a_native_resize_reading_out_of_order_is_refused():
    """Nearest resizing reads the input in order (every ONNX mode does); a file saying
    otherwise is not one this program wrote."""
    from lrpcore.errors import ShapeError
    from lrpcore.graph_upsampling import NearestResize

    with pytest.raises(ShapeError, match="cols must be 1…65536 indices, in order, into 5"):
        NearestResize([0, 1], [4, 0, 1], (4, 5))
