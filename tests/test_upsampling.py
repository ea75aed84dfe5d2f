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
    ("align_corners", "floor", (4, 6), {"scales": [1, 1, 1.75, 0.5]}),
    ("pytorch_half_pixel", "round_prefer_ceil", (4, 8), {"scales": [1, 1, 0.25, 0.125]}),
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


def _resize(tmp_path, hw, scales=None, sizes=None, opset=19, **attrs):
    """A Resize of a 3×H×W map, loaded, and its layer."""
    if sizes is None:
        inits, inputs = [numpy_helper.from_array(np.float32(scales), "scales")], ["x", "", "scales"]
    else:
        inits, inputs = [numpy_helper.from_array(np.int64(sizes), "sizes")], ["x", "", "", "sizes"]
    node = helper.make_node("Resize", inputs, ["y"], name="resize", **attrs)
    path, proto = _model(tmp_path, node, inits, (3, *hw), opset)
    model = lrpcore.load_model(path)
    return model, next(n.layer for n in model.nodes if "Resize" in n.layer.kind), proto


def test_align_corners_and_pytorch_half_pixel_read_the_output_length(tmp_path):
    """ONNX's text (and onnxruntime, and PyTorch's align_corners=True) map output position i
    to i·(in − 1)/(out − 1) with ``out`` the output's length, and pytorch_half_pixel to 0 for
    an output of length 1; onnx's reference evaluator uses in·scale before rounding down
    instead, which differs for fractional scales (4 rows × 1.7: 6 rows, i·3/5.8 instead of
    i·3/5; 5 columns × float32 0.2 = 1.0000000149: column 2 instead of 0)."""
    _, layer, _ = _resize(tmp_path, (4, 5), [1, 1, 1.7, 1], mode="nearest",
                          coordinate_transformation_mode="align_corners", nearest_mode="floor")
    np.testing.assert_array_equal(layer.rows, np.floor(np.arange(6) * 3 / 5))
    _, layer, _ = _resize(tmp_path, (4, 5), [1, 1, 1, 0.2], mode="nearest",
                          coordinate_transformation_mode="pytorch_half_pixel")
    np.testing.assert_array_equal(layer.cols, [0])
    model, _, _ = _resize(tmp_path, (4, 5), [1, 1, 1.7, 1], mode="linear",
                          coordinate_transformation_mode="align_corners")
    x = RNG.uniform(size=(1, 3, 4, 5))
    y = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True).outputs()
    at = np.arange(6) * 3 / 5  # bilinear along the rows only
    low = np.floor(at).astype(int)
    high = np.minimum(low + 1, 3)
    want = x[:, :, low] * (1 - at + low)[:, None] + x[:, :, high] * (at - low)[:, None]
    np.testing.assert_allclose(y, want.reshape(1, -1), rtol=1e-13)


