"""Found by stop 24's hostile review of the ONNX import paths added that day (ConvTranspose,
Resize, LayerNormalization, MatMul of a map, dynamo's as_strided, Keras's gates, the sidecar's
shape) and of the native format holding their layers: each test builds the input it needs
and failed before the fix it guards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lrpcore

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402


def _save(tmp_path, nodes, inits, in_shape, opset=19, name="m.onnx"):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *in_shape])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / name
    onnx.save(proto, path)
    return path, proto


def _forward(path, x):
    return lrpcore.Explainer(lrpcore.load_model(path), dtype="float64").forward(
        x.astype(np.float64), raw=True).outputs()


FLAT = helper.make_node("Flatten", ["y"], ["out"], name="flat")


@pytest.mark.parametrize("coordinates,hw,out_hw", [
    ("asymmetric", (7, 11), (61, 15)),  # 7 · (61 / 7) is 60.99…: 60 rows were made
    ("half_pixel_symmetric", (7, 11), (14, 15)),  # 11 · (15 / 11) is 14.99…: shifted reads
])
def test_resize_to_sizes_makes_those_sizes_and_reads_what_onnx_defines(tmp_path, coordinates,
                                                                       hw, out_hw):
    """Resize given 'sizes' made size · (o / size) rounded down rows, one short where the
    quotient rounds below o (7 → 61: 60 rows), and half_pixel_symmetric's offset read the
    output count as that product rounded down: its reads shifted where it rounds below."""
    sizes = numpy_helper.from_array(np.array([1, 2, *out_hw], np.int64), "sizes")
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], name="resize",
                            mode="nearest", coordinate_transformation_mode=coordinates)
    path, proto = _save(tmp_path, [node, FLAT], [sizes], (2, *hw))
    x = np.random.default_rng(3).uniform(-1, 1, (1, 2, *hw)).astype(np.float32)
    expected = ReferenceEvaluator(proto).run(None, {"x": x})[0]
    assert expected.shape == (1, 2 * out_hw[0] * out_hw[1])
    got = _forward(path, x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def _native(tmp_path, nodes, inits, in_shape):
    """The native file of a small ONNX graph, and its header, for mutating."""
    path, _ = _save(tmp_path, nodes, inits, in_shape)
    native = tmp_path / "m.npz"
    lrpcore.save_model(lrpcore.load_model(path), native)
    arrays = dict(np.load(native))
    return native, arrays, json.loads(str(arrays["header"]))


def _rewrite(native, arrays, header):
    arrays["header"] = np.array(json.dumps(header))
    np.savez(native, **arrays)


def _resize_native(tmp_path):
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], name="resize",
                            mode="nearest", coordinate_transformation_mode="asymmetric",
                            nearest_mode="floor")
    return _native(tmp_path, [node, FLAT], [scales], (2, 3, 3))


@pytest.mark.parametrize("key,value", [("rows", [10 ** 30]), ("cols", [-(10 ** 30)]),
                                       ("in_hw", [3]), ("in_hw", [3, 3, 3])])
def test_a_native_nearest_resize_with_damaged_indices_is_refused_by_name(tmp_path, key, value):
    """A NearestResize's 'rows' holding a 31-digit number stopped the reader in OverflowError
    (int64), an 'in_hw' of one number in IndexError: internal errors, not the file's; one of
    three numbers was blamed on the header's input shape."""
    native, arrays, header = _resize_native(tmp_path)
    entry = next(i for i, layer in enumerate(header["layers"])
                 if layer["type"] == "NearestResize")
    header["layers"][entry][key] = value
    _rewrite(native, arrays, header)
    with pytest.raises(lrpcore.ModelFormatError, match=f"m.npz: header layer {entry}: .*{key}"):
        lrpcore.load_model(native)


@pytest.mark.parametrize("eps", [10 ** 400, "1e-5"], ids=["400 digits", "text"])
def test_a_native_channel_norm_with_an_eps_no_float_holds_is_refused_by_name(tmp_path, eps):
    """ChannelNorm read its eps with float(), which raised OverflowError for an integer of
    400 digits (Python's json reads it): an internal error, not the file's."""
    scale = numpy_helper.from_array(np.ones(3, np.float32), "scale")
    node = helper.make_node("LayerNormalization", ["x", "scale"], ["y"], name="norm", axis=-1)
    native, arrays, header = _native(tmp_path, [node, FLAT], [scale], (4, 4, 3))
    entry = next(i for i, layer in enumerate(header["layers"]) if layer["type"] == "ChannelNorm")
    header["layers"][entry]["eps"] = eps
    _rewrite(native, arrays, header)
    with pytest.raises(lrpcore.ModelFormatError, match=f"m.npz: header layer {entry}: .*eps"):
        lrpcore.load_model(native)


