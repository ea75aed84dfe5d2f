"""Keras's squeeze-and-excitation gates (MobileNetV3, EfficientNet, EfficientNetV2 exported by
tf2onnx) load as the ``Gate`` PyTorch's exports load as, and explain alike.

tf2onnx writes the gate's squeeze as ReduceMean over an N×H×W×C map (or GlobalAveragePool
after its transposes are optimised away), EfficientNet's ``Reshape((1, 1, C))`` of the pooled
vector before the 1×1 convolutions, and MobileNetV3's hard sigmoid ``ReLU(6.0)(x + 3.0) *
(1.0 / 6.0)`` as Add, Clip and Mul. The zoo fixture ``keras_se_tf2onnx`` (Keras's own blocks,
``tools/make_zoo_keras_se_fixture.py``) is checked against zennit in
tests/test_zoo_reference.py; these check Keras's outputs, the hand-written NHWC forms and the
command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import lrpcore
from lrpcore.graph_layers import Gate

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

ZOO = Path(__file__).parent / "data" / "zoo"
RNG = np.random.default_rng(12)
C, S = 4, 2  # channels of the map, of the squeezed gate


def _fixture():
    if not all((ZOO / f"keras_se{end}").exists() for end in (".npz", "_tf2onnx.onnx")):
        pytest.skip("zoo fixture keras_se is missing (tools/make_zoo_keras_se_fixture.py)")
    with np.load(ZOO / "keras_se.npz") as data:
        return lrpcore.load_model(ZOO / "keras_se_tf2onnx.onnx"), {k: data[k]
                                                                   for k in data.files}


def test_the_keras_blocks_give_keras_outputs_in_float32():
    """Keras's own float32 predictions, stored when the fixture was made: the engine in float32
    within 1e-5, in float64 within Keras's float32 rounding."""
    model, ref = _fixture()
    assert model.input_spec.layout == "NHWC"
    kinds = [n.layer.kind for n in model.nodes]
    assert kinds.count("Gate") == 4 and "Affine" not in kinds and "Clip" not in kinds
    for dtype, atol in (("float32", 1e-5), ("float64", 1e-5)):
        x = ref["x"].astype(dtype)
        y = lrpcore.Explainer(model, dtype=dtype).forward(x, raw=True).outputs()
        np.testing.assert_allclose(y, ref["keras_y"], rtol=0, atol=atol)


