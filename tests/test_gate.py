"""Squeeze-and-excitation gates (MobileNetV3, EfficientNet-B0): a ``Gate`` node multiplies a map
by one value per channel computed from it and passes relevance as zennit's autograd does; an
attention gate (Attention U-Net) multiplies it by a sigmoid's one-channel map, broadcast over
the channels, alike. The zoo's ``segate`` fixtures check it against zennit itself
(tests/test_zoo_reference.py), ``attunet`` too (tests/test_segmentation.py); these check the
layer's own contract and what users are told about it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hostile_files import save_onnx_graph

import lrpcore
from lrpcore.errors import RuleError, ShapeError
from lrpcore.graph_layers import Gate

ZOO = Path(__file__).parent / "data" / "zoo"


def test_relevance_passes_as_the_gradient_of_the_product():
    rng = np.random.default_rng(0)
    x, s = rng.normal(size=(2, 5, 4, 3)), rng.uniform(size=(2, 1, 1, 3))
    R = rng.normal(size=(2, 5, 4, 3))
    gate = Gate()
    y = gate.forward_many([x, s], np)
    np.testing.assert_array_equal(y, x * s)
    to_map, to_gate = gate.split([x, s], y, R, 1e-6, np)
    np.testing.assert_allclose(to_map, R * s)
    assert to_gate.shape == s.shape
    # the gate's share is the sum over the map, per sample and channel
    np.testing.assert_allclose(to_gate[:, 0, 0, :], np.einsum("nhwc,nhwc->nc", R, x))
    for a, b in zip(gate.gradient_many([x, s], y, R, np), (to_map, to_gate), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_gate_needs_one_value_per_channel():
    gate = Gate()
    assert gate.output_shape_many([(5, 4, 3), (1, 1, 3)]) == (5, 4, 3)
    for bad in ((1, 1, 2), (5, 1, 3), (1, 3)):
        with pytest.raises(ShapeError, match="one value per channel"):
            gate.output_shape_many([(5, 4, 3), bad])
    assert gate.output_shape_many([(1, 1, 3), (1, 1, 3)]) == (1, 1, 3)  # a 1×1 map's gate


def _one_by_one_gate(tmp_path, pooled):
    """x (N×3×4×4) → a 4×4 stride-4 Conv: a 1×1 map c; the gate sigmoid(Conv(p)) of its global
    pool p (``pooled``) or of c itself; the Mul of c and the gate, flattened."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), name)
             for name, shape in (("W", (3, 3, 4, 4)), ("V", (3, 3, 1, 1)))]
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv", strides=[4, 4]),
             *([helper.make_node("GlobalAveragePool", ["c"], ["p"], name="pool")]
               if pooled else []),
             helper.make_node("Conv", ["p" if pooled else "c", "V"], ["v"], name="excite"),
             helper.make_node("Sigmoid", ["v"], ["s"], name="sigmoid"),
             helper.make_node("Mul", ["s", "c"], ["m"], name="gate"),
             helper.make_node("Flatten", ["m"], ["out"], name="flat")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 3])], inits)
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_a_gate_on_a_one_by_one_map_is_a_gate_only_when_computed_from_its_pool(tmp_path):
    """EfficientNetV2-S and MobileNetV3 on 32×32 inputs gate 1×1 maps (their last stages): the
    map and its gate have one shape, and such gates were refused as products of two signals.
    A product with a tensor computed from the map without its pool stays refused."""
    model = lrpcore.load_model(_one_by_one_gate(tmp_path, pooled=True))
    gate = next(n for n in model.nodes if isinstance(n.layer, Gate))
    assert gate.name == "gate"
    producers = {n.output: n for n in model.nodes}
    assert producers[gate.inputs[0]].name == "conv"  # the map first, as written or not
    x = np.random.default_rng(1).normal(size=(2, 3, 4, 4))
    fw = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True)
    R = fw.relevance("epsilon:1e-9")
    assert R.shape == x.shape and np.isfinite(R).all()
    from lrpcore import ModelFormatError

    with pytest.raises(ModelFormatError, match="'gate'.*product of two signals"):
        lrpcore.load_model(_one_by_one_gate(tmp_path, pooled=False))


