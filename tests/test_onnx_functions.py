"""ONNX local functions: ``torch.onnx.export(..., export_modules_as_functions=True)`` writes each
module as a function named by its class, and the graph as one call of the model's function.
They were refused ("operator '__main__.ModFuncs' is not supported"); they are inlined, each
operator keeping the class of the module that wrote it, so a custom activation module (zennit's
gradient) and ``nn.SiLU`` (zennit's Pass) are told apart, as in a ``dynamo=True`` export.
The zoo's ``modfuncs_functions`` is checked against zennit in tests/test_zoo_reference.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lrpcore import ModelFormatError, load_model

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

ZOO = Path(__file__).parent / "data" / "zoo"


def test_module_functions_mark_what_zennit_hooks():
    """The custom Swish module's and the block's ``F.relu`` operators are functional calls
    (gradient); ``nn.SiLU``'s, ``nn.ReLU``'s and the ``AdaptiveAvgPool2d`` module's are not."""
    path = ZOO / "modfuncs_functions.onnx"
    if not path.exists():
        pytest.skip("zoo fixture modfuncs_functions is missing")
    model = load_model(path)
    kinds = [(n.layer.kind, getattr(n.layer, "functional", False)) for n in model.nodes
             if n.layer.kind in ("Silu", "Rect", "MeanPool")]
    assert kinds == [("Silu", True), ("Silu", False), ("Rect", True), ("Rect", False),
                     ("MeanPool", False)]


def _function(name, domain, nodes, inputs, outputs):
    return helper.make_function(domain, name, inputs, outputs, nodes,
                                [helper.make_opsetid("", 17)])


def _save(tmp_path, functions, call):
    graph = helper.make_graph(
        [helper.make_node(call, ["x"], ["y"], domain="m", name="/Net")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(np.eye(4, dtype=np.float32), "W")])
    model = helper.make_model(graph, functions=functions, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("m", 1)])
    path = tmp_path / "f.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def test_functions_calling_themselves_are_refused_in_one_line(tmp_path):
    loop = _function("Loop", "m", [helper.make_node("Loop", ["a"], ["b"], domain="m")],
                     ["a"], ["b"])
    with pytest.raises(ModelFormatError) as err:
        load_model(_save(tmp_path, [loop], "Loop"))
    assert str(err.value) == f"{tmp_path / 'f.onnx'}: local function 'm.Loop' calls itself"


def test_functions_calling_each_other_in_a_cycle_are_refused(tmp_path):
    a = _function("A", "m", [helper.make_node("B", ["a"], ["b"], domain="m")], ["a"], ["b"])
    b = _function("B", "m", [helper.make_node("A", ["a"], ["b"], domain="m")], ["a"], ["b"])
    with pytest.raises(ModelFormatError) as err:
        load_model(_save(tmp_path, [a, b], "A"))
    assert str(err.value).endswith("' calls itself")


def test_functions_nested_thousands_deep_are_refused_in_one_line(tmp_path):
    """3,000 functions each calling the one before: the size count recursed into a
    RecursionError ('internal error')."""
    functions = [_function("F0", "m", [helper.make_node("Relu", ["a"], ["b"])], ["a"], ["b"])]
    for k in range(1, 3000):
        functions.append(_function(f"F{k}", "m", [
            helper.make_node(f"F{k - 1}", ["a"], ["b"], domain="m")], ["a"], ["b"]))
    path = _save(tmp_path, functions[::-1], "F2999")  # callers first, too
    with pytest.raises(ModelFormatError) as err:
        load_model(path)
    assert str(err.value) == f"{path}: its local functions call each other more than 64 levels deep"


def test_functions_inlining_to_billions_of_operators_are_refused(tmp_path):
    """40 functions each calling the one below twice: 2⁴⁰ operators in a few kilobytes."""
    functions = [_function("F0", "m", [helper.make_node("Relu", ["a"], ["b"])], ["a"], ["b"])]
    for k in range(1, 41):
        functions.append(_function(f"F{k}", "m", [
            helper.make_node(f"F{k - 1}", ["a"], ["t"], domain="m"),
            helper.make_node(f"F{k - 1}", ["t"], ["b"], domain="m")], ["a"], ["b"]))
    with pytest.raises(ModelFormatError) as err:
        load_model(_save(tmp_path, functions, "F40"))
    assert "inline to more than 100,000 operators" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_small_function_graph_reads_as_its_operators(tmp_path):
    net = _function("Net", "m", [helper.make_node("MatMul", ["a", "W"], ["t"]),
                                 helper.make_node("Relu", ["t"], ["b"])], ["a"], ["b"])
    net.input.append("W")
    graph_path = _save(tmp_path, [net], "Net")
    proto = onnx.load(graph_path)
    proto.graph.node[0].input.append("W")
    graph_path.write_bytes(proto.SerializeToString())
    model = load_model(graph_path)
    assert [n.layer.kind for n in model.nodes] == ["Linear", "Rect"]
    x = np.array([[1.0, -2.0, 3.0, -4.0]])
    np.testing.assert_array_equal(model.forward(x), np.maximum(x, 0))