def test_lrp_info_and_explain_read_the_keras_export(tmp_path, capsys):
    from lrpcore.cli.main import main

    model, ref = _fixture()
    path = str(ZOO / "keras_se_tf2onnx.onnx")
    assert main(["info", path]) == 0
    out = capsys.readouterr().out
    assert "Gate" in out and "(NHWC" in out
    np.save(tmp_path / "x.npy", ref["x"])
    assert main(["explain", path, str(tmp_path / "x.npy"), "--raw", "--rule",
                 "EpsilonGammaBox", "--out", str(tmp_path / "R.npy")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert not [line for line in err if "not recognised" in line], err
    R = np.load(tmp_path / "R.npy")
    assert R.shape == ref["x"].shape  # N×H×W×C, as the model takes it
    want = ref["R__EpsilonGammaBox"]
    assert np.abs(R - want).max() < 1e-4 * np.abs(want).max()


# --- the NHWC forms, written by hand -----------------------------------------------------------

def _const(name, value, inits, dtype=np.float32):
    inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
    return name


def _se_graph(path, nhwc, producer="tf2onnx", sixth=1 / 6):
    """A 3×3 convolution and two gates, then a pooled Dense: in NHWC as tf2onnx writes Keras
    (ReduceMean, EfficientNet's Reshape to N×1×1×C, MobileNetV3's Add, Clip and Mul; the
    second ReduceMean keeps its dims), or in NCHW as PyTorch does (GlobalAveragePool,
    HardSigmoid). The same weights each time (RNG reseeded)."""
    rng = np.random.default_rng(3)
    W1, B1 = rng.normal(size=(C, C, 3, 3)) * 0.4, rng.normal(size=C) * 0.1
    Wr, Br = rng.normal(size=(S, C, 1, 1)), rng.normal(size=S) * 0.1
    We, Be = rng.normal(size=(C, S, 1, 1)), rng.normal(size=C) * 0.1
    Wq, Bq = rng.normal(size=(C, C, 1, 1)), rng.normal(size=C) * 0.1
    Wf, Bf = rng.normal(size=(C, 3)), rng.normal(size=3) * 0.1
    inits, nodes = [], []

    def node(op, ins, out, **attrs):
        nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    def conv(x, W, B, name, **attrs):  # NHWC in and out, as tf2onnx writes a Keras Conv2D
        if nhwc:
            x = node("Transpose", [x], f"{name}_in", perm=[0, 3, 1, 2])
        y = node("Conv", [x, _const(f"{name}_W", W, inits), _const(f"{name}_B", B, inits)],
                 name, **attrs)
        return node("Transpose", [y], f"{name}_out", perm=[0, 2, 3, 1]) if nhwc else y

    m = conv("x", W1, B1, "conv", pads=[1, 1, 1, 1])
    if nhwc:
        p = node("ReduceMean", [m], "pool1", axes=[1, 2], keepdims=0)
        p = node("Reshape", [p, _const("shape", [-1, 1, 1, C], inits, np.int64)], "reshape")
    else:
        p = node("GlobalAveragePool", [m], "pool1")
    a = node("Relu", [conv(p, Wr, Br, "reduce")], "relu")
    e = conv(a, We, Be, "expand")
    if nhwc:
        h = node("Add", [e, _const("three", 3.0, inits)], "add3")
        h = node("Clip", [h, _const("zero", 0.0, inits), _const("six", 6.0, inits)], "relu6")
        g = node("Mul", [h, _const("sixth", sixth, inits)], "scale")
    else:
        g = node("HardSigmoid", [e], "hardsigmoid", alpha=1 / 6, beta=0.5)
    y = node("Mul", [m, g], "excite1")
    q = node("ReduceMean", [y], "pool2", axes=[1, 2], keepdims=1) if nhwc \
        else node("GlobalAveragePool", [y], "pool2")
    g2 = node("Sigmoid", [conv(q, Wq, Bq, "gate2")], "sigmoid")
    y = node("Mul", [g2, y], "excite2")  # gate first, as torchvision's ``scale * input``
    f = node("ReduceMean", [y], "pool3", axes=[1, 2], keepdims=0) if nhwc \
        else node("Flatten", [node("GlobalAveragePool", [y], "pool3")], "flat")
    f = node("MatMul", [f, _const("fc_W", Wf, inits)], "fc")
    node("Add", [f, _const("fc_B", Bf, inits)], "out")
    shape = ["N", 6, 5, C] if nhwc else ["N", C, 6, 5]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, shape)], [helper.make_tensor_value_info(
            "out", TensorProto.FLOAT, ["N", 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name=producer)
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_nhwc_gates_load_and_explain_as_the_nchw_ones(tmp_path):
    """The Keras forms explain as the PyTorch forms of the same network: outputs and every
    preset's relevance equal (the NCHW file's transposed to N×H×W×C). Refused at the
    ReduceMean over an N×H×W×C map before."""
    keras = lrpcore.load_model(_se_graph(tmp_path / "keras.onnx", nhwc=True))
    torch_like = lrpcore.load_model(_se_graph(tmp_path / "torch.onnx", nhwc=False))
    assert [n.layer.kind for n in keras.nodes] == [n.layer.kind for n in torch_like.nodes
                                                   if n.layer.kind != "ToChannelsLast"]
    gates = [n for n in keras.nodes if isinstance(n.layer, Gate)]
    assert [n.name for n in gates] == ["excite1", "excite2"]
    producers = {n.output: n.name for n in keras.nodes}
    assert [producers[g.inputs[0]] for g in gates] == ["conv", "excite1"]  # the map first
    x = RNG.uniform(size=(3, 6, 5, C))
    a = lrpcore.Explainer(keras, dtype="float64").forward(x, raw=True)
    b = lrpcore.Explainer(torch_like, dtype="float64").forward(x.transpose(0, 3, 1, 2),
                                                              raw=True)
    np.testing.assert_allclose(a.outputs(), b.outputs(), rtol=1e-13, atol=1e-13)
    for rule in ("EpsilonPlus", "EpsilonGammaBox", "EpsilonAlpha2Beta1Flat", "epsilon:0.01"):
        Ra, Rb = a.relevance(rule), b.relevance(rule).transpose(0, 2, 3, 1)
        np.testing.assert_allclose(Ra, Rb, rtol=0, atol=1e-12 * np.abs(Rb).max())


def test_the_nhwc_forward_is_the_onnx_arithmetic(tmp_path):
    """The NHWC file's outputs from its own operators, computed here with numpy."""
    path = _se_graph(tmp_path / "keras.onnx", nhwc=True)
    proto = onnx.load(path)
    w = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in proto.graph.initializer}
    x = RNG.uniform(size=(2, 6, 5, C))

    def conv(v, name, pad=0):  # N×H×W×C in and out
        W = w[f"{name}_W"]
        v = np.pad(v, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
        k = W.shape[2]
        H, Wd = v.shape[1] - k + 1, v.shape[2] - k + 1
        out = np.zeros((len(v), H, Wd, W.shape[0]))
        for i in range(k):
            for j in range(k):
                out += np.einsum("nhwc,oc->nhwo", v[:, i:i + H, j:j + Wd], W[:, :, i, j])
        return out + w[f"{name}_B"]

    m = conv(x, "conv", 1)
    p = m.mean(axis=(1, 2), keepdims=True)
    g = np.clip(conv(np.maximum(conv(p, "reduce"), 0), "expand") + 3, 0, 6) * np.float32(1 / 6)
    y = m * g
    y = y / (1 + np.exp(-conv(y.mean(axis=(1, 2), keepdims=True), "gate2"))) * 1.0
    want = y.mean(axis=(1, 2)) @ w["fc_W"] + w["fc_B"]
    got = lrpcore.load_model(path).forward(x)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)  # 1/6 in float32 in the file


def test_only_keras_hard_sigmoids_are_read_as_one(tmp_path):
    """Add, Clip(0, 6), Mul(1/6) is one HardSigmoid in a Keras export; in a PyTorch export it
    is ``F.relu6(x + 3) / 6`` in ``forward`` (zennit's gradient: the Mul stays a Scale), and a
    Mul by another constant is no hard sigmoid (Clip and Affine, as before)."""
    kinds = {n.name: n.layer.kind for n in lrpcore.load_model(
        _se_graph(tmp_path / "k.onnx", nhwc=True)).nodes}
    assert kinds["relu6"] == "HardSigmoid" and "add3" not in kinds and "scale" not in kinds
    kinds = {n.name: n.layer.kind for n in lrpcore.load_model(
        _se_graph(tmp_path / "p.onnx", nhwc=True, producer="pytorch")).nodes}
    assert kinds["relu6"] == "Clip" and kinds["scale"] == "Scale"
    kinds = {n.name: n.layer.kind for n in lrpcore.load_model(
        _se_graph(tmp_path / "o.onnx", nhwc=True, sixth=0.2)).nodes}
    assert kinds["relu6"] == "Clip" and kinds["scale"] == "Affine"


def test_a_gate_of_another_shape_is_refused_naming_node_and_operator(tmp_path):
    """A vector computed by a dense layer after the pool, reshaped to N×1×1×C: refused at the
    Reshape, which says what it usually begins (tests/test_onnx_import.py has the NCHW one)."""
    inits = []
    nodes = [helper.make_node("ReduceMean", ["x"], ["p"], name="pool", axes=[1, 2],
                              keepdims=0),
             helper.make_node("MatMul", ["p", _const("W", np.eye(C), inits)], ["d"],
                              name="dense"),
             helper.make_node("Reshape", ["d", _const("s", [-1, 1, 1, C], inits, np.int64)],
                              ["r"], name="se_reshape"),
             helper.make_node("Mul", ["x", "r"], ["out"], name="excite")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["N", 6, 5, C])], [helper.make_tensor_value_info(
            "out", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="tf2onnx")
    onnx.save(model, tmp_path / "dense_gate.onnx")
    with pytest.raises(lrpcore.ModelFormatError) as info:
        lrpcore.load_model(tmp_path / "dense_gate.onnx")
    msg = str(info.value)
    assert "'se_reshape' (Reshape)" in msg and "squeeze-and-excitation gate" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("opset", [10, 13])
def test_a_hard_sigmoid_divided_by_its_ceiling_and_clipped_by_attributes(tmp_path, opset):
    """Div(m) in place of Mul(1/m); before opset 11 Clip's bounds are attributes. A per-channel
    Add is no hard sigmoid's shift: left as it was."""
    inits = []
    W = RNG.normal(size=(4, 3))
    for shift, fused in ((2.0, True), (np.array([1.0, 2.0, 3.0]), False)):
        clip = helper.make_node("Clip", ["a"], ["c"], name="relu6", min=0.0, max=6.0) \
            if opset < 11 else helper.make_node(
                "Clip", ["a", _const("lo", 0.0, inits), _const("hi", 6.0, inits)], ["c"],
                name="relu6")
        nodes = [helper.make_node("MatMul", ["x", _const("W", W, inits)], ["d"], name="dense"),
                 helper.make_node("Add", ["d", _const("shift", shift, inits)], ["a"],
                                  name="add"), clip,
                 helper.make_node("Div", ["c", _const("six", 6.0, inits)], ["out"],
                                  name="div")]
        graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
            "x", TensorProto.FLOAT, ["N", 4])], [helper.make_tensor_value_info(
                "out", TensorProto.FLOAT, ["N", 3])], inits)
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                                  producer_name="tf2onnx")
        proto.ir_version = 8
        onnx.save(proto, tmp_path / "hs.onnx")
        inits.clear()
        model = lrpcore.load_model(tmp_path / "hs.onnx")
        kinds = [n.layer.kind for n in model.nodes]
        assert ("HardSigmoid" in kinds) == fused and ("Clip" in kinds) != fused, kinds
        x = RNG.normal(size=(5, 4)) * 3
        want = np.clip(x @ W.astype(np.float32).astype(np.float64) + shift, 0, 6) / 6
        np.testing.assert_allclose(model.forward(x), want, rtol=1e-12, atol=1e-12)


def test_a_keras_attention_gate_loads_as_a_gate_and_gives_keras_outputs():
    """Keras's Attention U-Net gate (``Multiply`` of an N×H×W×8 map and a
    ``Conv2D(1, 1, activation="sigmoid")`` map, N×H×W×1) was refused as a product of two
    signals; its relevance against zennit's on a PyTorch twin is in tests/test_segmentation.py
    (``keras_att_tf2onnx``)."""
    if not all((ZOO / f"keras_att{end}").exists() for end in (".npz", "_tf2onnx.onnx")):
        pytest.skip("zoo fixture keras_att is missing (tools/make_zoo_keras_att_fixture.py)")
    model = lrpcore.load_model(ZOO / "keras_att_tf2onnx.onnx")
    assert model.input_spec.layout == "NHWC"
    gates = [n for n in model.nodes if isinstance(n.layer, Gate)]
    producers = {n.output: n for n in model.nodes}
    assert len(gates) == 1 and producers[gates[0].inputs[1]].layer.kind == "Sigmoid"
    with np.load(ZOO / "keras_att.npz") as data:
        x, theirs = data["x"], data["keras_y"]
    y = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True).outputs()
    assert np.abs(y - theirs).max() < 1e-6 * np.abs(theirs).max()
