"""The graph engine on small ONNX graphs the tests build themselves (no PyTorch): merges,
depthwise convolutions, layouts of both exporters and Keras, refusals, conditioning."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore import ModelFormatError
from lrpcore.graph import GraphModel
from lrpcore.graph_layers import GroupedConvolution

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

RNG = np.random.default_rng(7)


# --- a direct NCHW reference of what the ONNX operators compute ------------------------------

def conv_nchw(x, W, b, stride=1, pad=0, groups=1):
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    N, C, H, Wd = x.shape
    n, cg, kh, kw = W.shape
    Ho, Wo = (H - kh) // stride + 1, (Wd - kw) // stride + 1
    out = np.zeros((N, n, Ho, Wo))
    per = n // groups
    for o in range(n):
        g = o // per
        xs = x[:, g * cg:(g + 1) * cg]
        for i in range(Ho):
            for j in range(Wo):
                win = xs[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                out[:, o, i, j] = (win * W[o]).sum(axis=(1, 2, 3)) + b[o]
    return out


def _init(name, arr):
    return numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)


def _save(tmp_path, nodes, inits, in_shape, out_dim, opset=17, name="m.onnx"):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", out_dim])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def _branchy(tmp_path):
    """Conv → Relu, then a depthwise 3×3 with ReLU6 and a 1×1 branch, concatenated, a residual
    Add of two convolutions, global average pooling, Gemm."""
    p = {
        "w0": RNG.standard_normal((4, 2, 3, 3)), "b0": RNG.standard_normal(4) * 0.1,
        "wd": RNG.standard_normal((4, 1, 3, 3)), "bd": RNG.standard_normal(4) * 0.1,
        "w1": RNG.standard_normal((4, 4, 1, 1)), "b1": RNG.standard_normal(4) * 0.1,
        "w2": RNG.standard_normal((8, 8, 1, 1)), "b2": RNG.standard_normal(8) * 0.1,
        "w3": RNG.standard_normal((8, 8, 3, 3)) * 0.3, "b3": RNG.standard_normal(8) * 0.1,
        "fc": RNG.standard_normal((5, 8)), "fb": RNG.standard_normal(5) * 0.1,
    }
    p = {k: v.astype(np.float32).astype(np.float64) for k, v in p.items()}
    nodes = [
        helper.make_node("Conv", ["input", "w0", "b0"], ["c0"], name="stem", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c0"], ["r0"], name="stem_relu"),
        helper.make_node("Conv", ["r0", "wd", "bd"], ["cd"], name="block.dw", group=4,
                         pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["cd", "lo", "hi"], ["rd"], name="block.relu6"),
        helper.make_node("Conv", ["r0", "w1", "b1"], ["c1"], name="block.pw"),
        helper.make_node("Concat", ["rd", "c1"], ["cat"], name="block.cat", axis=1),
        helper.make_node("Conv", ["cat", "w2", "b2"], ["c2"], name="res.a"),
        helper.make_node("Conv", ["cat", "w3", "b3"], ["c3"], name="res.b", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "c3"], ["s"], name="res.add"),
        helper.make_node("Relu", ["s"], ["rs"], name="res.relu"),
        helper.make_node("GlobalAveragePool", ["rs"], ["gap"], name="pool"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc", "fb"], ["logits"], name="fc", transB=1),
    ]
    inits = [_init(k, v) for k, v in p.items()]
    inits += [_init("lo", 0.0), _init("hi", 6.0)]
    path = _save(tmp_path, nodes, inits, ["N", 2, 6, 6], 5)

    def reference(x):
        r0 = np.maximum(conv_nchw(x, p["w0"], p["b0"], pad=1), 0)
        rd = np.clip(conv_nchw(r0, p["wd"], p["bd"], pad=1, groups=4), 0, 6)
        cat = np.concatenate([rd, conv_nchw(r0, p["w1"], p["b1"])], axis=1)
        s = conv_nchw(cat, p["w2"], p["b2"]) + conv_nchw(cat, p["w3"], p["b3"], pad=1)
        gap = np.maximum(s, 0).mean(axis=(2, 3))
        return gap @ p["fc"].T + p["fb"]

    return path, reference


def test_branchy_graph_computes_what_onnx_says(tmp_path):
    path, reference = _branchy(tmp_path)
    model = lrpcore.load_model(path)
    assert isinstance(model, GraphModel)
    kinds = {n.layer.kind for n in model.nodes}
    assert {"Concat", "Add", "GroupedConvolution", "Clip", "MeanPool"} <= kinds
    x = RNG.standard_normal((3, 2, 6, 6))
    np.testing.assert_allclose(lrpcore.predict(model, x, raw=True, dtype="float64"),
                               reference(x), atol=1e-9)


def test_merges_conserve_and_relevance_keeps_the_layout(tmp_path):
    """Norm at Add and at the mean pool, exact slices at Concat: with a rule that conserves
    (z⁺ without positive biases is not, so check node by node through the trace)."""
    path, _ = _branchy(tmp_path)
    model = lrpcore.load_model(path)
    x = RNG.standard_normal((2, 2, 6, 6))
    fwd = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True)
    R, per_node = fwd.relevance("EpsilonPlus", trace=True)
    assert R.shape == x.shape
    names = model.node_names

    def total(name):
        r = per_node[names.index(name)]
        return r.sum(axis=tuple(range(1, r.ndim)))

    # relevance entering each merge (at its output: what its readers returned) = what leaves
    np.testing.assert_allclose(total("block.cat"), total("res.a") + total("res.b/pad"),
                               rtol=1e-9)
    np.testing.assert_allclose(total("res.add"), total("res.relu"), rtol=1e-5)
    np.testing.assert_allclose(total("pool"), total("flatten"), rtol=1e-5)


def test_tensor_read_twice_sums_the_relevance_of_both_readers(tmp_path):
    path, _ = _branchy(tmp_path)
    model = lrpcore.load_model(path)
    x = RNG.standard_normal((2, 2, 6, 6))
    fwd = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True)
    _, per_node = fwd.relevance("epsilon:0.001", trace=True)
    names = model.node_names
    # 'cat' feeds res.a and res.b: relevance at the stem ReLU's output = Σ of both branches
    dw, pw = names.index("block.dw"), names.index("block.pw")
    pad_dw = names.index("block.dw/pad")
    total = per_node[pad_dw].sum() + per_node[pw].sum()
    assert per_node[dw] is not None
    np.testing.assert_allclose(per_node[names.index("stem_relu")].sum(), total, rtol=1e-9)


def test_conditioning_on_every_channel_sums_to_the_heatmap(tmp_path):
    """The CRP identity: conditional heatmaps over all channels of a node add up to the
    unconditioned one (relevance is linear in what passes that node)."""
    path, _ = _branchy(tmp_path)
    model = lrpcore.load_model(path)
    x = RNG.standard_normal((2, 2, 6, 6))
    fwd = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True)
    whole = fwd.relevance("EpsilonPlus")
    shape = model.shapes()[model.node_names.index("res.relu")]
    parts = []
    for c in range(shape[-1]):
        mask = np.zeros(shape)
        mask[..., c] = 1
        parts.append(fwd.relevance("EpsilonPlus", condition={"res.relu": mask}))
    np.testing.assert_allclose(np.sum(parts, axis=0), whole, atol=1e-10)
    assert np.abs(parts[0] - whole).max() > 1e-6  # one channel alone is not the whole


def test_chain_models_condition_too(lenet):
    x = RNG.integers(0, 256, (2, 28, 28, 1)).astype(np.uint8)
    fwd = lrpcore.Explainer(lenet, dtype="float64").forward(x)
    whole = fwd.relevance("epsilon:0.01")
    shape = lenet.shapes()[3]  # the second convolution's output
    parts = []
    for c in range(shape[-1]):
        mask = np.zeros(shape)
        mask[..., c] = 1
        parts.append(fwd.relevance("epsilon:0.01", condition={3: mask}))
    np.testing.assert_allclose(np.sum(parts, axis=0), whole, atol=1e-9)


def test_layer_rules_by_name_and_glob(tmp_path):
    path, _ = _branchy(tmp_path)
    model = lrpcore.load_model(path)
    layers = model.analysis_layers()
    config = lrpcore.resolve_rules(layers, "epsilon:0.01", {"res.*": "zplus", "stem": "flat"})
    names = model.node_names
    assert config.rules[names.index("res.a")].spec() == "zplus"
    assert config.rules[names.index("res.b")].spec() == "zplus"
    assert config.rules[names.index("stem")].spec() == "flat"
    assert config.rules[names.index("fc")].spec() == "epsilon:0.01"
    # the mean pool keeps zennit's Norm (ε = 1e-6) under a plain rule spec
    assert config.rules[names.index("pool")].spec() == "epsilon:1e-06"
    with pytest.raises(lrpcore.RuleError, match="nope"):
        lrpcore.resolve_rules(layers, "epsilon:0.01", {"nope*": "zplus"})


def test_alphabeta_on_graphs_uses_zennits_stabiliser(tmp_path):
    path, _ = _branchy(tmp_path)
    model = lrpcore.load_model(path)
    config = lrpcore.resolve_rules(model.analysis_layers(), "alphabeta:2")
    k = model.node_names.index("res.a")
    assert config.rules[k].literature
    lenet_like = lrpcore.resolve_rules([model.nodes[k].layer], "alphabeta:2")
    assert not lenet_like.rules[0].literature  # a chain keeps the toolbox's numerics


@pytest.mark.parametrize("rule", ["flat", "ww"])
def test_flat_and_wsquare_on_graphs_divide_as_zennit(tmp_path, rule):
    """zennit's Flat and WSquare stabilise each neuron's sum by 1e-6, and its WSquare squares
    the bias too (it squares every parameter): on a graph model the first layer's shares are
    w_ij² R_j / (Σ_i w_ij² + b_j² + 1e-6) resp. R_j / (n + 1e-6); a toolbox chain keeps
    the plain sums (Σ_i w_ij², n)."""
    W1, b1 = RNG.standard_normal((5, 3)), np.array([2.0, -3.0, 0.5])  # b² weighs
    W2, b2 = RNG.standard_normal((3, 2)), np.zeros(2)
    nodes = [helper.make_node("Gemm", ["input", "W1", "b1"], ["h"], name="fc1"),
             helper.make_node("Relu", ["h"], ["a"], name="relu"),
             helper.make_node("Gemm", ["a", "W2", "b2"], ["logits"], name="fc2")]
    inits = [_init("W1", W1), _init("b1", b1), _init("W2", W2), _init("b2", b2)]
    model = lrpcore.load_model(_save(tmp_path, nodes, inits, ["N", 5], 2))
    x = RNG.standard_normal((4, 5))
    fw = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True)
    R, per_node = fw.relevance("EpsilonPlus", layer_rules={"fc1": rule}, trace=True)
    k = model.node_names.index("fc1")
    R_out = per_node.outputs[k]
    W, b = W1.astype(np.float32).astype(np.float64), b1
    if rule == "ww":
        want = (W**2 / ((W**2).sum(axis=0) + b**2 + 1e-6)) @ R_out.T
    else:
        want = np.ones_like(W) / (W.shape[0] + 1e-6) @ R_out.T
    np.testing.assert_allclose(R, want.T, rtol=1e-12)
    chain_rule = lrpcore.resolve_rules([model.nodes[k].layer], rule).rules[0]
    assert not chain_rule.literature  # a toolbox chain keeps the plain sums


def test_grouped_convolution_map_and_transpose_agree():
    W = RNG.standard_normal((3, 3, 2, 6))  # 3 groups of 2 input channels, 2 outputs each
    layer = GroupedConvolution(W, np.zeros(6), stride=(2, 2), groups=3)
    x = RNG.standard_normal((2, 7, 7, 6))
    z = layer.fmap(x, W, np)
    W_oihw = W.transpose(3, 2, 0, 1)
    want = conv_nchw(x.transpose(0, 3, 1, 2), W_oihw, np.zeros(6), stride=2, groups=3)
    np.testing.assert_allclose(z, want.transpose(0, 2, 3, 1), atol=1e-12)
    c = RNG.standard_normal(z.shape)
    back = layer.tmap(c, W, x.shape[1:], np)
    np.testing.assert_allclose((back * x).sum(), (c * z).sum(), rtol=1e-12)


def test_dynamo_export_reduce_mean_and_reshape(tmp_path):
    """torch.onnx.export(dynamo=True) writes opset 18+, global pooling as ReduceMean over the
    spatial axes (axes as an input) and flatten as a Reshape with a shape computed at run time."""
    W = RNG.standard_normal((3, 1, 3, 3))
    fc = RNG.standard_normal((4, 3))
    nodes = [
        helper.make_node("Conv", ["input", "w"], ["c"], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("ReduceMean", ["r", "axes"], ["m"], name="mean", keepdims=1),
        helper.make_node("Shape", ["m"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], name="gather", axis=0),
        helper.make_node("Unsqueeze", ["batch", "zero1"], ["b1"], name="unsq"),
        helper.make_node("Concat", ["b1", "minus1"], ["target"], name="cat", axis=0),
        helper.make_node("Reshape", ["m", "target"], ["flat"], name="reshape"),
        helper.make_node("MatMul", ["flat", "fcT"], ["mm"], name="matmul"),
        helper.make_node("Add", ["mm", "fb"], ["logits"], name="bias"),
    ]
    ints = [numpy_helper.from_array(np.array([2, 3], np.int64), "axes"),
            numpy_helper.from_array(np.array(0, np.int64), "zero"),
            numpy_helper.from_array(np.array([0], np.int64), "zero1"),
            numpy_helper.from_array(np.array([-1], np.int64), "minus1")]
    fb = np.array([0.5, -0.5, 0.25, 0.0])
    path = _save(tmp_path, nodes, [_init("w", W), _init("fcT", fc.T), _init("fb", fb), *ints],
                 ["N", 1, 8, 8], 4, opset=18)
    model = lrpcore.load_model(path)
    x = RNG.standard_normal((2, 1, 8, 8))
    W32 = W.astype(np.float32).astype(np.float64)
    fc32 = fc.astype(np.float32).astype(np.float64)
    want = np.maximum(conv_nchw(x, W32, np.zeros(3)), 0).mean(axis=(2, 3)) @ fc32.T + fb
    np.testing.assert_allclose(lrpcore.predict(model, x, raw=True, dtype="float64"), want,
                               atol=1e-6)
    assert model.input_spec.layout == "NCHW"


def test_keras_nhwc_export_is_taken_in_its_own_layout(tmp_path):
    """tf2onnx keeps Keras's N×H×W×C input and transposes to NCHW before each convolution."""
    W = RNG.standard_normal((2, 3, 3, 3))
    fc = RNG.standard_normal((4 * 4 * 2, 3))
    nodes = [
        helper.make_node("Transpose", ["input"], ["nchw"], name="to_nchw", perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "w"], ["c"], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Transpose", ["r"], ["nhwc"], name="to_nhwc", perm=[0, 2, 3, 1]),
        helper.make_node("Flatten", ["nhwc"], ["flat"], name="flatten", axis=1),
        helper.make_node("MatMul", ["flat", "fc"], ["logits"], name="dense"),
    ]
    path = _save(tmp_path, nodes, [_init("w", W), _init("fc", fc)], ["N", 6, 6, 3], 3)
    model = lrpcore.load_model(path)
    assert model.input_spec.layout == "NHWC" and model.input_spec.shape == (6, 6, 3)
    x = RNG.standard_normal((2, 6, 6, 3))
    W32, fc32 = (a.astype(np.float32).astype(np.float64) for a in (W, fc))
    r = np.maximum(conv_nchw(x.transpose(0, 3, 1, 2), W32, np.zeros(2)), 0)
    want = r.transpose(0, 2, 3, 1).reshape(2, -1) @ fc32
    np.testing.assert_allclose(lrpcore.predict(model, x, raw=True, dtype="float64"), want,
                               atol=1e-9)
    R = lrpcore.explain(model, x, rule="epsilon:0.01", raw=True, dtype="float64")
    assert R.shape == x.shape