def _batch_of_one(tmp_path, nodes, inits, in_shape):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, *in_shape])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    path = tmp_path / "flat.onnx"
    onnx.save(proto, path)
    return path, proto


def _as_strided(after):
    """Conv, Reshape to [-1] (a batch of one), then ``after`` nodes reading 'r'."""
    rng = np.random.default_rng(4)
    inits = [numpy_helper.from_array(rng.normal(size=(3, 2, 1, 1)).astype(np.float32), "K"),
             numpy_helper.from_array(np.array([-1], np.int64), "shape"),
             numpy_helper.from_array(np.arange(48).reshape(1, 3, 4, 4), "index")]
    nodes = [helper.make_node("Conv", ["x", "K"], ["c"], name="conv"),
             helper.make_node("Reshape", ["c", "shape"], ["r"], name="flat_view"), *after]
    return nodes, inits


@pytest.mark.parametrize("after", [
    [],  # the Reshape's output is the graph's: x.reshape(-1) last
    [helper.make_node("Identity", ["r"], ["i"], name="same"),
     helper.make_node("Gather", ["i", "index"], ["g"], name="view", axis=0),
     helper.make_node("Flatten", ["g"], ["out"], name="flat")],
], ids=["output", "identity"])
def test_a_batch_flattened_to_one_axis_computes_what_onnx_does(tmp_path, after):
    """A graph ending in x.reshape(-1) (a batch of one) gave its outputs as the channels-last
    map the engine keeps, in another order than ONNX's: wrong numbers for every class. An
    Identity between the Reshape and dynamo's Gather stopped the import in a KeyError."""
    nodes, inits = _as_strided(after)
    if not after:
        nodes[-1].output[0] = "out"
    path, proto = _batch_of_one(tmp_path, nodes, inits, (2, 4, 4))
    x = np.random.default_rng(5).uniform(-1, 1, (1, 2, 4, 4)).astype(np.float32)
    expected = ReferenceEvaluator(proto).run(None, {"x": x})[0]
    np.testing.assert_allclose(_forward(path, x).reshape(-1), expected.reshape(-1), rtol=0,
                               atol=1e-5)


def test_another_operator_on_a_batch_flattened_to_one_axis_is_named_as_such(tmp_path):
    """A Relu of the flattened batch was refused as reading a tensor 'between a channel
    shuffle's Reshape and Transpose', of which the graph has none."""
    nodes, inits = _as_strided([helper.make_node("Relu", ["r"], ["out"], name="relu")])
    path, _ = _batch_of_one(tmp_path, nodes, inits, (2, 4, 4))
    with pytest.raises(lrpcore.ModelFormatError) as caught:
        lrpcore.load_model(path)
    text = str(caught.value)
    assert "flat.onnx: node 2 'relu'" in text and "Reshape to [-1]" in text
    assert "shuffle" not in text


@pytest.mark.parametrize("attrs,filters,in_shape,problem", [
    ({}, (2, 3, 3, 3), (2, 5), "sequence"),  # ran as a 1×5 map: 63 outputs, for no runtime
    ({"output_shape": [-100, -100]}, (2, 3, 3, 3), (2, 4, 5), "output_shape"),  # blamed 'pads'
    ({"auto_pad": b"\xff\xfe"}, (2, 3, 3, 3), (2, 4, 5), "auto_pad"),  # UnicodeDecodeError
    ({}, (2, 3, 0, 3), (2, 4, 5), "empty"),  # blamed 'pads [0, 0, 0, 0]'
], ids=["sequence", "negative output_shape", "bytes auto_pad", "empty filters"])
def test_a_transposed_convolution_onnx_refuses_is_refused_naming_its_problem(
        tmp_path, attrs, filters, in_shape, problem):
    """Each was loaded as something else or refused blaming another attribute."""
    rng = np.random.default_rng(6)
    inits = [numpy_helper.from_array(rng.normal(size=filters).astype(np.float32), "W")]
    node = helper.make_node("ConvTranspose", ["x", "W"], ["y"], name="up", **attrs)
    path, _ = _save(tmp_path, [node, FLAT], inits, in_shape)
    with pytest.raises(lrpcore.ModelFormatError, match=f"m.onnx: node 0 'up'.*{problem}"):
        lrpcore.load_model(path)


