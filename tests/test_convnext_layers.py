"""ConvNeXt's LayerNorm over the channels (``ChannelNorm``: relevance passes as its gradient,
as zennit's autograd takes it) and its ``nn.Linear`` at every position (``PositionwiseDense``:
a 1×1 convolution to compute, a dense layer to the presets). The zoo fixture ``convnext_ts``
(tests/test_zoo_reference.py) checks the relevance against zennit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import lrpcore
from lrpcore import ModelFormatError
from lrpcore.graph_norms import ChannelNorm, PositionwiseDense
from lrpcore.presets import PRESETS

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

ZOO = Path(__file__).parent / "data" / "zoo"
RNG = np.random.default_rng(11)


def test_channel_norm_normalises_each_position_and_its_gradient_is_exact():
    layer = ChannelNorm(0.5 + RNG.uniform(size=5), RNG.normal(size=5), 1e-6)
    x = RNG.normal(size=(2, 3, 4, 5)) * 3 + 1
    y = layer.forward(x, np)
    xhat = (y - layer.shift) / layer.scale
    np.testing.assert_allclose(xhat.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(xhat.var(axis=-1), 1, rtol=1e-5)  # var / (var + 1e-6)
    g = RNG.normal(size=y.shape)
    back = layer.gradient(x, y, g, np, np.float64)
    h, numeric = 1e-6, np.zeros_like(x)
    for index in [(0, 0, 0, 0), (1, 2, 3, 4), (0, 1, 2, 3)]:
        step = np.zeros_like(x)
        step[index] = h
        numeric[index] = np.vdot(layer.forward(x + step, np) - layer.forward(x - step, np),
                                 g) / (2 * h)
        assert back[index] == pytest.approx(numeric[index], rel=1e-6)
    # the gradient of a normalisation sums to zero over the channels of each position
    np.testing.assert_allclose(back.sum(axis=-1), 0, atol=1e-12)


def test_positionwise_dense_is_a_dense_layer_to_the_presets():
    layer = PositionwiseDense(RNG.normal(size=(4, 3)), RNG.normal(size=3))
    x = RNG.normal(size=(2, 5, 6, 4))
    np.testing.assert_allclose(layer.forward(x, np), x @ layer.W[0, 0] + layer.B, rtol=1e-12)
    for name in ("EpsilonPlus", "EpsilonGammaBox", "EpsilonAlpha2Beta1"):
        rule = PRESETS[name].choose(3, layer, 0, 1)
        assert rule.spec() == "epsilon:1e-06", name  # as zennit's composites on nn.Linear


def test_the_convnext_fixture_keeps_its_relevance_through_a_native_file(tmp_path):
    path = ZOO / "convnext_ts.onnx"
    if not path.exists():
        pytest.skip("zoo fixture convnext is missing (tools/make_zoo_fixtures.py makes it)")
    model = lrpcore.load_model(path)
    kinds = {type(n.layer).__name__ for n in model.nodes}
    assert {"ChannelNorm", "PositionwiseDense"} <= kinds
    lrpcore.save_model(model, tmp_path / "convnext.npz")
    again = lrpcore.load_model(tmp_path / "convnext.npz")
    x = np.load(ZOO / "convnext.npz")["x"]
    for rule in ("EpsilonPlus", "EpsilonGammaBox"):
        np.testing.assert_allclose(
            lrpcore.explain(again, x, rule=rule, raw=True, dtype="float64"),
            lrpcore.explain(model, x, rule=rule, raw=True, dtype="float64"), rtol=1e-12)


def _layer_norm_model(tmp_path, conv_first):
    """LayerNormalization over the last axis (the width) of an N×3×4×5 tensor: the input as
    given, or a convolution's output (which the engine stores channels-last)."""
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv")] if conv_first else []
    nodes.append(helper.make_node("LayerNormalization", ["c" if conv_first else "x", "s", "b"],
                                  ["n"], name="norm", axis=-1, epsilon=1e-6))
    nodes.append(helper.make_node("Flatten", ["n"], ["y"], name="flat"))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 60])],
        [numpy_helper.from_array(np.eye(3, dtype=np.float32).reshape(3, 3, 1, 1), "W"),
         numpy_helper.from_array(np.arange(1, 6, dtype=np.float32), "s"),
         numpy_helper.from_array(np.ones(5, np.float32), "b")])
    path = tmp_path / "norm.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_layer_norm_over_the_last_axis_as_onnx_defines_it_or_refused(tmp_path):
    """Where the engine keeps the ONNX shape (the input as given, after a Transpose to
    N×H×W×C) its last axis is ONNX's; after a convolution it stores C last, and a norm over
    the width is refused, not computed over the channels."""
    x = RNG.normal(size=(2, 3, 4, 5))
    model = lrpcore.load_model(_layer_norm_model(tmp_path, conv_first=False))
    centred = x - x.mean(axis=-1, keepdims=True)
    want = centred / np.sqrt((centred ** 2).mean(axis=-1, keepdims=True) + 1e-6) \
        * np.arange(1, 6) + 1
    got = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True).outputs()
    np.testing.assert_allclose(got, want.reshape(2, -1), rtol=1e-6)  # ε is float32 in ONNX
    with pytest.raises(ModelFormatError, match="'norm'.*LayerNormalization along axis -1 .*"
                                               "only over the channels"):
        lrpcore.load_model(_layer_norm_model(tmp_path, conv_first=True))