def test_the_zoo_gates_load_as_gates_and_take_no_rule():
    pytest.importorskip("onnx")
    path = ZOO / "segate_ts.onnx"
    if not path.exists():
        pytest.skip("zoo fixture segate is missing (tools/make_zoo_fixtures.py makes it)")
    model = lrpcore.load_model(path)
    gates = [n.name for n in model.nodes if isinstance(n.layer, Gate)]
    assert gates == ["/block1/se/Mul", "/block2/se/Mul"]
    # the map first, whichever operand the export wrote first (torchvision: scale * input)
    first = next(n for n in model.nodes if n.name == gates[0])
    producers = {n.output: n for n in model.nodes}
    assert "HardSigmoid" in producers[first.inputs[1]].layer.kind
    x = np.load(ZOO / "segate.npz")["x"]
    fw = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True)
    with pytest.raises(RuleError, match="takes no rule"):
        fw.relevance("EpsilonPlus", layer_rules={gates[0]: "epsilon:0.1"})


@pytest.fixture
def segate_inputs(tmp_path):
    """The segate reference's inputs as an .npy for ``lrp explain`` (skips without onnx or
    the zoo fixture)."""
    pytest.importorskip("onnx")
    if not all((ZOO / f"segate{end}").exists() for end in (".npz", "_ts.onnx", "_dynamo.onnx")):
        pytest.skip("zoo fixture segate is missing (tools/make_zoo_fixtures.py makes it)")
    with np.load(ZOO / "segate.npz") as data:
        np.save(tmp_path / "x.npy", data["x"])
    return tmp_path / "x.npy"


