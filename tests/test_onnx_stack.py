"""zennit's ``Sum`` layer inside a model: ``self.sum(torch.stack([a, b], dim=-1))``, as zennit's
canonizers rewrite torchvision's blocks, reaches ONNX as Unsqueeze along a new last axis,
Concat along it and ReduceSum over it. It was refused ("Unsqueeze of data along [3] …: only a
sequence's N×C×L to N×C×1×L"); the three operators are one Add of the summands (zennit's Norm
at Sum), and any other use of the stacked tensor is refused in one line. The zoo's ``zsum``
(both exporters) is checked against zennit in tests/test_zoo_reference.py."""

from __future__ import annotations

import numpy as np
import pytest
from hostile_files import save_onnx_graph

import lrpcore
from lrpcore import ModelFormatError, load_model

onnx = pytest.importorskip("onnx")
from onnx import helper, numpy_helper  # noqa: E402


def _inits():
    rng = np.random.RandomState(0)
    return [numpy_helper.from_array(rng.randn(4, 4).astype(np.float32), "W1"),
            numpy_helper.from_array(rng.randn(4, 4).astype(np.float32), "W2"),
            numpy_helper.from_array(rng.randn(4, 3).astype(np.float32), "W3"),
            numpy_helper.from_array(np.array([-1], np.int64), "last"),
            numpy_helper.from_array(np.array([1], np.int64), "one")]


def _net(tmp_path, merge, name="m.onnx"):
    """x → relu(x W1) = r, r W2 = s, merge(r, s) → relu → W3."""
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["z"], name="fc1"),
             helper.make_node("Relu", ["z"], ["r"], name="relu"),
             helper.make_node("MatMul", ["r", "W2"], ["s"], name="fc2"),
             *merge,
             helper.make_node("Relu", ["m"], ["h"], name="relu2"),
             helper.make_node("MatMul", ["h", "W3"], ["y"], name="fc3")]
    return save_onnx_graph(tmp_path / name, nodes, _inits(), (1, 4), (1, 3))


def _stack(axes="last", keepdims=0, concat_axis=-1, reduce="ReduceSum"):
    return [helper.make_node("Unsqueeze", ["r", "last"], ["ur"], name="u1"),
            helper.make_node("Unsqueeze", ["s", "last"], ["us"], name="u2"),
            helper.make_node("Concat", ["ur", "us"], ["st"], name="stack", axis=concat_axis),
            helper.make_node(reduce, ["st", axes], ["m"], name="sum", keepdims=keepdims)]


def test_a_stack_summed_is_the_add_of_its_summands(tmp_path):
    added = load_model(_net(tmp_path, [helper.make_node("Add", ["r", "s"], ["m"])], "a.onnx"))
    stacked = load_model(_net(tmp_path, _stack(), "s.onnx"))
    assert [n.layer.kind for n in stacked.nodes] == [n.layer.kind for n in added.nodes]
    x = np.random.RandomState(1).randn(5, 4)
    for rule in ("EpsilonPlus", "epsilon:0.01"):
        R = [lrpcore.Explainer(m, dtype="float64").forward(x, raw=True).relevance(rule)
             for m in (added, stacked)]
        np.testing.assert_array_equal(R[0], R[1])


@pytest.mark.parametrize("merge, says", [
    (_stack(axes="one"), "node 6 'sum' (ReduceSum): ReduceSum over [1] is supported only as "
                         "zennit's Sum layer writes it"),
    (_stack(keepdims=1), "ReduceSum over [-1] is supported only as zennit's Sum layer"),
    (_stack()[:3] + [helper.make_node("Relu", ["st"], ["m"], name="act")],
     "node 6 'act' (Relu): Relu of the output of 'stack' (Unsqueeze of data along a new last "
     "axis, as torch.stack writes it) is not supported"),
    (_stack(concat_axis=1), "node 5 'stack' (Concat): Concat of stacked tensors (torch.stack) is "
                            "supported only along the stacking axis"),
    ([helper.make_node("Unsqueeze", ["r", "last"], ["ur"]),
      helper.make_node("Unsqueeze", ["s", "last"], ["us"]),
      helper.make_node("Concat", ["ur", "us", "s"], ["st"], name="stack", axis=-1)],
     "Concat of stacked tensors (torch.stack) is supported only along the stacking axis, of "
     "stacked tensors alone"),
])
def test_other_uses_of_a_stack_are_refused_in_one_line(tmp_path, merge, says):
    with pytest.raises(ModelFormatError) as err:
        load_model(_net(tmp_path, merge))
    assert says in str(err.value) and "\n" not in str(err.value)


def test_a_stack_as_the_output_is_refused(tmp_path):
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["z"]),
             helper.make_node("Unsqueeze", ["z", "last"], ["y"])]
    path = save_onnx_graph(tmp_path / "o.onnx", nodes, _inits(), (1, 4), (1, 4, 1))
    with pytest.raises(ModelFormatError) as err:
        load_model(path)
    assert str(err.value) == (f"{path}: the graph output 'y' is a stack of tensors (Unsqueeze "
                              "along a new last axis, as torch.stack writes it); only its sum "
                              "is supported")