def test_the_diagnosis_says_a_layer_norm_does_not_conserve_by_design():
    """Its gradient sums to zero over the features: the layer before it gets ΣR = 0."""
    from lrpcore.graph import GraphModel, Node
    from lrpcore.insight.diagnose import diagnose
    from lrpcore.layers import Linear
    from lrpcore.spec import InputSpec

    nodes = [Node("fc1", Linear(RNG.normal(size=(4, 6)), RNG.normal(size=6) * 0.1), ("x",), "a"),
             Node("norm", ChannelNorm(0.5 + RNG.uniform(size=6), RNG.normal(size=6)), ("a",),
                  "b"),
             Node("fc2", Linear(RNG.normal(size=(6, 3)), RNG.normal(size=3) * 0.1), ("b",),
                  "y")]
    model = GraphModel(nodes, "x", "y", InputSpec(shape=(4,), raw_shape=(4,), layout="flat",
                                                  value_range=(-1.0, 1.0),
                                                  raw_range=(-1.0, 1.0)))
    fw = lrpcore.Explainer(model, dtype="float64").forward(RNG.normal(size=(3, 4)), raw=True)
    diagnosis = diagnose(fw, "epsilon:0.01")
    norms = [f for f in diagnosis.expected if f.cause == "normalisation"]
    assert norms and all(f.expected and "ChannelNorm" in f.description for f in norms)
    assert not diagnosis.findings  # a note of the design, not a warning


def test_a_gather_of_a_flattened_batch_other_than_its_own_view_is_refused(tmp_path):
    """dynamo's ``as_strided`` of a batch of one (Reshape to [-1], Gather of every index in
    order, shaped as before) is the tensor itself (convnext_dynamo); reversed indices would
    mix the batch axis into the features."""
    path = ZOO / "convnext_dynamo.onnx"
    if not path.exists():
        pytest.skip("zoo fixture convnext is missing (tools/make_zoo_fixtures.py makes it)")
    proto = onnx.load(path)
    gather = next(n for n in proto.graph.node if n.op_type == "Gather")
    index = next(i for i in proto.graph.initializer if i.name == gather.input[1]) \
        if any(i.name == gather.input[1] for i in proto.graph.initializer) else None
    if index is None:  # a Constant node
        const = next(n for n in proto.graph.node if gather.input[1] in n.output)
        values = numpy_helper.to_array(const.attribute[0].t)
        const.attribute[0].t.CopyFrom(numpy_helper.from_array(values.reshape(-1)[::-1]
                                                              .reshape(values.shape)))
    else:
        values = numpy_helper.to_array(index)
        index.CopyFrom(numpy_helper.from_array(values.reshape(-1)[::-1].reshape(values.shape),
                                               index.name))
    onnx.save(proto, tmp_path / "mixed.onnx")
    with pytest.raises(ModelFormatError, match="mixed.onnx.*Gather of a batch flattened to "
                                               "one axis is supported only as the view"):
        lrpcore.load_model(tmp_path / "mixed.onnx")