def _two_input_op(tmp_path, op):
    nodes = [helper.make_node("Conv", ["input", "w"], ["a"], name="conv"),
             helper.make_node("Relu", ["a"], ["r"], name="relu"),
             helper.make_node(op, ["a", "r"], ["m"], name="gate"),
             helper.make_node("GlobalAveragePool", ["m"], ["g"], name="pool"),
             helper.make_node("Flatten", ["g"], ["logits"], name="flatten")]
    return _save(tmp_path, nodes, [_init("w", RNG.standard_normal((2, 1, 1, 1)))],
                 ["N", 1, 4, 4], 2)


def test_product_of_two_tensors_is_refused_with_the_reason(tmp_path):
    with pytest.raises(ModelFormatError, match=r"node 2 'gate' \(Mul\).*product of two"):
        lrpcore.load_model(_two_input_op(tmp_path, "Mul"))


def test_unknown_operator_names_node_and_operator(tmp_path):
    with pytest.raises(ModelFormatError, match=r"node 2 'gate' \(Mod\): operator Mod"):
        lrpcore.load_model(_two_input_op(tmp_path, "Mod"))  # Max of a constant is a clamp


@pytest.mark.parametrize("case", ["huge_input", "gemm_alpha", "huge_pads"])
def test_file_declared_sizes_are_bounded(tmp_path, case):
    if case == "huge_input":
        nodes = [helper.make_node("Conv", ["input", "w"], ["a"], name="c"),
                 helper.make_node("Add", ["a", "a"], ["s"], name="add"),
                 helper.make_node("GlobalAveragePool", ["s"], ["g"], name="p"),
                 helper.make_node("Flatten", ["g"], ["logits"], name="f")]
        path = _save(tmp_path, nodes, [_init("w", np.ones((1, 2, 1, 1)))],
                     ["N", 2, 12000, 12000], 1)
        match = "values per sample"
    elif case == "gemm_alpha":
        nodes = [helper.make_node("Add", ["input", "input"], ["s"], name="add"),
                 helper.make_node("Gemm", ["s", "w"], ["logits"], name="fc",
                                  alpha=float("inf"))]
        path = _save(tmp_path, nodes, [_init("w", np.ones((3, 2)))], ["N", 3], 2)
        match = "alpha = inf"
    else:
        nodes = [helper.make_node("Conv", ["input", "w"], ["a"], name="c",
                                  pads=[5000, 5000, 5000, 5000]),
                 helper.make_node("Add", ["a", "a"], ["s"], name="add"),
                 helper.make_node("GlobalAveragePool", ["s"], ["g"], name="p"),
                 helper.make_node("Flatten", ["g"], ["logits"], name="f")]
        path = _save(tmp_path, nodes, [_init("w", np.ones((1, 1, 1, 1)))], ["N", 1, 4, 4], 1)
        match = "pads"
    with pytest.raises(ModelFormatError, match=match) as err:
        lrpcore.load_model(path)
    assert str(path) in str(err.value)


