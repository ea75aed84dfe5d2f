"""Broken and hostile ONNX graphs (residual models): each is refused at load with one line naming
the file, and `lrp explain` exits 2 writing nothing. Found in acceptance review: these reached
internal errors, blamed the input, or wrapped a 2⁶⁴ overflow past the size bounds."""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore import ModelFormatError, load_model
from lrpcore.cli.main import main

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _model(in_shape=(1, 3, 8, 8), mutate=None):
    """Conv → Relu → Add(skip) → GlobalAveragePool → Flatten → Gemm: a graph model."""
    rng = np.random.RandomState(0)
    inits = [numpy_helper.from_array(rng.randn(3, 3, 3, 3).astype(np.float32), "W"),
             numpy_helper.from_array(np.zeros(3, np.float32), "B"),
             numpy_helper.from_array(rng.randn(2, 3).astype(np.float32), "G"),
             numpy_helper.from_array(np.zeros(2, np.float32), "GB")]
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], name="conv", pads=[1, 1, 1, 1],
                              kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Add", ["r", "x"], ["a"], name="add"),
             helper.make_node("GlobalAveragePool", ["a"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "G", "GB"], ["y"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                             list(in_shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    if mutate:
        mutate(model)
    return model


def _set_attr(node_index, name, value):
    def mutate(m):
        node = m.graph.node[node_index]
        for a in list(node.attribute):
            if a.name == name:
                node.attribute.remove(a)
        node.attribute.append(helper.make_attribute(name, value))
    return mutate


def _replace_init(index, array, name):
    def mutate(m):
        m.graph.initializer[index].CopyFrom(numpy_helper.from_array(array, name))
    return mutate


def _batchnorm_negative_variance(m):
    m.graph.node.insert(1, helper.make_node("BatchNormalization", ["c", "s", "b", "mu", "var"],
                                            ["cb"], name="bn"))
    m.graph.node[2].input[0] = "cb"
    m.graph.initializer.extend(
        [numpy_helper.from_array(np.ones(3, np.float32), k) for k in ("s", "b", "mu")]
        + [numpy_helper.from_array(np.full(3, -1, np.float32), "var")])


def _leaky_nan(m):
    m.graph.node[1].op_type = "LeakyRelu"
    m.graph.node[1].attribute.append(helper.make_attribute("alpha", float("nan")))


def _broadcast_bomb(m):
    m.graph.node.insert(0, helper.make_node("Add", ["ca", "cb"], ["cc"], name="bomb"))
    m.graph.initializer.extend([numpy_helper.from_array(np.ones(1 << 20, np.int64), "ca"),
                                numpy_helper.from_array(np.ones((1 << 20, 1), np.int64), "cb")])


def _duplicate_output(m):
    m.graph.node[1].output[0] = "c"
    m.graph.node[2].input[0] = "c"


def _dims_2_40(m):
    dims = m.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_value = dims[3].dim_value = 2 ** 40  # 3·2⁸⁰ wraps to 0 in int64


CASES = {
    "conv strides 0": (_set_attr(0, "strides", [0, 0]), "strides"),
    "kernel_shape disagrees with filters": (_set_attr(0, "kernel_shape", [5, 5]),
                                            "kernel_shape"),
    "Gemm bias of the wrong size": (_replace_init(3, np.ones(5, np.float32), "GB"), "bias"),
    "Conv bias of the wrong size": (_replace_init(1, np.ones(9, np.float32), "B"), "biases"),
    "BatchNormalization with negative variance": (_batchnorm_negative_variance, "variance"),
    "LeakyRelu alpha NaN": (_leaky_nan, "alpha"),
    "broadcast of constants to 2⁴⁰ values": (_broadcast_bomb, "more than"),
    "a tensor written twice": (_duplicate_output, "second time"),
    "two nodes of one name": (lambda m: setattr(m.graph.node[1], "name", "conv"), "named"),
    "pool without kernel_shape": (lambda m: setattr(m.graph.node[3], "op_type", "MaxPool"),
                                  "kernel_shape"),
    "input size overflowing int64": (_dims_2_40, "values per sample"),
}


@pytest.fixture
def write(tmp_path):
    def _write(mutate):
        path = tmp_path / "hostile.onnx"
        onnx.save(_model(mutate=mutate), str(path))
        return path
    return _write


def test_the_unmodified_model_loads(write):
    model = load_model(write(None))  # plus ToChannelsLast and the Conv's Pad
    assert [n.name for n in model.nodes][-6:] == ["conv", "relu", "add", "gap", "flat", "fc"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_at_load_in_one_line_naming_the_file(write, case):
    mutate, phrase = CASES[case]
    path = write(mutate)
    with pytest.raises(ModelFormatError) as info:
        load_model(path)
    text = str(info.value)
    assert text.startswith(str(path)), text
    assert phrase in text and "\n" not in text


@pytest.mark.parametrize("case", ["conv strides 0", "Gemm bias of the wrong size",
                                  "LeakyRelu alpha NaN",
                                  "BatchNormalization with negative variance"])
def test_cli_exits_2_and_writes_nothing(write, tmp_path, capsys, case):
    path = write(CASES[case][0])
    x = tmp_path / "x.npy"
    np.save(x, np.random.RandomState(0).rand(2, 3, 8, 8))
    out = tmp_path / "out"
    out.mkdir()
    code = main(["explain", str(path), str(x), "--raw", "--out", str(out / "R.npy")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert list(out.iterdir()) == []
    assert len(err.splitlines()) == 1 and str(path) in err and "internal" not in err
