"""Keras's GroupNormalization and LayerNormalization as tf2onnx writes them (arithmetic: the
moments, rsqrt as Sqrt and Reciprocal, x · inv + (−mean · inv + β)) read as GroupNorm and
ChannelNorm (lrpcore/io/onnx_keras_norms.py); the fixture's relevance against zennit on a
PyTorch twin is in tests/test_zoo_reference.py (keras_norm_tf2onnx)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hostile_files import save_onnx_graph

import lrpcore
from lrpcore import ModelFormatError
from lrpcore.graph_norms import ChannelNorm, GroupNorm

onnx = pytest.importorskip("onnx")
from onnx import helper, numpy_helper  # noqa: E402

ZOO = Path(__file__).parent / "data" / "zoo"
RNG = np.random.default_rng(5)


def test_the_fixture_reads_each_normalisation_as_one_layer():
    """Refused at its first ReduceMean before; now five layers, nothing of the arithmetic
    left, and Keras's own outputs (float32) reproduced."""
    model = lrpcore.load_model(ZOO / "keras_norm_tf2onnx.onnx")
    kinds = [layer.describe() for layer in model.layers
             if isinstance(layer, ChannelNorm | GroupNorm)]
    assert kinds == ["GroupNorm 8 channels, 2 groups", "ChannelNorm over 8 channels",
                     "ChannelNorm over 8 channels", "InstanceNorm over 8 channels",
                     "ChannelNorm over 6 channels"]
    assert not [layer for layer in model.layers if layer.kind in ("Elementwise", "Multiply")]
    with np.load(ZOO / "keras_norm.npz") as ref:
        x, y = ref["x"], ref["Y"]
    np.testing.assert_allclose(lrpcore.predict(model, x, raw=True, dtype="float64"), y,
                               rtol=0, atol=1e-6)


def _norm_nodes(x, prefix, axes, gamma=None, beta=None, eps=1e-3, sub_order=None):
    """The arithmetic tf2onnx writes for a Keras normalisation of ``x`` over ``axes``:
    (nodes, initializers, output name)."""
    p = prefix
    inits = [numpy_helper.from_array(np.float32(eps), f"{p}eps")]
    nodes = [helper.make_node("ReduceMean", [x], [f"{p}mean"], axes=axes, keepdims=1),
             helper.make_node("Neg", [f"{p}mean"], [f"{p}neg"]),
             helper.make_node("Sub", sub_order or [x, f"{p}mean"], [f"{p}d"]),
             helper.make_node("Mul", [f"{p}d", f"{p}d"], [f"{p}sq"]),
             helper.make_node("ReduceMean", [f"{p}sq"], [f"{p}var"], axes=axes, keepdims=1),
             helper.make_node("Add", [f"{p}var", f"{p}eps"], [f"{p}ve"]),
             helper.make_node("Sqrt", [f"{p}ve"], [f"{p}s"]),
             helper.make_node("Reciprocal", [f"{p}s"], [f"{p}r"])]
    inv = f"{p}r"
    if gamma is not None:
        inits.append(numpy_helper.from_array(gamma.astype(np.float32), f"{p}gamma"))
        nodes.append(helper.make_node("Mul", [inv, f"{p}gamma"], [f"{p}inv"]))
        inv = f"{p}inv"
    nodes += [helper.make_node("Mul", [x, inv], [f"{p}a"]),
              helper.make_node("Mul", [f"{p}neg", inv], [f"{p}b"])]
    res = f"{p}b"
    if beta is not None:
        inits.append(numpy_helper.from_array(beta.astype(np.float32), f"{p}beta"))
        nodes.append(helper.make_node("Add", [res, f"{p}beta"], [f"{p}res"]))
        res = f"{p}res"
    nodes.append(helper.make_node("Add", [f"{p}a", res], [f"{p}y"]))
    return nodes, inits, f"{p}y"


def _dense_model(path, extra=None, **kw):
    """x (N×6) → the normalisation over its features → MatMul → 3 scores."""
    nodes, inits, y = _norm_nodes("x", "ln/", [1], **kw)
    inits.append(numpy_helper.from_array(RNG.normal(size=(6, 3)).astype(np.float32), "W"))
    nodes += (extra or []) + [helper.make_node("MatMul", [y, "W"], ["out"])]
    return save_onnx_graph(path, nodes, inits, [1, 6], [1, 3])


