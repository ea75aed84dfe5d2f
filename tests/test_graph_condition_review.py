"""Graph-model API edges found in acceptance review: a condition mask in the model's own
channels-first layout, wrong or non-finite masks as one-line errors, and a per-layer rule for
a node index past the end (was numpy's broadcast error, a misleading 'not finite' advice, and
an IndexError)."""

from __future__ import annotations

import numpy as np
import pytest
from shared_data import shared_path

import lrpcore
from lrpcore import RuleError, ShapeError


@pytest.fixture(scope="module")
def forward():
    model = lrpcore.load_model(shared_path("models", "torch_onnx", "mnist_resnet.onnx"))
    x = np.random.default_rng(3).random((2, 1, 28, 28))
    return model, lrpcore.Explainer(model, "numpy", "float64").forward(x, raw=True)


def test_a_channels_first_mask_conditions_like_the_stored_one(forward):
    model, fwd = forward
    k = model.node_names.index("/layer3/Add")
    H, W, C = model.shapes()[k]
    nchw = np.zeros((C, H, W))
    nchw[5] = 1
    mine = fwd.relevance("EpsilonPlus", condition={"/layer3/Add": nchw})
    stored = fwd.relevance("EpsilonPlus", condition={k: nchw.transpose(1, 2, 0)})
    np.testing.assert_array_equal(mine, stored)
    assert np.abs(mine).sum() > 0


@pytest.mark.parametrize("mask, phrase", [(np.ones((3, 3)), "does not fit its output"),
                                          (np.full((7, 7, 64), np.nan), "NaN")])
def test_bad_masks_are_one_line_errors(forward, mask, phrase):
    _, fwd = forward
    with pytest.raises(ShapeError, match=phrase) as info:
        fwd.relevance("EpsilonPlus", condition={"/layer3/Add": mask})
    assert "/layer3/Add" in str(info.value)


def test_a_layer_rule_past_the_last_node_is_a_rule_error(forward):
    _, fwd = forward
    with pytest.raises(RuleError, match="layer 500 does not exist"):
        fwd.relevance("EpsilonPlus", layer_rules={500: "zplus"})
