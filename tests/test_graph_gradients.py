"""Gradient baselines (sensitivity, gradient × input) on graph models: backpropagation over the
DAG (gradients of a tensor read twice add up; merges, Clip, LeakyReLU, layout changes), equal to
central differences of the model's own forward pass. Compare and Pixel-flipping offer these
baselines by default, and on every graph model (ResNet, EfficientNet) they failed with "no
gradient is defined"."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore.insight import gradient_x_input, input_gradient

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

RNG = np.random.default_rng(3)


def _w(*shape):
    return (RNG.standard_normal(shape) * 0.4).astype(np.float32)


def _residual_net(path):
    """Conv → LeakyReLU → BatchNorm (unfoldable) → depthwise conv → Clip, + skip (Add) →
    padded MaxPool → 1×1 conv → ReLU, Concat with the pool → AveragePool → Flatten → Gemm."""
    inits, nodes = [], []

    def init(name, a):
        inits.append(numpy_helper.from_array(np.asarray(a), name))
        return name

    def node(op, ins, out, **kw):
        nodes.append(helper.make_node(op, ins, [out], name=f"/{out}", **kw))
        return out

    node("Conv", ["x", init("w1", _w(6, 3, 3, 3)), init("b1", _w(6))], "c1", pads=[1, 1, 1, 1])
    node("LeakyRelu", ["c1"], "r1", alpha=0.1)
    node("BatchNormalization", ["r1", init("s", _w(6) + 1), init("t", _w(6)),
                                init("m", np.zeros(6, np.float32)),
                                init("v", np.ones(6, np.float32))], "bn")
    node("Conv", ["bn", init("wd", _w(6, 1, 3, 3)), init("bd", _w(6))], "dw", pads=[1, 1, 1, 1],
         group=6)
    node("Clip", ["dw", init("lo", np.array(0, np.float32)), init("hi", np.array(0.6, np.float32))],
         "cl")
    node("Add", ["cl", "bn"], "add")
    node("MaxPool", ["add"], "mp", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    node("Conv", ["mp", init("w2", _w(4, 6, 1, 1)), init("b2", _w(4))], "c2")
    node("Relu", ["c2"], "r2")
    node("Concat", ["mp", "r2"], "cat", axis=1)
    node("AveragePool", ["cat"], "ap", kernel_shape=[2, 2], strides=[2, 2])
    node("Flatten", ["ap"], "flat")
    node("Gemm", ["flat", init("wf", _w(5, 40)), init("bf", _w(5))], "logits", transB=1)
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 5])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return lrpcore.load_model(path)


def _numeric_gradient(model, x, cls, h=1e-6):
    ex = lrpcore.Explainer(model, dtype="float64")
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (ex.forward(xp[None], raw=True).outputs()[0, cls]
                  - ex.forward(xm[None], raw=True).outputs()[0, cls]) / (2 * h)
    return g


def test_graph_gradient_equals_central_differences(tmp_path):
    model = _residual_net(tmp_path / "net.onnx")
    x = RNG.uniform(0, 1, (2, 3, 8, 8))
    fwd = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True)
    g = input_gradient(fwd, target=2)
    assert g.shape == x.shape
    for n in range(2):
        want = _numeric_gradient(model, x[n], 2)
        np.testing.assert_allclose(g[n], want, atol=1e-6 * np.abs(want).max())
    np.testing.assert_allclose(gradient_x_input(fwd, target=2), g * x)


def test_resnet_gradient_x_input_is_lrp_0_without_biases():
    """For a ReLU network with its biases zeroed, LRP-0 (Norm at the Adds, z-rule elsewhere)
    equals gradient × input: an independent check on the real ResNet's DAG."""
    from shared_data import shared_path

    model = lrpcore.load_model(shared_path("models", "torch_onnx", "mnist_resnet.onnx"))
    for node in model.nodes:
        if getattr(node.layer, "B", None) is not None:
            node.layer.B = np.zeros_like(node.layer.B)
            node.layer.clear_cache()
    x = RNG.uniform(0, 1, (2, 1, 28, 28))
    fwd = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True)
    gi = gradient_x_input(fwd)
    R = fwd.relevance("epsilon:1e-12", layer_rules={k: "epsilon:1e-12" for k, n in
                                                   enumerate(model.nodes)
                                                   if n.layer.kind in ("Add", "MeanPool")})
    np.testing.assert_allclose(R, gi, atol=1e-8 * np.abs(gi).max())