def _channel_norm_graph(norm):
    """Conv, Transpose to N×H×W×C, ``norm`` (reading 't', writing 'n'), Flatten."""
    rng = np.random.default_rng(8)
    inits = [numpy_helper.from_array(rng.normal(size=(4, 2, 1, 1)).astype(np.float32), "K"),
             numpy_helper.from_array(rng.normal(size=4).astype(np.float32), "scale")]
    nodes = [helper.make_node("Conv", ["x", "K"], ["c"], name="conv"),
             helper.make_node("Transpose", ["c"], ["t"], name="nhwc", perm=[0, 2, 3, 1]),
             norm, helper.make_node("Flatten", ["n"], ["out"], name="flat")]
    return nodes, inits


@pytest.mark.parametrize("axis", [7, -5])
def test_layer_normalization_along_an_axis_its_input_lacks_is_refused(tmp_path, axis):
    """Axis 7 (or −5) of a rank-4 tensor was read modulo 4 as the last: a file every
    runtime refuses loaded as a model."""
    nodes, inits = _channel_norm_graph(helper.make_node(
        "LayerNormalization", ["t", "scale"], ["n"], name="norm", axis=axis))
    path, _ = _save(tmp_path, nodes, inits, (2, 3, 5))
    with pytest.raises(lrpcore.ModelFormatError, match=f"m.onnx: node 2 'norm'.*axis {axis}"):
        lrpcore.load_model(path)


@pytest.mark.parametrize("op,attrs", [("MaxPool", {"kernel_shape": [1, 1]}), ("Dropout", {}),
                                      ("LayerNormalization", {})])
def test_reading_an_output_the_import_does_not_compute_says_so(tmp_path, op, attrs):
    """A node reading LayerNormalization's Mean (MaxPool's Indices, Dropout's mask) was
    refused as "Add's constant must be a constant" or "on inputs that are neither data nor
    constants", naming neither the tensor nor the node writing it."""
    inputs = ["t", "scale"] if op == "LayerNormalization" else ["t"]
    nodes, inits = _channel_norm_graph(helper.make_node(op, inputs, ["m", "aux"], name="two",
                                                        **attrs))
    nodes[3:3] = [helper.make_node("Add", ["m", "aux"], ["n"], name="sum")]
    path, _ = _save(tmp_path, nodes, inits, (2, 3, 5))
    with pytest.raises(lrpcore.ModelFormatError,
                       match=f"m.onnx: node 3 'sum'.*'aux', output 2 of node 2 'two' \\({op}\\)"):
        lrpcore.load_model(path)


def _open_sized(tmp_path, sidecar_text):
    """An ONNX model whose input leaves its height and width open, with a sidecar."""
    K = numpy_helper.from_array(np.ones((2, 3, 3, 3), np.float32), "K")
    nodes = [helper.make_node("Conv", ["x", "K"], ["c"], name="conv"),
             helper.make_node("GlobalAveragePool", ["c"], ["g"], name="pool"),
             helper.make_node("Flatten", ["g"], ["out"], name="flat")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], [K])
    path = tmp_path / "open.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    (tmp_path / "open.json").write_text(sidecar_text)
    return path


def test_a_broken_sidecar_of_a_model_with_open_sizes_is_named(tmp_path):
    """The sidecar's shape was read as absent when the sidecar was no JSON, so the model was
    refused telling the user to write the very sidecar that was there, its defect unnamed."""
    path = _open_sized(tmp_path, '{"input": {"shape": [3, 8, 8]}')
    with pytest.raises(lrpcore.ModelFormatError, match=r"open\.json: sidecar is not valid JSON"):
        lrpcore.load_model(path)


def test_a_sidecar_shape_too_large_is_blamed_on_the_sidecar(tmp_path):
    """The input was said to 'declare' 300,000,000 values, where the file leaves its sizes
    open and the sidecar gave them."""
    path = _open_sized(tmp_path, json.dumps({"input": {"shape": [3, 10000, 10000]}}))
    with pytest.raises(lrpcore.ModelFormatError, match=r"open\.onnx: .*sidecar open\.json") as e:
        lrpcore.load_model(path)
    assert "300,000,000" in str(e.value) and "declares" not in str(e.value)