def _layer_norm(x, gamma, beta, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


@pytest.mark.parametrize("gamma, beta", [(True, True), (False, True), (True, False),
                                         (False, False)])
def test_a_layer_normalisation_with_or_without_gamma_and_beta(tmp_path, gamma, beta):
    g = RNG.uniform(0.5, 1.5, 6) if gamma else None
    b = RNG.normal(size=6) if beta else None
    path = _dense_model(tmp_path / "ln.onnx", gamma=g, beta=b, eps=1e-2)
    model = lrpcore.load_model(path)
    (norm,) = [layer for layer in model.layers if isinstance(layer, ChannelNorm)]
    x = RNG.normal(size=(4, 6))
    W = numpy_helper.to_array(onnx.load(str(path)).graph.initializer[-1]).astype(np.float64)
    want = _layer_norm(x, np.float32(g) if gamma else 1.0, np.float32(b) if beta else 0.0,
                       float(np.float32(1e-2))) @ W
    np.testing.assert_allclose(lrpcore.predict(model, x, raw=True, dtype="float64"), want,
                               rtol=1e-6, atol=1e-6)


def test_anything_else_stays_arithmetic_and_is_refused(tmp_path):
    """The mean read by another node too, the statistics of x − mean taken as mean − x:
    not the normalisation; refused at the first ReduceMean as before."""
    extra = [helper.make_node("Relu", ["ln/mean"], ["leak"])]
    with pytest.raises(ModelFormatError, match=r"ReduceMean"):
        lrpcore.load_model(_dense_model(tmp_path / "a.onnx", extra=extra,
                                        gamma=np.ones(6), beta=np.zeros(6)))
    with pytest.raises(ModelFormatError, match=r"ReduceMean"):
        lrpcore.load_model(_dense_model(tmp_path / "b.onnx", sub_order=["ln/mean", "x"]))


def test_a_gamma_not_one_per_feature_is_refused_naming_the_node(tmp_path):
    """A 2×3 gamma for 6 features (runtimes broadcast it otherwise or refuse it) was not
    loaded as its six values in a row."""
    path = _dense_model(tmp_path / "g.onnx", gamma=np.ones((2, 3)), beta=np.zeros(6))
    with pytest.raises(ModelFormatError, match=r"g\.onnx.*'LayerNormalization_0'.*gamma of shape "
                                               r"\[2, 3\] does not hold one finite value per"):
        lrpcore.load_model(path)


def _grouped_model(path, target, gamma_shape=(1, 1, 1, 2, 2)):
    """x (N×4×4×4, channels last) → Reshape to ``target`` → the group normalisation's
    arithmetic over axes 1, 2, 4 → Reshape back → global pooling → 4 scores."""
    nodes, inits, y = _norm_nodes("g5", "gn/", [1, 2, 4], gamma=RNG.uniform(
        0.5, 1.5, gamma_shape), beta=RNG.normal(size=gamma_shape))
    inits += [numpy_helper.from_array(np.array(target, np.int64), "to5"),
              numpy_helper.from_array(np.array([-1, 4, 4, 4], np.int64), "back"),
              numpy_helper.from_array(RNG.normal(size=(4, 4)).astype(np.float32), "W")]
    nodes = [helper.make_node("Reshape", ["x", "to5"], ["g5"])] + nodes + [
        helper.make_node("Reshape", [y, "back"], ["g4"]),
        helper.make_node("ReduceMean", ["g4"], ["pooled"], axes=[1, 2], keepdims=0),
        helper.make_node("MatMul", ["pooled", "W"], ["out"])]
    return save_onnx_graph(path, nodes, inits, [1, 4, 4, 4], [1, 4])


def test_a_group_normalisation_of_a_channels_last_map(tmp_path):
    model = lrpcore.load_model(_grouped_model(tmp_path / "gn.onnx", [-1, 4, 4, 2, 2]))
    (norm,) = [layer for layer in model.layers if isinstance(layer, GroupNorm)]
    assert norm.describe() == "GroupNorm 4 channels, 2 groups"
    x = RNG.normal(size=(3, 4, 4, 4))
    proto = onnx.load(str(tmp_path / "gn.onnx"))
    v = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in proto.graph.initializer}
    g5 = x.reshape(3, 4, 4, 2, 2)
    mean = g5.mean((1, 2, 4), keepdims=True)
    var = ((g5 - mean) ** 2).mean((1, 2, 4), keepdims=True)
    y = ((g5 - mean) / np.sqrt(var + v["gn/eps"]) * v["gn/gamma"] + v["gn/beta"])
    want = y.reshape(3, 4, 4, 4).mean((1, 2)) @ v["W"]
    np.testing.assert_allclose(lrpcore.predict(model, x, raw=True, dtype="float64"), want,
                               rtol=1e-6, atol=1e-6)
    assert np.isfinite(lrpcore.explain(model, x, rule="EpsilonPlus", raw=True)).all()


