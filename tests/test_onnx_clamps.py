"""Clamps open on one side: ``x.clamp(min=0)`` (TorchScript: Clip with a min only; dynamo: Max
of the tensor and 0) and ``x.clamp(max=3)`` (Clip with a max only). The zoo's ``clamps_*``
check relevance against zennit; these check how they read and what is refused."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore import ModelFormatError
from lrpcore.cli.main import main

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _save(tmp_path, node, inits=(), before=()):
    graph = helper.make_graph(
        [*before, node, helper.make_node("Flatten", ["y"], ["out"], name="flat")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 2, 2])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 8])], list(inits))
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _value(name, v):
    return numpy_helper.from_array(np.asarray(v, dtype=np.float32), name)


@pytest.mark.parametrize("op, inputs, text, low, high", [
    ("Clip", ["x", "lo"], "Clip [0, ∞]", 0.0, None),
    ("Clip", ["x", "", "hi"], "Clip [−∞, 3]", None, 3.0),
    ("Max", ["x", "lo"], "Clip [0, ∞]", 0.0, None),
    ("Min", ["hi", "x"], "Clip [−∞, 3]", None, 3.0),
])
def test_a_one_sided_clamp_reads_and_describes(tmp_path, capsys, op, inputs, text, low, high):
    """A Clip open on one side loaded, and ``lrp info`` ended in an internal error describing
    it; dynamo's Max (x.clamp(min=0)) was refused."""
    path = _save(tmp_path, helper.make_node(op, inputs, ["y"], name="clamp"),
                 [_value("lo", 0.0), _value("hi", 3.0)])
    model = lrpcore.load_model(path)
    assert text in [n.layer.describe() for n in model.nodes]
    x = np.random.default_rng(0).uniform(-5, 5, (2, 2, 2, 2))
    y = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True).outputs()
    np.testing.assert_allclose(y, np.clip(x, low, high).reshape(2, -1), rtol=1e-7)
    assert main(["info", str(path)]) == 0
    assert text in capsys.readouterr().out


@pytest.mark.parametrize("inputs, inits, text", [
    (["x", "x"], [], "Max of 2 tensors is not supported"),
    (["x", "v"], [_value("v", [0.0, 1.0])], "only of one value"),
])
def test_a_max_of_tensors_or_of_several_values_is_refused(tmp_path, inputs, inits, text):
    path = _save(tmp_path, helper.make_node("Max", inputs, ["y"], name="m"), inits)
    with pytest.raises(ModelFormatError, match=f"'m'.*{text}") as info:
        lrpcore.load_model(path)
    assert "\n" not in str(info.value)


def test_a_difference_of_two_tensors_is_not_called_a_product(tmp_path):
    """Keras's Subtract layer (Sub of two tensors) was refused as 'a product of two signals'."""
    path = _save(tmp_path, helper.make_node("Sub", ["x", "r"], ["y"], name="minus"),
                 before=[helper.make_node("Relu", ["x"], ["r"], name="relu")])
    with pytest.raises(ModelFormatError, match="'minus'.*no rule for a difference") as info:
        lrpcore.load_model(path)
    assert "product" not in str(info.value)