def test_a_relu6_gate_whose_hard_sigmoid_overflows_float32_stays_as_written(tmp_path):
    """Add(1e10), Clip(0, 1e-30), Mul(1e30) was rewritten to a HardSigmoid whose β = 1e40
    is infinite as the float32 an ONNX attribute holds: a valid file refused over 'node
    relu6 (HardSigmoid): beta = inf', an operator the file does not have."""
    consts = {"K": np.ones((2, 2, 1, 1)), "a": 1e10, "lo": 0.0, "hi": 1e-30, "c": 1e30}
    inits = [numpy_helper.from_array(np.array(v, np.float32), k) for k, v in consts.items()]
    nodes = [helper.make_node("Conv", ["x", "K"], ["v"], name="conv"),
             helper.make_node("Add", ["v", "a"], ["p"], name="add"),
             helper.make_node("Clip", ["p", "lo", "hi"], ["q"], name="relu6"),
             helper.make_node("Mul", ["q", "c"], ["y"], name="scale"), FLAT]
    path, proto = _save(tmp_path, nodes, inits, (2, 3, 3), opset=13)
    x = np.random.default_rng(9).uniform(-5, 5, (2, 2, 3, 3)).astype(np.float32)
    expected = ReferenceEvaluator(proto).run(None, {"x": x})[0]
    np.testing.assert_allclose(_forward(path, x), expected, rtol=1e-6)


@pytest.mark.parametrize("inputs,consts,in_shape,problem", [
    (["x", "", "scales", "sizes"], {"scales": np.float32([1, 1, 2, 2]),
                                    "sizes": np.int64([1, 2, 5, 5])}, (2, 3, 4), "both"),
    (["x", "", "", "sizes"], {"sizes": np.float32([1, 2, 5.7, 5])}, (2, 3, 4), "sizes hold"),
    (["x", "", "scales"], {"scales": np.int64([1, 1, 2, 2])}, (2, 3, 4), "scales hold"),
    (["x", "", "scales"], {"scales": np.float32([1, 1, 1, 2])}, (2, 3), "sequence"),
], ids=["scales and sizes", "float sizes", "integer scales", "sequence"])
def test_a_resize_onnx_refuses_is_refused_naming_its_problem(tmp_path, inputs, consts, in_shape,
                                                            problem):
    """Each loaded as a model no runtime runs: sizes of 5.7 cut to 5, the sizes taken over
    the scales, four scales of an N×C×L tensor run on a C×1×L map."""
    inits = [numpy_helper.from_array(v, k) for k, v in consts.items()]
    node = helper.make_node("Resize", inputs, ["y"], name="up", mode="nearest")
    path, _ = _save(tmp_path, [node, FLAT], inits, in_shape)
    with pytest.raises(lrpcore.ModelFormatError, match=f"m.onnx: node 0 'up'.*{problem}"):
        lrpcore.load_model(path)


_HUGE_RESIZE = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
import numpy as np, lrpcore
try:
    lrpcore.explain(lrpcore.load_model(sys.argv[1]), np.ones((1, 1, 2, 2)), raw=True)
except lrpcore.LRPError as exc:
    print("refused:", exc)
"""


def test_a_native_file_without_input_shape_cannot_ask_for_gigabytes(tmp_path):
    """The bound on the layers' outputs was checked at load against the header's input
    shape only: a 1.5-MB native file stating none, whose NearestResize makes 65,536² of a
    2×2 map, loaded and ran into MemoryError (32 GiB) when explained."""
    native, arrays, header = _resize_native(tmp_path)
    entry = next(layer for layer in header["layers"] if layer["type"] == "NearestResize")
    entry.update(rows=[0] * 32768 + [1] * 32768, cols=[0] * 32768 + [1] * 32768, in_hw=[2, 2])
    header["input"] = None
    _rewrite(native, arrays, header)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", _HUGE_RESIZE, str(native)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-800:]
    assert "refused: for input samples of shape 1×2×2" in done.stdout
    assert "8,589,934,596 values per sample" in done.stdout


@pytest.mark.parametrize("opset", [7, 9])
def test_a_shrinking_upsample_is_refused(tmp_path, opset):
    """ONNX's Upsample takes scales of at least 1; one of 0.6 loaded, its reads rounded down
    where onnxruntime rounds a shrinking one up: numbers of a model no two runtimes agree on."""
    scales = [1.0, 1.0, 0.6, 2.0]
    if opset == 7:
        node, inits = helper.make_node("Upsample", ["x"], ["y"], name="up", scales=scales), []
    else:
        node = helper.make_node("Upsample", ["x", "scales"], ["y"], name="up")
        inits = [numpy_helper.from_array(np.float32(scales), "scales")]
    path, _ = _save(tmp_path, [node, FLAT], inits, (2, 5, 4), opset=opset)
    with pytest.raises(lrpcore.ModelFormatError, match="m.onnx: node 0 'up'.*at least 1"):
        lrpcore.load_model(path)
