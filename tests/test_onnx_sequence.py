"""Sequence inputs (N×C×L, PyTorch's Conv1d models; lrpcore.io.onnx_graph): the zoo's
``sequence_*`` and ``keras_seq_tf2onnx`` fixtures check relevance against zennit; these check
per-channel operations on the raw sequence (a BatchNorm1d or a normalisation as the first
node act along C, not L) and what is refused."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore import ModelFormatError

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

C, L = 3, 5
RNG = np.random.default_rng(4)


def _save(tmp_path, first, inits):
    """``first`` (nodes from "x" to "a") → Conv1d → GlobalAveragePool → Flatten."""
    W = numpy_helper.from_array(RNG.normal(size=(2, C, 3)).astype(np.float32), "W")
    graph = helper.make_graph(
        [*first, helper.make_node("Conv", ["a", "W"], ["c"], name="conv"),
         helper.make_node("GlobalAveragePool", ["c"], ["p"], name="pool"),
         helper.make_node("Flatten", ["p"], ["out"], name="flat")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", C, L])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 2])],
        [W, *[numpy_helper.from_array(np.asarray(v, dtype=np.float32), k)
              for k, v in inits.items()]])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path, W


def _conv1d_mean(a, W):
    w = numpy_helper.to_array(W).astype(np.float64)
    out = np.stack([sum(np.einsum("nc,c->n", a[:, :, t + k], w[o, :, k]) for k in range(3))
                    for t in range(L - 2) for o in range(2)], axis=1).reshape(len(a), L - 2, 2)
    return out.mean(axis=1)


@pytest.mark.parametrize("how", ["batchnorm", "sub_div"])
def test_a_per_channel_operation_on_the_raw_sequence_acts_along_channels(tmp_path, how):
    """(Was 'C BatchNormalization channels for L', and a Sub of a C×1 constant refused.)"""
    mean, std = RNG.normal(size=C), RNG.uniform(0.5, 2, size=C)
    if how == "batchnorm":
        first = [helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["a"],
                                  name="bn", epsilon=0.0)]
        inits = {"s": 1 / std, "b": np.zeros(C), "m": mean, "v": np.ones(C)}
    else:
        first = [helper.make_node("Sub", ["x", "m"], ["d"], name="sub"),
                 helper.make_node("Div", ["d", "s"], ["a"], name="div")]
        inits = {"m": mean.reshape(C, 1), "s": std.reshape(C, 1)}
    path, W = _save(tmp_path, first, inits)
    model = lrpcore.load_model(path)
    x = RNG.normal(size=(2, C, L))
    fw = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True)
    a = (x - mean.astype(np.float32)[:, None]) / std.astype(np.float32)[:, None]
    np.testing.assert_allclose(fw.outputs(), _conv1d_mean(a, W), rtol=1e-5, atol=1e-6)
    assert fw.relevance("EpsilonPlus").shape == x.shape  # in the model's own N×C×L


def test_an_unsqueeze_of_data_that_is_no_sequence_relabelling_is_refused(tmp_path):
    first = [helper.make_node("Unsqueeze", ["x", "ax"], ["u"], name="up"),
             helper.make_node("Squeeze", ["u", "ax"], ["a"], name="down")]
    path, _ = _save(tmp_path, first, {})
    graph = onnx.load(path)
    graph.graph.initializer.append(numpy_helper.from_array(np.array([3], np.int64), "ax"))
    onnx.save(graph, path)
    with pytest.raises(ModelFormatError, match="'up'.*Unsqueeze of data"):
        lrpcore.load_model(path)


def test_an_n_l_c_sequence_transposed_for_conv1d_is_read_and_explained_as_given(tmp_path):
    """PyTorch sequence models that take N×L×C and call ``x.transpose(1, 2)`` before Conv1d:
    Transpose [0, 2, 1] of the input (was refused: only NHWC ↔ NCHW)."""
    first = [helper.make_node("Transpose", ["x"], ["a"], name="to_ncl", perm=[0, 2, 1])]
    path, W = _save(tmp_path, first, {})
    proto = onnx.load(path)
    proto.graph.input[0].type.tensor_type.shape.dim[1].dim_value = L
    proto.graph.input[0].type.tensor_type.shape.dim[2].dim_value = C
    onnx.save(proto, path)
    model = lrpcore.load_model(path)
    x = RNG.normal(size=(2, L, C))
    fw = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True)
    np.testing.assert_allclose(fw.outputs(), _conv1d_mean(x.transpose(0, 2, 1), W),
                               rtol=1e-6, atol=1e-7)
    R = fw.relevance("epsilon:1e-9")
    assert R.shape == x.shape  # N×L×C, as fed
    pred = fw.outputs().argmax(1)
    np.testing.assert_allclose(R.sum(axis=(1, 2)), fw.outputs()[np.arange(2), pred],
                               rtol=1e-4)  # no bias: conserved (but for the Norm ε)