def test_the_gate_is_an_expected_note_not_an_unrecognised_leak(segate_inputs, tmp_path,
                                                                 capsys):
    """A gate conserves nothing (zennit's convention): said as expected, with why."""
    from lrpcore.cli.main import main

    assert main(["explain", str(ZOO / "segate_dynamo.onnx"), str(segate_inputs),
                 "--raw", "--out", str(tmp_path / "R.npy")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert not [line for line in err if "not recognised" in line], err
    assert any("note: expected:" in line and "squeeze-and-excitation" in line for line in err)


def test_trace_reports_what_each_gate_input_received(segate_inputs, tmp_path, capsys):
    from lrpcore.cli.main import main

    assert main(["explain", str(ZOO / "segate_ts.onnx"), str(segate_inputs), "--raw",
                 "--trace", "--out", str(tmp_path / "R.npy")]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [k for k, line in enumerate(out) if " Gate " in line]
    assert len(rows) == 2 * 4  # two gates, four samples
    for k in rows:  # the map's branch, then the gate's
        assert "↳ from node" in out[k + 1] and "↳ from node" in out[k + 2]


def test_float_attributes_read_as_the_numbers_they_were_written_from(tmp_path):
    """ONNX keeps float attributes in float32: PyTorch's hardsigmoid (x / 6 + 0.5) arrives with
    α = 0.16666667163…, which put a float64 mobilenet_v3_small 4e-7 from PyTorch in its outputs
    and 6e-5 of max|R| from zennit; a plain fraction or short decimal is taken back."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from lrpcore.graph_activations import HardSigmoid
    from lrpcore.graph_layers import LeakyReLU
    from lrpcore.io.onnx_graph import as_written

    nodes = [helper.make_node("HardSigmoid", ["x"], ["h"], alpha=1 / 6, beta=0.5, name="hs"),
             helper.make_node("LeakyRelu", ["h"], ["l"], alpha=0.01, name="lr"),
             helper.make_node("GlobalAveragePool", ["l"], ["p"], name="pool"),
             helper.make_node("Flatten", ["p"], ["out"], name="flat")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 3])])
    path = tmp_path / "attrs.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    layers = {type(n.layer): n.layer for n in lrpcore.load_model(path).nodes}
    assert layers[HardSigmoid].alpha == 1 / 6 and layers[HardSigmoid].beta == 0.5
    assert layers[LeakyReLU].slope == 0.01
    # a constant of more digits than float32 holds stays the float32's value
    selu = float(np.float32(1.6732632423543772))
    assert as_written(selu) == selu
    assert as_written(float(np.float32(0.044715))) == 0.044715


def test_an_attention_gate_sends_the_map_r_s_and_the_gate_r_x_summed_over_channels():
    rng = np.random.default_rng(2)
    x, s = rng.normal(size=(2, 5, 4, 3)), rng.uniform(size=(2, 5, 4, 1))
    R = rng.normal(size=(2, 5, 4, 3))
    gate = Gate()
    assert gate.output_shape_many([(5, 4, 3), (5, 4, 1)]) == (5, 4, 3)
    with pytest.raises(ShapeError, match="one per position"):
        gate.output_shape_many([(5, 4, 3), (5, 1, 1)])  # neither per channel nor per position
    to_map, to_gate = gate.split([x, s], x * s, R, 1e-6, np)
    np.testing.assert_allclose(to_map, R * s)
    np.testing.assert_allclose(to_gate, (R * x).sum(axis=-1, keepdims=True))


def _product(tmp_path, gate_channels=1, activation="Sigmoid"):
    """x (N×3×4×4) → two 1×1 Convs: a 3-channel map c and a ``gate_channels`` map v; the Mul
    of c and ``activation``(v) (None: v itself), pooled and flattened."""
    pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), name)
             for name, shape in (("W", (3, 3, 1, 1)), ("V", (gate_channels, 3, 1, 1)))]
    act = [helper.make_node(activation, ["v"], ["s"], name="act")] if activation else []
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv"),
             helper.make_node("Conv", ["x", "V"], ["v"], name="psi"), *act,
             helper.make_node("Mul", ["s" if activation else "v", "c"], ["m"], name="gate"),
             helper.make_node("GlobalAveragePool", ["m"], ["p"], name="pool"),
             helper.make_node("Flatten", ["p"], ["out"], name="flat")]
    return save_onnx_graph(tmp_path / f"{gate_channels}{activation}.onnx", nodes, inits,
                           ["N", 3, 4, 4], ["N", 3])


@pytest.mark.parametrize("activation", ["Sigmoid", "HardSigmoid"])
def test_a_map_times_a_sigmoids_one_channel_map_is_a_gate(tmp_path, activation):
    """Attention U-Net's gate was refused as a Mul of two tensors."""
    model = lrpcore.load_model(_product(tmp_path, 1, activation))
    gate = next(n for n in model.nodes if isinstance(n.layer, Gate))
    producers = {n.output: n for n in model.nodes}
    assert producers[gate.inputs[0]].name == "conv"  # the map first, as written or not
    assert producers[gate.inputs[1]].layer.kind == activation
    x = np.random.default_rng(1).normal(size=(2, 3, 4, 4))
    fw = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True)
    R = fw.relevance("epsilon:1e-9")
    assert R.shape == x.shape and np.isfinite(R).all() and np.abs(R).max() > 0


@pytest.mark.parametrize("channels, activation", [(3, "Sigmoid"), (1, None), (1, "Relu")])
def test_other_products_of_two_signals_stay_refused(tmp_path, channels, activation):
    """Two full maps (even a sigmoid's), or a one-channel map no sigmoid computed: no gate."""
    from lrpcore import ModelFormatError

    with pytest.raises(ModelFormatError, match="'gate'.*Mul of two tensors is not supported: "
                       "LRP here has no rule for a product of two signals"):
        lrpcore.load_model(_product(tmp_path, channels, activation))


@pytest.fixture
def attunet():
    pytest.importorskip("onnx")
    if not all((ZOO / f"attunet{end}").exists() for end in (".npz", "_ts.onnx", "_dynamo.onnx")):
        pytest.skip("zoo fixture attunet is missing (tools/make_zoo_fixtures.py makes it)")
    with np.load(ZOO / "attunet.npz") as data:
        return data["x"]


@pytest.mark.parametrize("file", ["attunet_ts", "attunet_dynamo"])
def test_the_zoo_attention_gates_load_as_gates_and_trace_the_maps_share(attunet, file):
    """Both exporters' Attention U-Net (it was refused); a trace shows at each gate what its
    map received (it was the map's and the gate's shares concatenated along channels)."""
    model = lrpcore.load_model(ZOO / f"{file}.onnx")
    nodes = model.analysis_nodes()
    gates = [k for k, n in enumerate(nodes) if isinstance(n.layer, Gate)]
    assert len(gates) == 2
    producers = {n.output: n for n in nodes}
    assert all(producers[nodes[k].inputs[1]].layer.kind == "Sigmoid" for k in gates)
    fw = lrpcore.Explainer(model, dtype="float64").forward(attunet, raw=True)
    _, trace = fw.relevance("EpsilonPlus", "pred", trace=True)
    for k in gates:
        assert trace[k].shape == trace[k + 1].shape  # the map's shape: what follows reads it
        assert trace[k].shape[-1] > 1


def _expanded(tmp_path, reader):
    """x (N×3×4×4) → a 3-channel Conv c and sigmoid(Conv(x)), one channel, expanded to c's
    shape (``α.expand_as(c)``, the Shape of c as the target) and read by ``reader``: Mul of
    it and c, or Add."""
    pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), name)
             for name, shape in (("W", (3, 3, 1, 1)), ("V", (1, 3, 1, 1)))]
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv"),
             helper.make_node("Conv", ["x", "V"], ["v"], name="psi"),
             helper.make_node("Sigmoid", ["v"], ["s"], name="sigmoid"),
             helper.make_node("Shape", ["c"], ["shape"], name="shape"),
             helper.make_node("Expand", ["s", "shape"], ["e"], name="expand"),
             helper.make_node(reader, ["e", "c"], ["m"], name="gate"),
             helper.make_node("GlobalAveragePool", ["m"], ["p"], name="pool"),
             helper.make_node("Flatten", ["p"], ["out"], name="flat")]
    return save_onnx_graph(tmp_path / f"{reader}.onnx", nodes, inits, ["N", 3, 4, 4],
                           ["N", 3])