INTERPOLATIONS = [  # (in H×W, scales or sizes, attributes): onnx's reference evaluator agrees
    ((4, 5), {"scales": [1, 1, 2, 2]}, {"mode": "linear"}),  # ONNX's default half_pixel
    ((4, 5), {"scales": [1, 1, 2, 2]},
     {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"}),
    ((6, 6), {"sizes": [2, 3, 9, 4]},
     {"mode": "linear", "coordinate_transformation_mode": "align_corners"}),
    ((8, 7), {"scales": [1, 1, 0.5, 3]},
     {"mode": "linear", "coordinate_transformation_mode": "asymmetric", "antialias": 1}),
    ((5, 9), {"sizes": [2, 3, 2, 3]}, {"mode": "linear", "antialias": 1,
                                       "exclude_outside": 1}),
    ((4, 5), {"scales": [1, 1, 2, 2]}, {"mode": "cubic"}),
    ((6, 6), {"sizes": [2, 3, 9, 4]},
     {"mode": "cubic", "coordinate_transformation_mode": "half_pixel_symmetric",
      "exclude_outside": 1}),
    ((8, 7), {"scales": [1, 1, 0.5, 3]},
     {"mode": "cubic", "coordinate_transformation_mode": "align_corners", "antialias": 1}),
    ((5, 9), {"sizes": [2, 3, 2, 3]},
     {"mode": "cubic", "antialias": 1, "exclude_outside": 1, "cubic_coeff_a": -0.5}),
]


@pytest.mark.parametrize("hw,given,attrs", INTERPOLATIONS)
def test_bilinear_and_bicubic_resizing_compute_what_onnx_defines(tmp_path, hw, given, attrs):
    """Every coordinate mode, exclude_outside, cubic_coeff_a and opset 18's antialias (each
    kernel widened by 1/scale when shrinking), in float64 (the evaluator's cubic weights are
    float32: ~1e-7)."""
    _, layer, proto = _resize(tmp_path, hw, **given, **attrs)
    x = RNG.uniform(-1, 1, size=(2, 3, *hw))
    want = ReferenceEvaluator(proto).run(None, {"x": x})[0]
    model = lrpcore.load_model(tmp_path / "m.onnx")
    got = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True).outputs()
    tolerance = 1e-12 if attrs["mode"] == "linear" else 2e-6
    np.testing.assert_allclose(got, want, rtol=0, atol=tolerance)
    assert layer.kind == "InterpolatingResize"


@pytest.mark.parametrize("attrs", [{"mode": "linear"}, {"mode": "cubic", "antialias": 1}])
def test_interpolated_relevance_goes_back_through_the_weights_and_is_conserved(tmp_path,
                                                                               attrs):
    """Relevance at the input is the transposed map of what each pixel was mixed into (the
    gradient, as zennit's autograd passes it), and every output row's weights sum to 1, so
    each sample's relevance is conserved."""
    _, layer, _ = _resize(tmp_path, (5, 6), [1, 1, 1.6, 0.5], **attrs)
    R = RNG.normal(size=(2, 8, 3, 3))
    back = layer.relevance_back(R, None, np)
    dense = []  # each axis's map as a matrix, output × input
    for axis, (n_in, n_out) in enumerate(((5, 8), (6, 3))):
        index, weight = layer.taps(axis)
        matrix = np.zeros((n_out, n_in))
        np.add.at(matrix, (np.arange(n_out)[:, None], index), weight)
        dense.append(matrix)
    want = np.einsum("oh,pw,nopc->nhwc", dense[0], dense[1], R)
    np.testing.assert_allclose(back, want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(back.sum(axis=(1, 2, 3)), R.sum(axis=(1, 2, 3)), rtol=1e-12)


def test_resizes_the_engine_cannot_read_are_refused(tmp_path):
    cases = [({"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize"},
              19, "tf_crop_and_resize"),
             ({"mode": "nearest", "coordinate_transformation_mode": "tf_half_pixel_for_nn"},
              13, "opsets 11 and 12 only"),
             ({"mode": "linear", "antialias": 2}, 19,
              "attribute 'antialias' is 2; Resize takes 0 or 1"),
             ({"mode": "area"}, 19, "mode 'area' is not supported")]
    for attrs, opset, message in cases:
        with pytest.raises(ModelFormatError, match=f"m.onnx.*'resize'.*{message}"):
            _resize(tmp_path, (4, 4), [1, 1, 2, 2], opset=opset, **attrs)


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
    from lrpcore.graph_upsampling import InterpolatingResize, NearestResize, Spread

    x = RNG.normal(size=(2, 4, 5, 3))
    # rows: input row 2 copied nowhere, row 3 three times; columns: a shrinking
    for layer in (Spread((2, 3)), NearestResize([0, 0, 1, 3, 3, 3], [0, 2, 4], (4, 5)),
                  InterpolatingResize((4, 5), (7, 2), (1.75, 0.4), "cubic", antialias=True),
                  InterpolatingResize((4, 5), (9, 12), (2.25, 2.4), exclude_outside=True)):
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


def test_upsample_and_resize_10_read_linear_as_asymmetric(tmp_path):
    """ONNX's Upsample (opsets 7–9) and Resize-10 have no coordinate attribute: linear
    resizing there is asymmetric, as onnxruntime reads it; cubic is no mode of theirs."""
    scales = numpy_helper.from_array(np.float32([1, 1, 2, 1.5]), "scales")
    node = helper.make_node("Upsample", ["x", "scales"], ["y"], name="up", mode="linear")
    path, _ = _model(tmp_path, node, [scales], (3, 3, 4), opset=9)
    legacy = lrpcore.load_model(path)
    modern, _, _ = _resize(tmp_path, (3, 4), [1, 1, 2, 1.5], mode="linear",
                           coordinate_transformation_mode="asymmetric")
    x = RNG.uniform(size=(2, 3, 3, 4))
    np.testing.assert_allclose(lrpcore.explain(legacy, x, raw=True),
                               lrpcore.explain(modern, x, raw=True), rtol=1e-12)
    node = helper.make_node("Upsample", ["x", "scales"], ["y"], name="up", mode="cubic")
    path, _ = _model(tmp_path, node, [scales], (2, 3, 4), opset=9)
    with pytest.raises(ModelFormatError, match="m.onnx.*'up'.*mode 'cubic' is not supported"):
        lrpcore.load_model(path)


@pytest.mark.parametrize("key,value,message", [
    ("mode", "area", "'mode'"), ("coordinates", 7, "'coordinates'"),
    ("scales", [0, 2], "'scales'"), ("scales", [1e-300, 2], "scales must be two numbers"),
    ("out_hw", [65537, 6], "sides must be"), ("cubic_a", "x", "cubic_a"),
    ("antialias", 2, "'antialias'"), ("in_hw", [3], "'in_hw'")])
def test_a_damaged_native_interpolating_resize_is_refused_by_name(tmp_path, key, value,
                                                                  message):
    """Every field is checked on reading, a scale of 1e-300 included (its antialiasing filter
    would span 10³⁰⁰ taps)."""
    import json

    model, _, _ = _resize(tmp_path, (3, 3), [1, 1, 2, 2], mode="linear", antialias=1)
    native = tmp_path / "m.npz"
    lrpcore.save_model(model, native)
    arrays = dict(np.load(native))
    header = json.loads(str(arrays["header"]))
    entry = next(i for i, layer in enumerate(header["layers"])
                 if layer["type"] == "InterpolatingResize")
    header["layers"][entry][key] = value
    arrays["header"] = np.array(json.dumps(header))
    np.savez(native, **arrays)
    with pytest.raises(ModelFormatError, match=f"m.npz: header layer {entry}.*{message}"):
        lrpcore.load_model(native)


@pytest.mark.parametrize("mode,given", [("nearest", {"scales": [1, 1, 2.5]}),
                                        ("linear", {"sizes": [2, 3, 11]}),
                                        ("cubic", {"scales": [1, 1, 0.5]})])
def test_a_sequence_is_resized_along_its_length(tmp_path, mode, given):
    """``F.interpolate`` of Conv1d features (N×C×L, three scales or sizes): was refused."""
    if "scales" in given:
        inits, inputs = [numpy_helper.from_array(np.float32(given["scales"]), "scales")], \
            ["x", "", "scales"]
    else:
        inits, inputs = [numpy_helper.from_array(np.int64(given["sizes"]), "sizes")], \
            ["x", "", "", "sizes"]
    node = helper.make_node("Resize", inputs, ["y"], name="resize", mode=mode)
    path, proto = _model(tmp_path, node, inits, (3, 8))
    x = RNG.uniform(-1, 1, size=(2, 3, 8))
    want = ReferenceEvaluator(proto).run(None, {"x": x})[0]
    got = lrpcore.Explainer(lrpcore.load_model(path), dtype="float64").forward(
        x, raw=True).outputs()
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)


def test_large_axes_gather_their_taps_and_agree_with_the_matrix_product(monkeypatch):
    """An axis whose matrix would be large is resized by gathering its taps; both paths
    compute the same map and the same transposed map."""
    import lrpcore.graph_upsampling as upsampling

    args = ((5, 7), (9, 4), (1.8, 0.6), "cubic", "half_pixel", -0.5, True, True)
    x, R = RNG.normal(size=(2, 5, 7, 3)), RNG.normal(size=(2, 9, 4, 3))
    dense = upsampling.InterpolatingResize(*args)
    monkeypatch.setattr(upsampling, "DENSE_TAPS", 0)
    gathered = upsampling.InterpolatingResize(*args)
    np.testing.assert_allclose(gathered.forward(x, np), dense.forward(x, np), rtol=1e-13)
    np.testing.assert_allclose(gathered.relevance_back(R, None, np),
                               dense.relevance_back(R, None, np), rtol=1e-13)


# Where onnx's reference evaluator (float64) and onnxruntime (float32) part, the pixels read
# are onnxruntime 1.32's, measured on these very graphs: the runtime users check a model with,
# and what PyTorch computes (in float32 too).
RUNTIME_READS = [  # (opset, attributes, in H×W, scales, rows read, columns read)
    # Resize-10: ONNX leaves nearest's rounding open; the runtime reads up when shrinking
    (10, {}, (7, 9), (0.6, 0.75), [0, 2, 4, 5], [0, 2, 3, 4, 6, 7]),
    # … in float32: 7 / 0.7 is 10 there, just over it in float64 (read up to 11)
    (10, {}, (5, 13), (1.5, 0.7), [0, 0, 1, 2, 2, 3, 4], [0, 2, 3, 5, 6, 8, 9, 10, 12]),
    # PyTorch's own export form: 3 / 0.6 is 5 in float32 (4.9999998 in float64: row 4)
    (13, {"coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}, (7, 9),
     (0.6, 0.75), [0, 1, 3, 5], [0, 1, 2, 4, 5, 6]),
    (18, {"coordinate_transformation_mode": "half_pixel", "nearest_mode": "floor"}, (7, 9),
     (0.6, 0.75), [0, 2, 3, 5], [0, 1, 2, 4, 5, 6]),
    # 10 × 1.3 (a float32 just under 1.3) is 13 rows in float32, as PyTorch makes them (12
    # from the exact product); 10 × 2.6 is 26
    (13, {"coordinate_transformation_mode": "pytorch_half_pixel"}, (10, 10), (1.3, 2.6),
     [0, 1, 1, 2, 3, 4, 4, 5, 6, 7, 8, 8, 9],
     [0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 7, 7, 7, 8, 8, 9, 9, 9]),
]


@pytest.mark.parametrize("opset,attrs,hw,scales,rows,cols", RUNTIME_READS)
def test_nearest_resize_reads_what_the_runtime_reads(tmp_path, opset, attrs, hw, scales, rows,
                                                     cols):
    """Resize-10 read down where it shrank (the runtime reads up), and coordinates and output
    sides computed in float64 read the pixel before a whole float32 coordinate, or made a
    side one pixel short."""
    inits = [numpy_helper.from_array(np.array([1, 1, *scales], np.float32), "scales")]
    inputs = ["x", "scales"] if opset < 11 else ["x", "", "scales"]
    node = helper.make_node("Resize", inputs, ["y"], name="resize", mode="nearest", **attrs)
    path, _ = _model(tmp_path, node, inits, (3, *hw), opset)
    x = RNG.uniform(-1, 1, size=(2, 3, *hw))
    got = lrpcore.Explainer(lrpcore.load_model(path), dtype="float64").forward(
        x, raw=True).outputs()
    np.testing.assert_array_equal(got, x[:, :, rows][:, :, :, cols].reshape(2, -1))


def test_a_linear_resize_makes_the_side_the_runtime_makes(tmp_path):
    """Output sides from scales are size × scale rounded down in float32: 10 × 1.3 is 13 rows
    (a concatenation with a 13-row skip connection after it fits), not 12."""
    model, _, _ = _resize(tmp_path, (10, 10), scales=[1, 1, 1.3, 2.6], mode="linear")
    x = RNG.uniform(-1, 1, size=(1, 3, 10, 10))
    got = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True).outputs()
    assert got.shape == (1, 3 * 13 * 26)
