"""Stop 28, core6: a channels-first graph model saved without a spec loads back; the CLI's
refusal of data of another size names the sidecar; ``lrp info`` says what the output is when
the input is unknown; a cancelling output sum is said as the blow-up's cause."""

from __future__ import annotations

import numpy as np

import lrpcore
from lrpcore.graph import GraphModel, Node
from lrpcore.graph_layers import ToChannelsLast
from lrpcore.layers import Convolution


def _channels_first_conv():
    """ToChannelsLast → 3×3 conv of 3 channels: a 3×3 input happens to end in a 1×1 map,
    which the toolbox's guess took for an H×W×C input of 3×3×3."""
    conv = Convolution(np.random.default_rng(0).normal(size=(3, 3, 3, 4)), np.zeros(4))
    return GraphModel([Node("nhwc", ToChannelsLast(), ("x",), "h"),
                       Node("conv", conv, ("h",), "y")], "x", "y")


def test_a_channels_first_model_saved_without_a_spec_loads_back(tmp_path):
    """save → load failed: "'layout' NHWC contradicts the model, which takes NCHW". No
    toolbox guess is made for a C×H×W input, so nothing contradicting is saved."""
    model = _channels_first_conv()
    assert model.input_spec is None
    path = tmp_path / "g.npz"
    lrpcore.save_model(model, path)
    back = lrpcore.load_model(path)
    assert back.input_spec is None and back.node_names == model.node_names
    x = np.random.default_rng(1).normal(size=(2, 3, 5, 5))
    assert np.allclose(back.forward(x), model.forward(x))