def test_a_grouping_that_is_not_of_the_channels_is_refused(tmp_path):
    """A Reshape of the 4×4×4 map to 2×8×2×2 regroups rows, not channels: refused naming the
    node, not read as a group norm of 2 groups."""
    path = _grouped_model(tmp_path / "rows.onnx", [-1, 2, 8, 2, 2])
    with pytest.raises(ModelFormatError, match=r"rows\.onnx.*Reshape of the \[4, 4, 4\] map "
                                               r"to \[-1, 2, 8, 2, 2\].*not supported"):
        lrpcore.load_model(path)


def _reference(path, x):
    """The file's outputs as onnx's own evaluator computes them (float32)."""
    from onnx.reference import ReferenceEvaluator  # noqa: PLC0415

    return ReferenceEvaluator(str(path)).run(None, {"x": x.astype(np.float32)})[0]


def _map_model(path, axes, shape, conv=True):
    """x (N×2×6×6) → Conv to 4 channels (or x itself, N×4×6×6) → the normalisation's
    arithmetic over ``axes`` with gamma and beta of ``shape`` → mean over H, W → 4 scores."""
    inits = [numpy_helper.from_array(RNG.normal(size=(4, 2, 3, 3)).astype(np.float32), "W")]
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"])] if conv else []
    more, extra, y = _norm_nodes("c" if conv else "x", "ln/", axes, gamma=RNG.uniform(
        0.5, 1.5, shape), beta=RNG.normal(size=shape))
    nodes += more + [helper.make_node("ReduceMean", [y], ["p"], axes=[2, 3], keepdims=0),
                     helper.make_node("Flatten", ["p"], ["out"])]
    return save_onnx_graph(path, nodes, inits + extra, [1, 2 if conv else 4, 6, 6], [1, 4])


@pytest.mark.parametrize("axes, shape, conv", [
    ([-3], (1, 4, 1, 1), True),  # axes counted from the end
    ([1], (4, 1, 1), True),  # gamma and beta per channel in their broadcast form
    ([1], (1, 4, 1, 1), False),  # over the channels of an N×C×H×W model input
])
def test_a_normalisation_over_the_channels_of_a_channels_first_map(tmp_path, axes, shape,
                                                                   conv):
    """Each was refused (axes [-3] as 'not over its channels', a C×1×1 gamma as 'not one
    value per channel', the model input's axis 1 as not its channels), though each is the
    normalisation over the channels exactly."""
    path = _map_model(tmp_path / "map.onnx", axes, shape, conv)
    model = lrpcore.load_model(path)
    assert [layer.kind for layer in model.layers].count("ChannelNorm") == 1
    x = RNG.normal(size=(3, 2 if conv else 4, 6, 6))
    np.testing.assert_allclose(lrpcore.predict(model, x, raw=True, dtype="float64"),
                               _reference(path, x), rtol=1e-5, atol=1e-5)


def test_a_layer_normalisation_over_axis_minus_one(tmp_path):
    """ReduceMean over axes [-1] (the features of an N×6 input) was refused."""
    nodes, inits, y = _norm_nodes("x", "ln/", [-1], gamma=RNG.uniform(0.5, 1.5, 6),
                                  beta=RNG.normal(size=6))
    inits.append(numpy_helper.from_array(RNG.normal(size=(6, 3)).astype(np.float32), "W"))
    path = save_onnx_graph(tmp_path / "neg.onnx", nodes + [
        helper.make_node("MatMul", [y, "W"], ["out"])], inits, [1, 6], [1, 3])
    model = lrpcore.load_model(path)
    x = RNG.normal(size=(4, 6))
    np.testing.assert_allclose(lrpcore.predict(model, x, raw=True, dtype="float64"),
                               _reference(path, x), rtol=1e-5, atol=1e-5)


def test_a_gamma_per_group_is_each_channel_of_its_group(tmp_path):
    """Gamma and beta of one value per group (groups×1, broadcast over each group's
    channels) were refused as not one value per channel; they are, exactly."""
    path = _grouped_model(tmp_path / "pg.onnx", [-1, 4, 4, 2, 2], gamma_shape=(2, 1))
    model = lrpcore.load_model(path)
    x = RNG.normal(size=(3, 4, 4, 4))
    np.testing.assert_allclose(lrpcore.predict(model, x, raw=True, dtype="float64"),
                               _reference(path, x), rtol=1e-5, atol=1e-5)


def test_a_gamma_per_position_stays_refused(tmp_path):
    """A gamma over the rows of the map (1×1×6×1) is not a per-channel constant."""
    path = _map_model(tmp_path / "rows.onnx", [1], (1, 1, 4, 1))
    with pytest.raises(ModelFormatError, match=r"rows\.onnx.*gamma of shape \[1, 1, 4, 1\] "
                                               r"does not hold one finite value per channel"):
        lrpcore.load_model(path)
