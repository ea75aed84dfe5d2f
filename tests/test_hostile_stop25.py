"""Found by stop 25's hostile review of the newest import paths (ConvTranspose, LayerNormalization,
dynamo's as_strided Gather, squeeze-and-excitation gates) and of the native format holding their
layers: each test builds the file it needs and failed before the fix it guards."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hostile_files import one_line, save_onnx_graph

import lrpcore
from lrpcore.cli.main import main

onnx = pytest.importorskip("onnx")
from onnx import helper, numpy_helper  # noqa: E402

C = 4
FILTERS = numpy_helper.from_array(np.ones((C, C, 1, 1), np.float32), "cw")
CONV = helper.make_node("Conv", ["x", "cw"], ["c"], name="conv")


def _refused(tmp_path, capsys, nodes, inits, in_shape, *parts):
    model = save_onnx_graph(tmp_path / "m.onnx", nodes, inits, in_shape, [1, 1])
    assert main(["info", str(model)]) == 2
    return one_line(capsys, "m.onnx", *parts)


def test_convtranspose_strides_written_as_floats_are_refused(tmp_path, capsys):
    """strides [1.5, 1.5] (an attribute of floats where ONNX declares integers, which
    onnx.checker and every runtime refuse) were read as int(1.5) = 1: a transposed
    convolution of stride 1 explained in place of the file's."""
    W = numpy_helper.from_array(np.ones((C, 2, 3, 3), np.float32), "W")
    node = helper.make_node("ConvTranspose", ["c", "W"], ["y"], name="up", strides=[1.5, 1.5])
    _refused(tmp_path, capsys, [CONV, node], [FILTERS, W], [1, C, 4, 4],
             "'up'", "attribute 'strides' must be a list of whole numbers, not FLOATS")


@pytest.mark.parametrize("op,inputs,consts", [
    # x[:, [1.7, 2.7]]: channels 1 and 2 were taken
    ("Gather", ["c", "i"], {"i": np.array([1.7, 2.7], np.float32)}),
    # x[:, 0.5:2.5]: read as channels 0…1
    ("Slice", ["c", "s", "e", "a"], {"s": np.array([0.5], np.float32),
                                     "e": np.array([2.5], np.float32),
                                     "a": np.array([1], np.int64)}),
    # Split of the 4 channels into 1.5 + 2.5: read as 1 + 2, refused as not adding up
    ("Split", ["c", "n"], {"n": np.array([1.5, 2.5], np.float32)}),
])
def test_indices_written_as_floats_are_refused(tmp_path, capsys, op, inputs, consts):
    """A Gather's indices, a Slice's bounds or a Split's sizes held as floats (ONNX types them
    as integers; runtimes refuse the file) were cut toward zero: other channels than any
    reading of the file explained, or a refusal blaming the sizes' sum."""
    outputs = ["y", "z"] if op == "Split" else ["y"]
    nodes = [CONV, helper.make_node(op, inputs, outputs, name="pick",
                                    **({"axis": 1} if op != "Slice" else {}))]
    inits = [FILTERS] + [numpy_helper.from_array(v, k) for k, v in consts.items()]
    err = _refused(tmp_path, capsys, nodes, inits, [1, C, 3, 3], "'pick'", "floating-point values",
                   "ONNX takes integers there")
    assert "does not fit" not in err


@pytest.mark.parametrize("shape", [(2, 2), (C, 1)])
def test_layer_norm_scale_of_another_shape_is_refused(tmp_path, capsys, shape):
    """A LayerNormalization scale of 2×2 (or 4×1) for a 4-channel map, which runtimes refuse
    (or broadcast into a 4×4 per position), loaded as its four values in a row."""
    nodes = [CONV, helper.make_node("Transpose", ["c"], ["t"], perm=[0, 2, 3, 1], name="tr"),
             helper.make_node("LayerNormalization", ["t", "s", "b"], ["n"], name="norm")]
    inits = [FILTERS, numpy_helper.from_array(np.ones(shape, np.float32), "s"),
             numpy_helper.from_array(np.zeros(C, np.float32), "b")]
    _refused(tmp_path, capsys, nodes, inits, [1, C, 3, 3], "'norm'",
             f"shapes {list(shape)} and [{C}]", "along the last axis")


