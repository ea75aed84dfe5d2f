"""Refusals that say how the file was exported, and what to do.

A refusal in a ``dynamo=True`` export names the module it comes from: the exporter names its
nodes by operator (``node_mul``), so "node 9 'node_mul' (Mul): Mul of two tensors is not
supported" left a MobileNetV3 user to guess which of 50 products; the node's
``pkg.torch.onnx.name_scopes`` and ``class_hierarchy`` say it: ``in module
'features.1.block.1' (SqueezeExcitation)`` (torchvision's mobilenet_v3_small, efficientnet_b0,
regnet_y_400mf; ConvNeXt's LayerNorm2d likewise). An input whose height and width were left
open (``dynamic_axes={"input": {0: "N", 2: "H", 3: "W"}}``, dynamo's ``dynamic_shapes``) is
refused saying so and how to export it instead."""

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
        "on the batch axis only")
