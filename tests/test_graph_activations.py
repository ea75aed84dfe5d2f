"""The element-wise activations of lrpcore.graph_activations: forward as ONNX defines it,
gradients equal to finite differences, a PRelu slope that fits no channel count refused."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore import ModelFormatError
from lrpcore.graph_activations import SELU_ALPHA, SELU_GAMMA, Elu, HardSigmoid, PRelu, Sigmoid

X = np.linspace(-5, 5, 41).reshape(1, 41) + 0.013  # no kink lands on a sample point

CASES = [
    (Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (Elu(0.7), lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1))),
    (Elu(SELU_ALPHA, SELU_GAMMA),
     lambda x: SELU_GAMMA * np.where(x > 0, x, SELU_ALPHA * (np.exp(x) - 1))),
    (HardSigmoid(0.2, 0.5), lambda x: np.clip(0.2 * x + 0.5, 0, 1)),
    (HardSigmoid(1 / 6, 0.5, swish=True), lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
    (PRelu([0.25]), lambda x: np.where(x >= 0, x, 0.25 * x)),
]


@pytest.mark.parametrize("layer, want", CASES, ids=lambda c: getattr(c, "kind", ""))
def test_forward_and_gradient(layer, want):
    y = layer.forward(X, np)
    np.testing.assert_allclose(y, want(X), rtol=1e-12, atol=1e-12)
    h = 1e-6
    numeric = (want(X + h) - want(X - h)) / (2 * h)
    np.testing.assert_allclose(layer.gradient(X, y, np.ones_like(X), np, np.float64), numeric,
                               rtol=1e-5, atol=1e-7)


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