def test_an_expanded_attention_map_is_a_gate_and_only_a_mul_may_read_an_expand(tmp_path):
    """Oktay et al.'s code writes ``α.expand_as(x) * x``: the Expand of data was refused as an
    unsupported operator. It is the tensor itself, which the Mul broadcasts alike; any other
    reader would see too few channels, and is refused."""
    from lrpcore import ModelFormatError

    model = lrpcore.load_model(_expanded(tmp_path, "Mul"))
    gate = next(n for n in model.nodes if isinstance(n.layer, Gate))
    producers = {n.output: n for n in model.nodes}
    assert producers[gate.inputs[1]].name == "sigmoid"
    x = np.random.default_rng(4).normal(size=(2, 3, 4, 4))
    w = np.random.default_rng(3)
    W, V = w.normal(size=(3, 3)), w.normal(size=(1, 3))
    c, s = np.einsum("oc,nchw->nohw", W, x), 1 / (1 + np.exp(-np.einsum("oc,nchw->nohw", V, x)))
    y = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True).outputs()
    np.testing.assert_allclose(y, (c * s).mean(axis=(2, 3)), rtol=1e-5)
    with pytest.raises(ModelFormatError, match="'gate'.*Add of 'e', an Expand of data, is not "
                       "supported: only a Mul of two tensors may read one"):
        lrpcore.load_model(_expanded(tmp_path, "Add"))


def test_an_expand_of_data_as_the_graph_output_is_refused(tmp_path):
    """The output would have had the unexpanded tensor's shape."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from lrpcore import ModelFormatError

    nodes = [helper.make_node("Sigmoid", ["x"], ["s"], name="sigmoid"),
             helper.make_node("Constant", [], ["shape"], name="target",
                              value=helper.make_tensor("v", TensorProto.INT64, [4],
                                                       [1, 3, 4, 4])),
             helper.make_node("Expand", ["s", "shape"], ["out"], name="expand")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, 4, 4])])
    path = tmp_path / "expand.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(ModelFormatError, match="'out' is an Expand of data"):
        lrpcore.load_model(path)
