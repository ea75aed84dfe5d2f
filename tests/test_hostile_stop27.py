"""Found by stop 27's hostile review of what a user hands the program (ONNX files of mixed
element types, sample files, sidecars, output paths): each test builds the file it needs and
failed before the fix it guards."""

from __future__ import annotations

import numpy as np
import pytest
from hostile_files import one_line

from lrpcore.cli.main import main

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _conv_model(path, weights, data=TensorProto.FLOAT, cast_to=None):
    """Conv → Flatten on a 1×8×8 input of ONNX type ``data`` with filters of numpy dtype
    ``weights``; ``cast_to``: a Cast of the input to that type first."""
    W = numpy_helper.from_array(np.full((2, 1, 3, 3), 0.5, weights), "W")
    nodes, x = [], "x"
    if cast_to is not None:
        nodes.append(helper.make_node("Cast", ["x"], ["xc"], name="cast", to=cast_to))
        x = "xc"
    nodes += [helper.make_node("Conv", [x, "W"], ["c"], name="conv1"),
              helper.make_node("Flatten", ["c"], ["out"], name="flat")]
    out = cast_to if cast_to is not None else data
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", data, [1, 1, 8, 8])],
                              [helper.make_tensor_value_info("out", out, [1, 72])], [W])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.mark.parametrize("weights,named", [(np.float16, "float16"), (np.float64, "float64")])
def test_weights_of_another_float_type_than_the_data_are_refused(tmp_path, capsys, weights,
                                                                 named):
    """float16 filters feeding a float32 Conv (no Cast between) loaded and were explained in
    the engine's dtype, where onnx.checker and every runtime refuse the file ('W has
    inconsistent type tensor(float16)')."""
    model = _conv_model(tmp_path / "m.onnx", weights)
    with pytest.raises(onnx.shape_inference.InferenceError):  # the file is invalid ONNX
        onnx.checker.check_model(onnx.load(str(model)), full_check=True)
    assert main(["info", str(model)]) == 2
    one_line(capsys, "m.onnx", "node 0 'conv1' (Conv)", "'x' (float32)", f"'W' ({named})",
             "must be of one type")


@pytest.mark.parametrize("data,cast_to", [(TensorProto.FLOAT16, None),
                                          (TensorProto.FLOAT, TensorProto.FLOAT16)])
def test_float16_models_exporters_write_still_load(tmp_path, capsys, data, cast_to):
    """A model exported in float16 (input and weights float16), and one that casts its float32
    input to float16 first (onnxconverter-common's keep_io_types), are valid: they load."""
    model = _conv_model(tmp_path / "m.onnx", np.float16, data, cast_to)
    onnx.checker.check_model(onnx.load(str(model)), full_check=True)
    assert main(["info", str(model)]) == 0
    assert "conv1" in capsys.readouterr().out


def test_a_resize_scale_of_doubles_is_refused_naming_the_input(tmp_path, capsys):
    """Resize's scales are float32 whatever the data's type; float64 scales were read."""
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float64), "sc")
    roi = numpy_helper.from_array(np.array([], np.float32), "roi")
    nodes = [helper.make_node("Resize", ["x", "roi", "sc"], ["y"], name="up"),
             helper.make_node("Flatten", ["y"], ["out"], name="flat")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 64])], [roi, scales])
    model = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]),
              str(model))
    assert main(["info", str(model)]) == 2
    one_line(capsys, "m.onnx", "'up' (Resize)", "'sc' (scales) is float64", "takes float32")


def test_nan_in_training_images_names_the_first_sample():
    """The trainer's own check (arrays handed to lrpcore.train) said 'NAME: images contain NaN
    or infinite values', its own wording."""
    from lrpcore.errors import DatasetError, NonFiniteSample  # noqa: PLC0415
    from lrpcore.train.data import make_data  # noqa: PLC0415

    x = np.random.RandomState(0).randint(0, 255, (6, 28, 28)).astype(np.float64)
    x[4, 0, 0] = np.nan
    with pytest.raises(NonFiniteSample, match="^digits: sample 4 contains NaN or infinite "
                                              "values$") as err:
        make_data(x, np.arange(6) % 3, "digits")
    assert isinstance(err.value, DatasetError)  # what the trainer's callers catch


def test_pixel_flipping_refuses_nan_inputs_in_the_one_wording():
    """lrpcore.insight.pixelflip (the explorer's panel calls it directly) said 'inputs contain
    NaN, infinite or non-numeric values'."""
    import lrpcore  # noqa: PLC0415
    from lrpcore.errors import NonFiniteSample  # noqa: PLC0415
    from lrpcore.insight.pixelflip import flip_curves  # noqa: PLC0415

    x = np.zeros((3, 32, 32, 1))
    x[2, 1, 1, 0] = np.nan
    with pytest.raises(NonFiniteSample, match="^sample 2 contains NaN or infinite values$"):
        flip_curves(lrpcore.load_model("mnist-lenet5"), x, np.ones_like(x), targets=0)