def test_layer_norm_scale_of_one_row_still_loads(tmp_path):
    """A 1×C scale broadcasts as C values: the same model, still read."""
    nodes = [CONV, helper.make_node("Transpose", ["c"], ["t"], perm=[0, 2, 3, 1], name="tr"),
             helper.make_node("LayerNormalization", ["t", "s", "b"], ["n"], name="norm"),
             helper.make_node("Flatten", ["n"], ["out"], name="flat")]
    inits = [FILTERS, numpy_helper.from_array(np.full((1, C), 2, np.float32), "s"),
             numpy_helper.from_array(np.zeros(C, np.float32), "b")]
    model = save_onnx_graph(tmp_path / "m.onnx", nodes, inits, [1, C, 3, 3], [1, 9 * C])
    layer = next(n.layer for n in lrpcore.load_model(model).nodes if n.name == "norm")
    np.testing.assert_array_equal(layer.scale, np.full(C, 2.0))


def test_a_native_gate_of_three_inputs_is_refused_naming_the_node(tmp_path, capsys):
    """A native graph whose Gate node lists three inputs stopped in Python's 'too many values
    to unpack (expected 2)': a Gate reads a map and its gate, two tensors."""
    from onnx import TensorProto  # noqa: PLC0415

    pool = helper.make_node("GlobalAveragePool", ["c"], ["p"], name="pool")
    gate = helper.make_node("Sigmoid", ["p"], ["g"], name="sig")
    mul = helper.make_node("Mul", ["c", "g"], ["m"], name="gate")
    flat = helper.make_node("Flatten", ["m"], ["out"], name="flat")
    graph = helper.make_graph(
        [CONV, pool, gate, mul, flat], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C, 3, 3])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 9 * C])], [FILTERS])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              tmp_path / "m.onnx")
    native = tmp_path / "m.npz"
    lrpcore.save_model(lrpcore.load_model(tmp_path / "m.onnx"), native)
    with np.load(native) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(str(arrays.pop("header")))
    node = next(n for n in header["graph"]["nodes"] if n["name"] == "gate")
    node["inputs"].append(node["inputs"][0])
    np.savez(native, header=np.array(json.dumps(header)), **arrays)
    assert main(["info", str(native)]) == 2
    one_line(capsys, "m.npz", "'gate' (Gate) reads 3 tensors; it takes two")


def test_an_initializer_of_a_negative_dimension_is_refused(tmp_path, capsys):
    """An initializer declared [-1, 3] (ONNX's dimensions are sizes, never negative) loaded as
    numpy's reshape reads -1: "the rest"; external data was refused so, stored data not."""
    W = numpy_helper.from_array(np.ones((4, 3), np.float32), "W")
    del W.dims[:]
    W.dims.extend([-1, 3])
    node = helper.make_node("Gemm", ["x", "W"], ["y"], name="fc", transB=1)
    model = save_onnx_graph(tmp_path / "m.onnx", [node], [W], [1, 3], [1, 4])
    assert main(["info", str(model)]) == 2
    one_line(capsys, "m.onnx", "tensor 'W' has a negative dimension [-1, 3]")


def test_a_same_auto_pad_beyond_the_output_names_auto_pad(tmp_path, capsys):
    """A ConvTranspose of 1×1 filters at stride 2 with auto_pad SAME_UPPER (an output of twice
    the input, more than such filters make) was refused as "output_shape [4, 4] is larger
    than …", an attribute the file does not have."""
    W = numpy_helper.from_array(np.ones((C, 2, 1, 1), np.float32), "W")
    node = helper.make_node("ConvTranspose", ["c", "W"], ["y"], name="up", strides=[2, 2],
                            auto_pad="SAME_UPPER")
    err = _refused(tmp_path, capsys, [CONV, node], [FILTERS, W], [1, C, 2, 2], "'up'",
                   "auto_pad SAME_UPPER's output of 4×4", "larger than the 3×3")
    assert "output_shape" not in err


