"""lrpcore.concepts takes layers by name as the README names them (`convolution1`, an ONNX
node such as `/layer2/relu_1/Relu`), not only by index: `rank_channels(fwd, "convolution1")`
failed with "TypeError: can only concatenate str (not "int") to str" (acceptance review)."""

from __future__ import annotations

import numpy as np
import pytest
from shared_data import shared_path

import lrpcore
from lrpcore import concepts
from lrpcore.errors import RuleError


@pytest.fixture(scope="module")
def lenet_forward():
    model = lrpcore.load_model("mnist-lenet5")
    x = lrpcore.open_dataset("mnist-test").images([0])
    return lrpcore.Explainer(model).forward(x)


def test_a_chain_layer_by_name_is_the_layer_by_index(lenet_forward):
    k = concepts.resolve_layer(lenet_forward.explainer, "convolution1")
    by_name = concepts.rank_channels(lenet_forward, "convolution1", rule="epsilon:0.01")
    by_index = concepts.rank_channels(lenet_forward, k, rule="epsilon:0.01")
    assert by_name.layer == k and by_name.name == "convolution1"
    np.testing.assert_array_equal(by_name.channels, by_index.channels)
    top = by_name.channels[:2]
    np.testing.assert_array_equal(
        concepts.conditional_heatmaps(lenet_forward, "convolution1", top, "epsilon:0.01"),
        concepts.conditional_heatmaps(lenet_forward, k, top, "epsilon:0.01"))
    assert concepts.composition(lenet_forward, "convolution1", int(top[0])).layer == k


def test_an_unknown_name_is_a_rule_error_naming_it(lenet_forward):
    with pytest.raises(RuleError, match="convolution9"):
        concepts.rank_channels(lenet_forward, "convolution9")


def test_a_graph_node_by_name():
    model = lrpcore.load_model(shared_path("models", "torch_onnx", "mnist_resnet.onnx"))
    x = lrpcore.open_dataset("mnist-test").images([0])
    fwd = lrpcore.Explainer(model).forward(x)
    ranking = concepts.rank_channels(fwd, "/layer2/relu_1/Relu")
    assert ranking.name == "/layer2/relu_1/Relu" and len(ranking.channels) == 32
