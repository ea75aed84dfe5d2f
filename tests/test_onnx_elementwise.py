"""Element-wise activations written as several ONNX operators (lrpcore.io.onnx_elementwise),
and the operators real classifiers contain that are refused with the reason.

The zoo fixtures ``smooth_*`` check the relevance against zennit; these tests check what the
importer builds: one ``Elementwise`` node for GELU's Div/Erf/Add/Mul/Mul, a residual Add kept a
merge, a gate from another tensor still refused, Mish, a LogSoftmax over a map and what
ConvTranspose and Resize lack refused with the reason, LogSoftmax's gradient, and a native
program that names an unknown operation refused."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from gradient_checks import check_forward_and_gradient

import lrpcore
from lrpcore import ModelFormatError
from lrpcore.graph_elementwise import Elementwise

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

X = np.linspace(-4, 4, 33).reshape(1, 33) + 0.011


def _save(tmp_path, nodes, inits=(), out_shape=("N", 3, 4, 4), name="m.onnx", opset=17):
    W = numpy_helper.from_array(np.eye(3, dtype=np.float32).reshape(3, 3, 1, 1), "W")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "W"], ["c"], name="conv"), *nodes], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, list(out_shape))],
        [W, *inits])
    path = tmp_path / name
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)
    return path


def _const(name, value):
    return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)


def _gelu_nodes():
    """PyTorch's TorchScript export of nn.GELU(): x · (erf(x / √2) + 1) · 0.5, with the
    constant first in the last Mul."""
    return [helper.make_node("Div", ["c", "sqrt2"], ["d"], name="div"),
            helper.make_node("Erf", ["d"], ["e"], name="erf"),
            helper.make_node("Add", ["e", "one"], ["a"], name="add"),
            helper.make_node("Mul", ["c", "a"], ["m"], name="mul"),
            helper.make_node("Mul", ["half", "m"], ["g"], name="mul_half"),
            helper.make_node("GlobalAveragePool", ["g"], ["p"], name="pool"),
            helper.make_node("Flatten", ["p"], ["out"], name="flat")]


GELU_CONSTS = (_const("sqrt2", math.sqrt(2)), _const("one", 1.0), _const("half", 0.5))


def test_gelu_written_as_five_operators_is_one_activation(tmp_path):
    from scipy.special import erf

    model = lrpcore.load_model(_save(tmp_path, _gelu_nodes(), GELU_CONSTS, ("N", 3)))
    kinds = [n.layer.kind for n in model.nodes]
    assert kinds.count("Elementwise") == 1 and "Affine" not in kinds and "Add" not in kinds
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 4))
    fw = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True)
    gelu = x * (erf(x / np.sqrt(2)) + 1) / 2
    np.testing.assert_allclose(fw.outputs(), gelu.mean(axis=(2, 3)), rtol=1e-6, atol=1e-7)
    # relevance passes the activation unchanged (zennit's Pass for nn.GELU): behind the
    # identity convolution the input gets the mean pool's, each position its share of GELU
    R = fw.relevance("epsilon:1e-12")
    pred = fw.outputs().argmax(axis=1)
    for n, c in enumerate(pred):
        share = gelu[n, c] / gelu[n, c].sum() * fw.outputs()[n, c]
        np.testing.assert_allclose(R[n, c], share, rtol=1e-5, atol=1e-9)


def test_a_residual_add_is_not_taken_for_an_activation(tmp_path):
    """Add(c, relu(c)) reads c twice, as a skip connection does: it stays a merge."""
    path = _save(tmp_path, [helper.make_node("Relu", ["c"], ["r"], name="relu"),
                            helper.make_node("Add", ["c", "r"], ["out"], name="add")])
    kinds = [n.layer.kind for n in lrpcore.load_model(path).nodes]
    assert "Add" in kinds and "Elementwise" not in kinds


def test_a_gate_computed_from_another_tensor_stays_refused(tmp_path):
    W2 = numpy_helper.from_array(np.ones((3, 3, 1, 1), dtype=np.float32), "W2")
    path = _save(tmp_path, [helper.make_node("Conv", ["c", "W2"], ["g"], name="conv2"),
                            helper.make_node("Erf", ["g"], ["e"], name="erf"),
                            helper.make_node("Mul", ["c", "e"], ["out"], name="gate")], [W2])
    with pytest.raises(ModelFormatError, match="gate.*product of two signals"):
        lrpcore.load_model(path)


@pytest.mark.parametrize("how", ["operator", "composed"])
def test_mish_is_refused_naming_why(tmp_path, how):
    """zennit has no rule for nn.Mish (not one of its Activation types): it takes the
    gradient there, which this engine does not; passing relevance would differ."""
    if how == "operator":
        nodes, opset = [helper.make_node("Mish", ["c"], ["out"], name="mish")], 18
    else:  # the TorchScript export: Softplus, Tanh, Mul
        nodes, opset = [helper.make_node("Softplus", ["c"], ["s"], name="softplus"),
                        helper.make_node("Tanh", ["s"], ["t"], name="tanh"),
                        helper.make_node("Mul", ["c", "t"], ["out"], name="mish")], 17
    with pytest.raises(ModelFormatError, match="'mish'.*Mish.*gradient"):
        lrpcore.load_model(_save(tmp_path, nodes, opset=opset))


def test_log_softmax_of_a_map_and_what_upsampling_lacks_are_refused_with_the_reason(tmp_path):
    # over the map's height (over its channels, axis 1, it is a segmentation network's)
    path = _save(tmp_path, [helper.make_node("LogSoftmax", ["c"], ["out"], name="logsm",
                                             axis=2)])
    with pytest.raises(ModelFormatError, match="'logsm'.*LogSoftmax along axis 2.*flat"):
        lrpcore.load_model(path)
    Wt = numpy_helper.from_array(np.ones((3, 3, 2, 2), dtype=np.float32), "Wt")
    path = _save(tmp_path, [helper.make_node("ConvTranspose", ["c", "Wt"], ["out"], name="up",
                                             dilations=[2, 2])], [Wt], name="t.onnx")
    with pytest.raises(ModelFormatError, match="'up'.*dilated transposed convolutions"):
        lrpcore.load_model(path)
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")
    path = _save(tmp_path, [helper.make_node("Resize", ["c", "", "scales"], ["out"],
                                             name="grow", mode="linear",
                                             coordinate_transformation_mode="tf_crop_and_resize"
                                             )], [scales], name="r.onnx")
    with pytest.raises(ModelFormatError, match="'grow'.*'tf_crop_and_resize'.*not supported"):
        lrpcore.load_model(path)


PROGRAMS = [
    ([["softplus", "x"]], lambda x: np.log1p(np.exp(x))),
    ([["abs", "x"], ["add", 0, 1.0], ["div", "x", 1]], lambda x: x / (1 + np.abs(x))),
    ([["celu", "x", 0.5]], lambda x: np.where(x > 0, x, 0.5 * np.expm1(x / 0.5))),
    ([["sigmoid", "x"], ["log", 0]], lambda x: -np.log1p(np.exp(-x))),
    ([["gt", "x", 1.0], ["softplus", "x"], ["where", 0, "x", 1]],
     lambda x: np.where(x > 1, x, np.log1p(np.exp(x)))),
    ([["pow", "x", 3.0], ["mul", 0, 0.044715], ["add", "x", 1],
      ["mul", 2, math.sqrt(2 / math.pi)], ["tanh", 3], ["add", 4, 1.0], ["mul", "x", 5],
      ["mul", 6, 0.5]],
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
]


@pytest.mark.parametrize("program, want", PROGRAMS, ids=lambda p: str(p)[:30])
def test_programs_compute_the_function_and_its_derivative(program, want):
    check_forward_and_gradient(Elementwise(program), want, X)


def test_a_local_response_norm_and_a_layer_norm_over_the_width_are_refused_with_the_reason(
        tmp_path):
    """(LayerNorm over the channels loads: tests/test_convnext_layers.py; group and instance
    normalisation: tests/test_group_norm.py)"""
    path = _save(tmp_path, [helper.make_node("LRN", ["c"], ["out"], name="lrn", size=3)])
    with pytest.raises(ModelFormatError, match="'lrn'.*LRN.*sample's own statistics"):
        lrpcore.load_model(path)
    scale = numpy_helper.from_array(np.ones(4, dtype=np.float32), "scale")
    path = _save(tmp_path, [helper.make_node("LayerNormalization", ["c", "scale"], ["out"],
                                             name="ln", axis=-1)], [scale], opset=17,
                 name="ln.onnx")
    with pytest.raises(ModelFormatError, match="'ln'.*LayerNormalization along axis -1 .*"
                                               "only over the channels"):
        lrpcore.load_model(path)


def test_log_softmax_passes_relevance_as_its_gradient():
    """zennit has no rule for a final log_softmax: its autograd sends R_i (δ_ij − p_j) back,
    so the relevance reaching the logits sums to Σ R (1 − Σ p) = 0 per sample."""
    from lrpcore.graph_activations import LogSoftmax

    x = np.random.default_rng(2).normal(size=(3, 5)) * 3
    layer = LogSoftmax()
    y = layer.forward(x, np)
    np.testing.assert_allclose(y, x - np.log(np.exp(x).sum(1, keepdims=True)), atol=1e-12)
    g = np.zeros_like(x)
    g[np.arange(3), y.argmax(1)] = y.max(1)  # the output of the predicted class, one-hot
    back = layer.gradient(x, y, g, np, np.float64)
    h = 1e-6
    for j in range(5):
        e = np.zeros(5)
        e[j] = h
        numeric = ((layer.forward(x + e, np) - layer.forward(x - e, np)) / (2 * h) * g).sum(1)
        np.testing.assert_allclose(back[:, j], numeric, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(back.sum(1), 0, atol=1e-12)


@pytest.mark.parametrize("op", ["system", ["erf"], None])
def test_a_native_program_with_an_unknown_operation_is_refused(tmp_path, op):
    model = lrpcore.load_model(_save(tmp_path, _gelu_nodes(), GELU_CONSTS, ("N", 3)))
    path = tmp_path / "model.npz"
    lrpcore.save_model(model, path)
    again = lrpcore.load_model(path)
    assert [n.layer.program for n in again.nodes if n.layer.kind == "Elementwise"] == \
        [n.layer.program for n in model.nodes if n.layer.kind == "Elementwise"]
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays["header"]))
    k = next(i for i, spec in enumerate(header["layers"]) if spec["type"] == "Elementwise")
    header["layers"][k]["program"][0][0] = op  # a list was an internal TypeError
    arrays["header"] = np.array(json.dumps(header))
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFormatError, match=f"layer {k}.*unknown operation"):
        lrpcore.load_model(tmp_path / "bad.npz")