def _flat_model(path, nodes, inits=(), outputs=None):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
         for o in outputs or [nodes[-1].output[0]]], list(inits))
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.mark.parametrize("nodes,part", [
    ([helper.make_node("Add", ["x", "z"], ["y"], name="a"),
      helper.make_node("Relu", ["y"], ["z"], name="b")],
     "node 0 'a' (Add): reads 'z', which node 1 'b' writes only later: a cycle"),
    ([helper.make_node("Add", ["x", "y"], ["y"], name="a")],
     "node 0 'a' (Add): reads 'y', which it writes itself: a cycle"),
    ([helper.make_node("Relu", ["y"], ["z"], name="b"),
      helper.make_node("Relu", ["x"], ["y"], name="a")],
     "node 0 'b' (Relu): reads 'y', which node 1 'a' writes only later"),
    ([helper.make_node("Add", ["x", "ghost"], ["y"], name="a")],
     "node 0 'a' (Add): reads 'ghost', which no node, initializer or input writes"),
], ids=["cycle", "self", "unsorted", "nothing"])
def test_a_node_reading_what_no_earlier_node_writes_is_named(tmp_path, capsys, nodes, part):
    """A cycle was refused as "Add's constant must be a constant", nodes out of order as
    "operator Relu on inputs that are neither data nor constants": neither named the tensor,
    nor said the graph is not in the order ONNX requires."""
    model = _flat_model(tmp_path / "m.onnx", nodes)
    assert main(["info", str(model)]) == 2
    one_line(capsys, "m.onnx", part)


def test_a_second_graph_output_no_node_writes_is_refused(tmp_path, capsys):
    """The first output was explained and a declared second output that nothing computes
    ignored, where every runtime refuses the file."""
    model = _flat_model(tmp_path / "m.onnx", [helper.make_node("Relu", ["x"], ["y"], name="a")],
                        outputs=["y", "aux"])
    assert main(["info", str(model)]) == 2
    one_line(capsys, "m.onnx", "the graph output 'aux' is written by no node")


def test_a_sparse_initializer_is_refused_as_such(tmp_path, capsys):
    """A weight stored as a sparse_initializer (valid ONNX, which the importer does not read)
    was refused as "Gemm's weights must be a constant", naming no reason."""
    values = numpy_helper.from_array(np.array([1.0, 2.0], np.float32), "W")
    sparse = helper.make_sparse_tensor(values, numpy_helper.from_array(np.array([0, 5]), "i"),
                                       [4, 3])
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "W"], ["y"], transB=1, name="fc")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    graph.sparse_initializer.append(sparse)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)  # a valid file
    onnx.save(model, str(tmp_path / "m.onnx"))
    assert main(["info", str(tmp_path / "m.onnx")]) == 2
    one_line(capsys, "m.onnx", "initializer 'W' is stored sparse", "not supported")


@pytest.mark.parametrize("data,const,part", [
    (TensorProto.FLOAT, np.ones(3, np.int64), "'x' (float32) and 'c' (int64)"),
    (TensorProto.INT64, np.ones(3, np.float32), "'x' (int64) and 'c' (float32)"),
], ids=["integer constant", "integer input"])
def test_an_integer_where_the_operator_takes_the_datas_float_is_refused(tmp_path, capsys, data,
                                                                       const, part):
    """An int64 constant added to float32 data (or float32 added to an int64 input) was read
    as floats and explained, where every runtime refuses the file."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "c"], ["y"], name="add")], "g",
        [helper.make_tensor_value_info("x", data, [1, 3])],
        [helper.make_tensor_value_info("y", data, [1, 3])], [numpy_helper.from_array(const, "c")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              str(tmp_path / "m.onnx"))
    assert main(["info", str(tmp_path / "m.onnx")]) == 2
    one_line(capsys, "m.onnx", "node 0 'add' (Add)", part, "must be of one type")


@pytest.mark.parametrize("command", [["data", "info", "{npy}"],
                                     ["explain", "mnist-lenet5", "{npy}", "--out", "{out}.npy"],
                                     ["render", "{npy}", "--out", "{out}.png"]])
def test_a_npy_header_holding_an_expression_is_named_without_an_address(tmp_path, capsys,
                                                                         command):
    """numpy's parser refused a header dictionary holding a call with ast's words, which name
    the parsed node by its memory address ('malformed node or string on line 1: <ast.Call
    object at 0x7f14183fa500>'); the call is never run."""
    marker = tmp_path / "ran"
    header = (f"{{'descr': __import__('os').mkdir('{marker}'), 'fortran_order': False, "
              "'shape': (2, 784), }").encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    npy = tmp_path / "x.npy"
    npy.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
                    + bytes(2 * 784 * 8))
    out = tmp_path / "out"
    assert main([a.format(npy=npy, out=out) for a in command]) == 2
    err = one_line(capsys, str(npy), "its dictionary holds an expression, not plain values")
    assert "0x" not in err and "ast." not in err
    assert not marker.exists() and not list(tmp_path.glob("out*"))


@pytest.mark.parametrize("elem,named", [(TensorProto.STRING, "string"),
                                        (TensorProto.BOOL, "bool")])
def test_an_input_of_strings_or_bools_is_refused(tmp_path, capsys, elem, named):
    """A graph input declared as strings (or bools) into a Relu loaded and was explained as
    numbers."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")], "g",
        [helper.make_tensor_value_info("x", elem, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              str(tmp_path / "m.onnx"))
    assert main(["info", str(tmp_path / "m.onnx")]) == 2
    one_line(capsys, "m.onnx", f"input 'x' holds {named} values")


def test_an_empty_onnx_file_is_called_empty(tmp_path, capsys):
    """A 0-byte .onnx (an interrupted copy) parsed as an empty model and was refused as 'the
    ONNX graph has no nodes'."""
    (tmp_path / "m.onnx").write_bytes(b"")
    assert main(["info", str(tmp_path / "m.onnx")]) == 2
    one_line(capsys, "m.onnx: an empty file (0 bytes), not an ONNX model")
