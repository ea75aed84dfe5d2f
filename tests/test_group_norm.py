"""Group and instance normalisation (lrpcore.graph_norms.GroupNorm, lrpcore.io.onnx_norms):
the forms ONNX files hold them in compute what onnx's reference evaluator computes, and
relevance passes as their gradient. The zoo fixture ``groupnorm`` (tests/test_zoo_reference.py)
checks the relevance against zennit for both PyTorch exporters."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import lrpcore
from lrpcore import ModelFormatError
from lrpcore.graph_norms import ChannelNorm, GroupNorm

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

RNG = np.random.default_rng(11)
C = 6


def _const(name, value, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def _model(tmp_path, nodes, inits, in_shape=(C, 4, 5), opset=17, name="m.onnx"):
    """x → nodes (reading "x", writing "y") → Flatten."""
    graph = helper.make_graph(
        [*nodes, helper.make_node("Flatten", ["y"], ["out"], name="flat")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *in_shape])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", None])], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / name
    onnx.save(proto, path)
    return path, proto


def _torch_group_norm(groups, channels=C, first=0, positions=(1, 1)):
    """nn.GroupNorm as both PyTorch exporters write it: Reshape [N, g, −1], Instance-
    Normalization (scale 1, bias 0 per group), Reshape back, Mul, Add (per channel)."""
    nodes = [helper.make_node("Reshape", ["x", "to_groups"], ["g"], name="gn/reshape"),
             helper.make_node("InstanceNormalization", ["g", "ones", "zeros"], ["n"],
                              name="gn/norm", epsilon=1e-5),
             helper.make_node("Shape", ["x"], ["shape"], name="gn/shape"),
             helper.make_node("Reshape", ["n", "shape"], ["back"], name="gn/back"),
             helper.make_node("Mul", ["back", "gamma"], ["scaled"], name="gn/mul"),
             helper.make_node("Add", ["scaled", "beta"], ["y"], name="gn/add")]
    inits = [_const("to_groups", [first, groups, -1], np.int64),
             _const("ones", np.ones(groups)), _const("zeros", np.zeros(groups)),
             _const("gamma", RNG.uniform(0.5, 2, (channels, *positions))),
             _const("beta", RNG.normal(size=(channels, *positions)))]
    return nodes, inits


def _agrees(path, proto, in_shape=(C, 4, 5), atol=1e-5):
    x = RNG.normal(size=(3, *in_shape)).astype(np.float32) * 2 + 0.5
    want = ReferenceEvaluator(proto).run(None, {"x": x})[0]
    model = lrpcore.load_model(path)
    got = lrpcore.Explainer(model, dtype="float64").forward(x.astype(np.float64),
                                                           raw=True).outputs()
    np.testing.assert_allclose(got, want, rtol=0, atol=atol)
    return model


@pytest.mark.parametrize("groups", [1, 2, C])
def test_torch_group_norm_is_one_group_norm_with_its_scale_and_shift(tmp_path, groups):
    path, proto = _model(tmp_path, *_torch_group_norm(groups))
    model = _agrees(path, proto)
    kinds = [n.layer.kind for n in model.nodes]
    assert kinds.count("GroupNorm") == 1 and "Scale" not in kinds and "Affine" not in kinds
    norm = next(n.layer for n in model.nodes if n.layer.kind == "GroupNorm")
    assert norm.groups == groups


def test_a_group_norm_of_a_sequence_loads(tmp_path):
    """Conv1d features (N×C×L) are normalised the same way."""
    path, proto = _model(tmp_path, *_torch_group_norm(3, positions=(1,)), in_shape=(C, 7))
    _agrees(path, proto, in_shape=(C, 7))


def test_instance_normalization_of_a_map_is_a_group_per_channel(tmp_path):
    node = helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"], name="inorm",
                            epsilon=1e-3)
    path, proto = _model(tmp_path, [node], [_const("s", RNG.uniform(0.5, 2, C)),
                                            _const("b", RNG.normal(size=C))])
    model = _agrees(path, proto)
    norm = next(n.layer for n in model.nodes if n.layer.kind == "GroupNorm")
    assert norm.groups == C and norm.eps == pytest.approx(1e-3)


@pytest.mark.parametrize("opset,per", [(18, "group"), (21, "channel")])
def test_group_normalization_reads_its_scale_per_group_or_per_channel(tmp_path, opset, per):
    """ONNX redefined the operator at opset 21: its scale and bias became per channel."""
    count = 3 if per == "group" else C
    node = helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], name="gn",
                            num_groups=3, epsilon=1e-5)
    path, proto = _model(tmp_path, [node], [_const("s", RNG.uniform(0.5, 2, count)),
                                            _const("b", RNG.normal(size=count))], opset=opset)
    _agrees(path, proto)


def test_relevance_passes_as_the_gradient_of_the_normalisation():
    """J^T g against central differences of the forward pass, for groups of several channels
    and of one."""
    for groups in (2, C):
        layer = GroupNorm(RNG.uniform(0.5, 2, C), RNG.normal(size=C), groups, 1e-5)
        x = RNG.normal(size=(2, 4, 5, C))
        g, d = RNG.normal(size=x.shape), RNG.normal(size=x.shape)
        back = layer.gradient(x, layer.forward(x, np), g, np, np.float64)
        h = 1e-6
        numeric = (np.vdot(layer.forward(x + h * d, np), g)
                   - np.vdot(layer.forward(x - h * d, np), g)) / (2 * h)
        assert np.vdot(back, d) == pytest.approx(numeric, rel=1e-7)


def _read_grouped_by_relu(nodes, inits):
    nodes.insert(1, helper.make_node("Relu", ["g"], ["g2"], name="odd"))
    nodes[2].input[0] = "g2"


def _reshape_back_flat(nodes, inits):
    nodes[3].input[1] = "flat_shape"
    inits.append(_const("flat_shape", [0, -1], np.int64))


def _replace(k, value):
    return lambda nodes, inits: inits.__setitem__(k, value)


def _negative_epsilon(nodes, inits):
    nodes[1].attribute[0].f = -1.0


@pytest.mark.parametrize("change,message", [
    (_read_grouped_by_relu, "'odd'.*Relu of the .* tensor a group normalisation reshapes"),
    (_replace(0, _const("to_groups", [0, 4, -1], np.int64)),
     "'gn/reshape'.*Reshape of a .* is not a flatten"),
    (_reshape_back_flat, "'gn/back'.*group normalisation's .* only back to its map's shape"),
    (_replace(1, _const("ones", np.ones(3))),
     "'gn/norm'.*scale must hold 2 finite numbers in one axis, one per group; it holds \\[3\\]"),
    (_replace(2, _const("zeros", np.zeros((1, 2)))),
     "'gn/norm'.*bias must hold 2 finite numbers in one axis, one per group; it holds "
     "\\[1, 2\\]"),
    (_negative_epsilon, "'gn/norm'.*epsilon '-1.0' must be a positive number"),
])
def test_what_is_not_a_group_norm_is_refused_naming_the_node(tmp_path, change, message):
    nodes, inits = _torch_group_norm(2)
    change(nodes, inits)
    path, _ = _model(tmp_path, nodes, inits)
    with pytest.raises(ModelFormatError, match=f"m.onnx: node .*{message}"):
        lrpcore.load_model(path)


def test_a_graph_ending_in_the_grouped_map_is_refused(tmp_path):
    nodes = [helper.make_node("Reshape", ["x", "to_groups"], ["y0"], name="r"),
             helper.make_node("Identity", ["y0"], ["y"], name="id")]
    graph = helper.make_graph(nodes, "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                             ["N", C, 4, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [_const("to_groups", [0, 2, -1], np.int64)])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(ModelFormatError, match="m.onnx: the graph output 'y' is a map "
                                               "reshaped for a group normalisation"):
        lrpcore.load_model(path)


@pytest.mark.parametrize("key,value", [("groups", 4), ("groups", 0), ("eps", -1),
                                       ("channels", 5)])
def test_a_damaged_native_group_norm_is_refused_by_name(tmp_path, key, value):
    path, proto = _model(tmp_path, *_torch_group_norm(2))
    native = tmp_path / "m.npz"
    lrpcore.save_model(lrpcore.load_model(path), native)
    arrays = dict(np.load(native))
    header = json.loads(str(arrays["header"]))
    entry = next(i for i, layer in enumerate(header["layers"]) if layer["type"] == "GroupNorm")
    header["layers"][entry][key] = value
    arrays["header"] = np.array(json.dumps(header))
    np.savez(native, **arrays)
    with pytest.raises(ModelFormatError, match=f"m.npz: (header layer {entry}|array "
                                               f"'layer{entry}.W')"):
        lrpcore.load_model(native)


def test_a_native_round_trip_keeps_the_group_norm(tmp_path):
    path, proto = _model(tmp_path, *_torch_group_norm(3))
    model = lrpcore.load_model(path)
    native = tmp_path / "m.npz"
    lrpcore.save_model(model, native)
    x = RNG.normal(size=(2, C, 4, 5))
    np.testing.assert_array_equal(lrpcore.explain(lrpcore.load_model(native), x, raw=True,
                                                  rule="epsilon:0.01"),
                                  lrpcore.explain(model, x, raw=True, rule="epsilon:0.01"))


@pytest.mark.parametrize("groups,says", [(2, "a GroupNorm .* each group of channels"),
                                         (C, "an InstanceNorm .* each channel's map")])
def test_the_diagnosis_names_the_normalisation_and_what_its_gradient_sums_over(groups, says):
    """The note said "a LayerNorm ... over the channels of each position" for every norm."""
    from lrpcore.graph import GraphModel, Node
    from lrpcore.graph_layers import FlattenChannelsFirst, MeanPool
    from lrpcore.insight.diagnose import diagnose
    from lrpcore.layers import Convolution, Linear, Rect
    from lrpcore.spec import InputSpec

    nodes = [Node("conv", Convolution(RNG.normal(size=(1, 1, 3, C)), RNG.normal(size=C)),
                  ("x",), "a"),
             Node("norm", GroupNorm(RNG.uniform(0.5, 2, C), RNG.normal(size=C), groups),
                  ("a",), "b"),
             Node("relu", Rect(), ("b",), "c"),
             Node("gap", MeanPool((4, 5), (4, 5)), ("c",), "d"),
             Node("flat", FlattenChannelsFirst(), ("d",), "e"),
             Node("fc", Linear(RNG.normal(size=(C, 3)), RNG.normal(size=3) * 0.1), ("e",), "y")]
    model = GraphModel(nodes, "x", "y", InputSpec(shape=(4, 5, 3), raw_shape=(4, 5, 3),
                                                  layout="NHWC", value_range=(-1.0, 1.0),
                                                  raw_range=(-1.0, 1.0)))
    fw = lrpcore.Explainer(model, dtype="float64").forward(RNG.normal(size=(2, 4, 5, 3)),
                                                           raw=True)
    notes = [f for f in diagnose(fw, "epsilon:0.01").expected if f.cause == "normalisation"]
    assert notes and all(re.search(says, f.reason) for f in notes)


@pytest.mark.parametrize("layer", [ChannelNorm(np.ones(3), np.full(3, 0.25), eps=1e-50),
                                   GroupNorm(np.ones(4), np.full(4, 0.25), 2, eps=1e-50)])
def test_an_eps_below_float32s_range_keeps_constant_values_finite(layer):
    """eps 1e-50 rounds to 0 in float32: a set of equal values then divided 0 by 0."""
    x = np.ones((2, 3, 3, layer.scale.size), dtype=np.float32)
    x[0, 0, 0] = np.arange(layer.scale.size)  # one position that varies
    y32 = layer.forward(x, np)
    y64 = layer.forward(x.astype(np.float64), np)
    assert np.isfinite(y32).all()
    np.testing.assert_allclose(y32, y64, rtol=1e-5, atol=1e-6)
    g = layer.gradient(x, y32, np.ones_like(y32), np, np.float32)
    assert np.isfinite(g).all()