def test_a_batchnorm_with_nothing_to_fold_into_is_an_affine_layer(tmp_path):
    """BatchNormalization right after the input (or after a merge) cannot be folded: it is a
    per-channel affine map with a rule of its own, saved and reloaded like any layer."""
    g, b, mean, var = (np.array([1.5, 0.5]), np.array([0.1, -0.2]), np.array([0.3, -0.1]),
                       np.array([2.0, 0.5]))
    W = RNG.standard_normal((3, 2, 1, 1))
    nodes = [helper.make_node("BatchNormalization", ["input", "g", "b", "m", "v"], ["n"],
                              name="bn", epsilon=1e-5),
             helper.make_node("Conv", ["n", "w"], ["c"], name="conv"),
             helper.make_node("Add", ["c", "c"], ["s"], name="twice"),
             helper.make_node("GlobalAveragePool", ["s"], ["p"], name="pool"),
             helper.make_node("Flatten", ["p"], ["logits"], name="flatten")]
    inits = [_init("g", g), _init("b", b), _init("m", mean), _init("v", var), _init("w", W)]
    path = _save(tmp_path, nodes, inits, ["N", 2, 4, 4], 3)
    model = lrpcore.load_model(path)
    assert model.nodes[1].layer.kind == "Affine"
    x = RNG.standard_normal((2, 2, 4, 4))
    g32, b32, m32, v32, W32 = (a.astype(np.float32).astype(np.float64)
                               for a in (g, b, mean, var, W))
    n = (x - m32[:, None, None]) / np.sqrt(v32[:, None, None] + 1e-5) * g32[:, None, None] \
        + b32[:, None, None]
    want = 2 * conv_nchw(n, W32, np.zeros(3)).mean(axis=(2, 3))
    np.testing.assert_allclose(lrpcore.predict(model, x, raw=True, dtype="float64"), want,
                               atol=1e-6)
    R = lrpcore.explain(model, x, rule="EpsilonPlus", raw=True, dtype="float64")
    assert R.shape == x.shape and np.isfinite(R).all()
    lrpcore.save_model(model, tmp_path / "m.npz")
    again = lrpcore.load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(
        lrpcore.explain(again, x, rule="EpsilonPlus", raw=True, dtype="float64"), R)