def test_transposed_filters_larger_than_the_input_load(tmp_path):
    """A ConvTranspose of 20×20 filters on a 1×1 map (a generator's first layer) makes a 20×20
    map; it was refused as 'pads [19, 19, 19, 19] are negative or far larger than the 1×1
    input', pads the file does not have (the bound of a Pad operator's own)."""
    rng = np.random.default_rng(0)
    W = rng.normal(size=(1, 2, 20, 20)).astype(np.float32)
    B = np.array([0.5, -1.0], np.float32)
    node = helper.make_node("ConvTranspose", ["x", "W", "B"], ["y"], name="up")
    flat = helper.make_node("Flatten", ["y"], ["out"], name="flat")
    model = save_onnx_graph(tmp_path / "m.onnx", [node, flat],
                            [numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")],
                            [1, 1, 1, 1], [1, 800])
    x = np.array([[[[1.5]]]])
    got = lrpcore.Explainer(lrpcore.load_model(model), dtype="float64").forward(
        x, raw=True).outputs()
    expected = 1.5 * W[0].astype(np.float64) + B[:, None, None].astype(np.float64)
    np.testing.assert_allclose(got, expected.reshape(1, -1), rtol=1e-12)


@pytest.mark.parametrize("key", ["pkg.torch.onnx.name_scopes", "pkg.torch.onnx.class_hierarchy"])
def test_exporter_metadata_that_builds_no_literal_is_ignored(tmp_path, capsys, key):
    """dynamo's metadata (a list of strings, read as a Python literal) of '{[]: 1}' parses,
    and building the dict raised TypeError: 'lrp info: internal error' for a file that is
    otherwise a plain model. Metadata that is no literal says nothing of the node."""
    relu = helper.make_node("Relu", ["x"], ["r"], name="act")
    for name, value in ((key, "{[]: 1}"), ("pkg.torch.onnx.name_scopes", "['', 'act', 'r']")):
        if not any(p.key == name for p in relu.metadata_props):
            relu.metadata_props.add(key=name, value=value)
    W = numpy_helper.from_array(np.ones((4, 3), np.float32), "W")
    fc = helper.make_node("Gemm", ["r", "W"], ["y"], name="fc", transB=1)
    model = save_onnx_graph(tmp_path / "m.onnx", [relu, fc], [W], [1, 3], [1, 4])
    assert main(["info", str(model)]) == 0, capsys.readouterr().err
    assert "act" in capsys.readouterr().out


def test_a_refusal_the_sidecars_sizes_cause_names_the_sidecar(tmp_path, capsys):
    """An ONNX input of open height and width takes its sizes from the sidecar; a 2×2 there
    for 3×3 filters was refused as 'node 0 'conv': input 2×2 is smaller than the 3×3 window',
    naming the model alone, whose file holds no 2×2 anywhere."""
    from onnx import TensorProto  # noqa: PLC0415

    W = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "W")
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv"),
             helper.make_node("Flatten", ["c"], ["out"], name="flat")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], [W])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              tmp_path / "m.onnx")
    (tmp_path / "m.json").write_text(json.dumps({"input": {"shape": [3, 2, 2]}}))
    assert main(["info", str(tmp_path / "m.onnx")]) == 2
    one_line(capsys, "m.onnx", "'conv'", "smaller than the 3×3 window",
             "sizes [3, 2, 2] are those its sidecar m.json gives")
    (tmp_path / "m.json").write_text(json.dumps({"input": {"shape": [3, 5, 5]}}))
    assert main(["info", str(tmp_path / "m.onnx")]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("op,filters", [("Conv", (2, C, 1, 1)), ("ConvTranspose", (C, 2, 1, 1))])
def test_biases_of_two_axes_are_refused(tmp_path, capsys, op, filters):
    """A Conv's or ConvTranspose's bias of shape 2×1 (ONNX declares one axis of one value a
    channel; runtimes refuse the file) loaded as its two values in a row."""
    W = numpy_helper.from_array(np.ones(filters, np.float32), "W")
    B = numpy_helper.from_array(np.ones((2, 1), np.float32), "B")
    node = helper.make_node(op, ["c", "W", "B"], ["y"], name="layer")
    _refused(tmp_path, capsys, [CONV, node], [FILTERS, W, B], [1, C, 3, 3], "'layer'",
             "biases of shape [2, 1]: the filters make 2 channels, one bias each")
