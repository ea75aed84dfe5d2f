"""The element-wise activations of lrpcore.graph_activations: forward as ONNX defines it,
gradients equal to finite differences, a PRelu slope that fits no channel count refused."""

from __future__ import annotations

import numpy as np
import pytest
from gradient_checks import check_forward_and_gradient

import lrpcore
from lrpcore import ModelFormatError
from lrpcore.graph_activations import (
    SELU_ALPHA,
    SELU_GAMMA,
    Elu,
    HardSigmoid,
    PRelu,
    Sigmoid,
    Silu,
)

X = np.linspace(-5, 5, 41).reshape(1, 41) + 0.013  # no kink lands on a sample point

CASES = [
    (Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (Elu(0.7), lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1))),
    (Elu(SELU_ALPHA, SELU_GAMMA),
     lambda x: SELU_GAMMA * np.where(x > 0, x, SELU_ALPHA * (np.exp(x) - 1))),
    (HardSigmoid(0.2, 0.5), lambda x: np.clip(0.2 * x + 0.5, 0, 1)),
    (HardSigmoid(1 / 6, 0.5, swish=True), lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
    (PRelu([0.25]), lambda x: np.where(x >= 0, x, 0.25 * x)),
    (Silu(), lambda x: x / (1 + np.exp(-x))),
]


@pytest.mark.parametrize("layer, want", CASES, ids=lambda c: getattr(c, "kind", ""))
def test_forward_and_gradient(layer, want):
    check_forward_and_gradient(layer, want, X)


def test_prelu_per_channel_slope_acts_on_the_last_axis():
    layer = PRelu([0.1, 0.2, 0.3])
    x = -np.ones((1, 2, 2, 3))
    np.testing.assert_allclose(layer.forward(x, np)[0, 1, 1], [-0.1, -0.2, -0.3])


def test_a_prelu_slope_that_fits_no_channel_count_is_refused(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    slope = numpy_helper.from_array(np.full((5, 1, 1), 0.2, dtype=np.float32), "slope")
    graph = helper.make_graph(
        [helper.make_node("PRelu", ["x", "slope"], ["y"], name="prelu"),
         helper.make_node("GlobalAveragePool", ["y"], ["p"], name="pool"),
         helper.make_node("Flatten", ["p"], ["out"], name="flat")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 3])], [slope])
    path = tmp_path / "prelu.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(ModelFormatError, match=r"prelu.*slope of shape \[5, 1, 1\]"):
        lrpcore.load_model(path)


def test_x_times_its_own_sigmoid_is_silu_and_a_gate_from_elsewhere_is_a_gate(tmp_path):
    """SiLU is exported as Sigmoid and Mul of one tensor: one activation. A squeeze-and-
    excitation gate (Mul of a map and the sigmoid of its pooled, transformed copy) is a
    ``Gate`` (stop 23; it was refused); a product of two maps stays refused."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    def save(gate_of, name):
        W = numpy_helper.from_array(np.eye(3, dtype=np.float32).reshape(3, 3, 1, 1), "W")
        nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv"),
                 helper.make_node("GlobalAveragePool", ["c"], ["g"], name="squeeze"),
                 helper.make_node("Sigmoid", [gate_of], ["s"], name="sig"),
                 helper.make_node("Mul", ["c", "s"], ["m"], name="mul"),
                 helper.make_node("GlobalAveragePool", ["m"], ["p"], name="pool"),
                 helper.make_node("Flatten", ["p"], ["out"], name="flat")]
        graph = helper.make_graph(
            nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 4])],
            [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 3])], [W])
        path = tmp_path / name
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
        return path

    model = lrpcore.load_model(save("c", "silu.onnx"))
    assert [n.layer.kind for n in model.nodes][1:3] == ["Convolution", "Silu"]
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 4))
    np.testing.assert_allclose(model.forward(x), (x / (1 + np.exp(-x))).mean(axis=(2, 3)),
                               rtol=1e-6)
    gated = lrpcore.load_model(save("g", "gate.onnx"))
    assert "Gate" in [n.layer.kind for n in gated.nodes]
    s = 1 / (1 + np.exp(-x.mean(axis=(2, 3), keepdims=True)))
    np.testing.assert_allclose(gated.forward(x), (x * s).mean(axis=(2, 3)), rtol=1e-6)
    with pytest.raises(ModelFormatError, match="Mul of two tensors is not supported"):
        lrpcore.load_model(save("x", "product.onnx"))  # the sigmoid of the input: a full map