def test_more_nodes_than_any_model_has_is_refused(tmp_path, monkeypatch):
    from lrpcore.io import onnx_graph

    monkeypatch.setattr(onnx_graph, "MAX_NODES", 3)
    path, _ = _branchy(tmp_path)
    with pytest.raises(ModelFormatError, match="13 nodes; more than 3"):
        lrpcore.load_model(path)


@pytest.mark.parametrize("alpha", [float("nan"), 1e39])
def test_gemm_scales_that_are_no_numbers_are_refused(tmp_path, alpha):
    nodes = [helper.make_node("Add", ["input", "input"], ["s"], name="add"),
             helper.make_node("Gemm", ["s", "w"], ["logits"], name="fc", alpha=alpha)]
    path = _save(tmp_path, nodes, [_init("w", np.ones((3, 2)))], ["N", 3], 2)
    with pytest.raises(ModelFormatError, match=r"node 1 'fc' \(Gemm\): Gemm alpha"):
        lrpcore.load_model(path)


def test_pixel_flipping_on_a_channels_first_graph_model(tmp_path):
    """Units are pixels of the C×H×W input (all channels of one pixel flip together), the
    perturbed batches go through the graph, and the first step equals the model's output."""
    from lrpcore.insight.pixelflip import flip_curves, unit_grid

    path, reference = _branchy(tmp_path)
    model = lrpcore.load_model(path)
    x = RNG.standard_normal((2, 2, 6, 6))
    grid = unit_grid(model.input_spec, x.shape[1:])
    assert grid.image == (6, 6, 2) and grid.n_units == 36
    R = lrpcore.explain(model, x, rule="EpsilonPlus", raw=True, dtype="float64")
    targets = reference(x).argmax(axis=1)
    result = flip_curves(model, x, R, targets, steps=36, dtype="float64")
    np.testing.assert_allclose(result.outputs[:, 0], reference(x)[np.arange(2), targets],
                               atol=1e-9)
    x_flat = x.copy()
    x_flat[:] = 0.0  # every unit flipped to the zero baseline
    np.testing.assert_allclose(result.outputs[:, -1],
                               reference(x_flat)[np.arange(2), targets], atol=1e-9)
