"""Refusals that say how the file was exported, and what to do.

A refusal in a ``dynamo=True`` export names the module it comes from: the exporter names its
nodes by operator (``node_mul``), so "node 9 'node_mul' (Mul): Mul of two tensors is not
supported" left a MobileNetV3 user to guess which of 50 products; the node's
``pkg.torch.onnx.name_scopes`` and ``class_hierarchy`` say it: ``in module
'features.1.block.1' (SqueezeExcitation)`` (torchvision's mobilenet_v3_small, efficientnet_b0,
regnet_y_400mf; ConvNeXt's LayerNorm2d likewise). An input whose height and width were left
open (``dynamic_axes={"input": {0: "N", 2: "H", 3: "W"}}``, dynamo's ``dynamic_shapes``) is
refused saying so and how to export it instead, or how a sidecar (``MODEL.json``) gives the
sizes: its input ``"shape"`` fixes the ones the file leaves open."""

from __future__ import annotations

import numpy as np
import pytest
from hostile_files import save_onnx_graph

from lrpcore import ModelFormatError, load_model

onnx = pytest.importorskip("onnx")
from onnx import helper, numpy_helper  # noqa: E402

HIERARCHY = ("['torchvision.models.mobilenetv3.MobileNetV3', "
             "'torch.nn.modules.container.Sequential', "
             "'torchvision.models.mobilenetv3.InvertedResidual', "
             "'torch.nn.modules.container.Sequential', 'torchvision.ops.misc.SqueezeExcitation', "
             "'aten.mul.Tensor']")


def _gate(tmp_path, props):
    """r · sigmoid(r W), r = relu(x): a gate computed by a linear layer, as
    squeeze-and-excitation's."""
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="node_relu"),
             helper.make_node("MatMul", ["r", "W"], ["z"], name="node_linear"),
             helper.make_node("Sigmoid", ["z"], ["s"], name="node_sigmoid"),
             helper.make_node("Mul", ["s", "r"], ["y"], name="node_mul")]
    for key, value in props.items():
        nodes[3].metadata_props.add(key=key, value=value)
    W = numpy_helper.from_array(np.eye(4, dtype=np.float32), "W")
    return save_onnx_graph(tmp_path / "gate.onnx", nodes, [W], (1, 4), (1, 4))


def test_a_dynamo_refusal_names_the_module(tmp_path):
    path = _gate(tmp_path, {"pkg.torch.onnx.name_scopes": "['', 'features', 'features.1', "
                            "'features.1.block', 'features.1.block.1', 'mul']",
                            "pkg.torch.onnx.class_hierarchy": HIERARCHY})
    with pytest.raises(ModelFormatError) as err:
        load_model(path)
    assert str(err.value).startswith(
        f"{path}: node 3 'node_mul' (Mul) in module 'features.1.block.1' (SqueezeExcitation): "
        "Mul of two tensors is not supported")


@pytest.mark.parametrize("scopes", [None, "['', 'mul']", "not a list", "[" * 5000])
def test_without_a_module_the_message_is_as_before(tmp_path, scopes):
    """A call in the model's own forward, other producers, damaged metadata."""
    path = _gate(tmp_path, {} if scopes is None else {"pkg.torch.onnx.name_scopes": scopes})
    with pytest.raises(ModelFormatError) as err:
        load_model(path)
    assert str(err.value).startswith(f"{path}: node 3 'node_mul' (Mul): Mul of two tensors")


def test_open_image_sizes_say_how_to_export(tmp_path):
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["p"]),
             helper.make_node("Flatten", ["p"], ["y"])]
    path = save_onnx_graph(tmp_path / "d.onnx", nodes, [], ("N", 3, "H", "W"), ("N", 3))
    with pytest.raises(ModelFormatError) as err:
        load_model(path)
    assert str(err.value) == (
        f"{path}: input 'x' must have a fixed shape (N, features), (N, C, L), (N, C, H, W) or "
        "(N, H, W, C); got ['N', 3, 'H', 'W']; its sizes beyond the batch are left open "
        "(dynamic_axes or dynamic_shapes on them): export it with a fixed input size, dynamic "
        "on the batch axis only, or give the size in its sidecar d.json: "
        '{"input": {"shape": [3, 224, 224]}}')


def _open_conv(tmp_path):
    """A 3×3 convolution, ReLU, global pool and a linear layer on an N×3×H×W input whose H
    and W are left open; the weights, to compute it here."""
    rng = np.random.default_rng(5)
    W, G = rng.normal(size=(4, 3, 3, 3)), rng.normal(size=(4, 2))
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("MatMul", ["f", "G"], ["y"], name="fc")]
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for a, n in ((W, "W"), (G, "G"))]
    path = save_onnx_graph(tmp_path / "open.onnx", nodes, inits, ("N", 3, "H", "W"), ("N", 2))
    return path, W.astype(np.float32).astype(np.float64), G.astype(np.float32).astype(
        np.float64)


def test_a_sidecar_shape_fixes_the_sizes_the_file_leaves_open(tmp_path):
    """The sidecar's "shape" (the input's own axis order, C×H×W here) gives H and W: the model
    loads at that size and computes what the file says (it was refused whatever the sidecar
    said: the loader stopped before the sidecar was read)."""
    import json

    import lrpcore

    path, W, G = _open_conv(tmp_path)
    (tmp_path / "open.json").write_text(json.dumps({"input": {"shape": [3, 7, 5]}}))
    model = load_model(path)
    assert (model.input_spec.shape, model.input_spec.raw_shape) == ((3, 7, 5), (7, 5, 3))
    x = np.random.default_rng(6).normal(size=(2, 3, 7, 5))
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    conv = sum(np.einsum("nchw,oc->nohw", padded[:, :, i:i + 7, j:j + 5], W[:, :, i, j])
               for i in range(3) for j in range(3))
    want = np.maximum(conv, 0).mean(axis=(2, 3)) @ G
    np.testing.assert_allclose(model.forward(x), want, rtol=1e-12, atol=1e-12)
    R = lrpcore.explain(model, x, rule="EpsilonPlus", raw=True, dtype="float64")
    assert R.shape == x.shape
    with pytest.raises(ModelFormatError, match="left open"):  # the sidecar not read
        load_model(path, sidecar=False)


@pytest.mark.parametrize("shape", [[4, 7, 5], [7, 5, 3], [3, 7], [3, 0, 5], [3, 7.5, 5],
                                   "3x7x5", [3, True, 5]])
def test_a_sidecar_shape_that_does_not_fit_the_open_input_is_refused(tmp_path, shape):
    """Another channel count than the file's, H×W×C for a C×H×W input, the wrong rank, sizes
    that are no positive integers: refused in one line naming the file, the sidecar and the
    declared sizes."""
    import json

    path, _, _ = _open_conv(tmp_path)
    (tmp_path / "open.json").write_text(json.dumps({"input": {"shape": shape}}))
    with pytest.raises(ModelFormatError) as err:
        load_model(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: the input shape ") and "sidecar open.json" in msg
    assert "declared per-sample sizes 3×?×?" in msg and "\n" not in msg
