"""Every error message built from file content stays one short, printable line: names and
lists a crafted ONNX file holds (node, tensor and output names of a megabyte, shapes and
attributes of 100,000 values) are cut, and the CLI and the GUI bound any message to about
1,000 characters (its start, naming the file, and its end, with the hint)."""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore import ModelFormatError, load_model
from lrpcore.cli.main import main
from lrpcore.errors import LRPError
from lrpcore.text import brief, error_line, short

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

HUGE = "n" * 1_000_000 + "\x1b[2J"


def _save(tmp_path, nodes, inits=(), out="y", in_dims=(1, 4), name="m.onnx"):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_dims))],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, 2])], list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def _gemm(x="x", y="y", name="fc"):
    return helper.make_node("Gemm", [x, "G", "GB"], [y], name=name, transB=1)


INITS = [numpy_helper.from_array(np.ones((2, 4), np.float32), "G"),
         numpy_helper.from_array(np.zeros(2, np.float32), "GB")]


def _refused(path, capsys, *words):
    with pytest.raises(ModelFormatError) as info:
        load_model(path)
    assert len(str(info.value)) < 1500, len(str(info.value))
    assert "\x1b" not in str(info.value)
    code = main(["info", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and len(err) < 1200, len(err)
    for w in (str(path), *words):
        assert w in err, err[:300]


def test_a_megabyte_node_name_and_operator(tmp_path, capsys):
    node = helper.make_node("NoSuchOp" + "x" * 100_000, ["x"], ["y"], name=HUGE)
    _refused(_save(tmp_path, [node]), capsys, "node 0 'nnnn", "is not supported")


def test_a_megabyte_graph_output_name(tmp_path, capsys):
    _refused(_save(tmp_path, [_gemm()], INITS, out="o" * 1_000_000), capsys,
             "the graph output 'ooo", "is not computed")


def test_a_megabyte_input_name_and_100000_dimensions(tmp_path, capsys):
    path = _save(tmp_path, [_gemm()], INITS, in_dims=[1] + [0] * 100_000)
    _refused(path, capsys, "must have a fixed shape", "(100,001 in all)")


def test_a_megabyte_tensor_name(tmp_path, capsys):
    bad = [numpy_helper.from_array(np.full((2, 4), np.nan, np.float32), HUGE), INITS[1]]
    node = helper.make_node("Gemm", ["x", HUGE, "GB"], ["y"], name="fc", transB=1)
    _refused(_save(tmp_path, [node], bad), capsys, "contains NaN")


def test_an_attribute_of_100000_values(tmp_path, capsys):
    node = helper.make_node("Transpose", ["x"], ["t"], name="tr", perm=list(range(100_000)))
    _refused(_save(tmp_path, [node, _gemm("t")], INITS, in_dims=(1, 2, 2, 1)), capsys,
             "Transpose's perm [0, 1, 2", "(100,000 in all)")


def test_the_cli_bounds_any_message(capsys, monkeypatch):
    from lrpcore.cli import cmd_rules

    def fail(args):
        raise LRPError("model.onnx: start " + "x" * 3_000_000 + " the hint at the end")

    monkeypatch.setattr(cmd_rules, "run", fail)  # the parser is built per call
    code = main(["rules"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and len(err) < 1100
    assert err.startswith("lrp rules: error: model.onnx: start xxx")
    assert err.rstrip().endswith("the hint at the end")


def test_the_helpers():
    assert short("abc") == "abc" and short("a" * 100, 10) == "a" * 9 + "…"
    assert short("evil\x1b[2J\nname") == "evil name"
    assert brief([1, 2, 3]) == "[1, 2, 3]"
    assert brief(list(range(10**6))) == "[0, 1, 2, 3, 4, 5, 6, 7, … (1,000,000 in all)]"
    assert brief(np.arange(10**6)) == "[0, 1, 2, 3, 4, 5, 6, 7, … (1,000,000 in all)]"
    line = error_line("f.npz: " + "y" * 10**6 + " end")
    assert len(line) <= 1000 and line.startswith("f.npz: yyy") and line.endswith(" end")
    assert error_line("short\nmessage") == "short message"
