"""Training a model with dilated convolutions (``lrp train --layers conv:HxWxN@D``, or a
model's layers through ``lrpcore.train.backprop``): their weight and bias gradients (once
"no parameter gradient for layer type DilatedConvolution") against finite differences and
against the filter holding zeros between its taps, and a tiny dilated model that learns."""

from __future__ import annotations

import numpy as np
import pytest
from materialised_dilation import MaterialisedConvolution, MaterialisedGroupedConvolution
from test_dilated_phases import CASES
from test_train import _cfg, _check_grads, _toy_data

import lrpcore
from lrpcore import graph_dilated
from lrpcore.errors import ShapeError
from lrpcore.graph_dilated import DilatedConvolution, DilatedGroupedConvolution
from lrpcore.layers import Flatten, Linear, Rect
from lrpcore.train.architectures import build_model, parse_layers
from lrpcore.train.backprop import backward, forward_trace
from lrpcore.train.loop import train

RNG = np.random.default_rng(27)


@pytest.mark.parametrize("make, in_shape", [
    # phases of two lengths (7 outputs at dilation 2), then a strided one beside a dilation
    # sharing a factor, and a depthwise one with a coprime stride
    (lambda r: [DilatedConvolution(r.normal(size=(3, 3, 2, 3)), r.normal(size=3), (1, 1),
                                   (2, 3)), Rect(), Flatten(), Linear(r.normal(size=(126, 2)),
                                                                      r.normal(size=2))],
     (11, 12, 2)),
    (lambda r: [DilatedConvolution(r.normal(size=(2, 3, 2, 3)), r.normal(size=3), (2, 2),
                                   (4, 2)), Rect(),
                DilatedGroupedConvolution(r.normal(size=(2, 2, 1, 3)), r.normal(size=3),
                                          (2, 1), 3, (3, 2))], (13, 12, 2)),
], ids=["uneven-phases", "strided-and-depthwise"])
def test_dilated_gradients_match_finite_differences(make, in_shape):
    layers = make(np.random.default_rng(4))
    assert _check_grads(layers, in_shape) >= 4


@pytest.mark.parametrize("split", [0, np.inf], ids=["two-lengths", "padded"])
@pytest.mark.parametrize("taps, stride, dilation, size, groups", CASES)
def test_dilated_gradients_are_the_zero_filled_filters_at_the_taps(taps, stride, dilation,
                                                                   size, groups, split,
                                                                   monkeypatch):
    """The filter with zeros between its taps is an ordinary convolution: its gradient at the
    taps is the dilated one's (the phases' blocks, strides and dropped outputs included)."""
    monkeypatch.setattr(graph_dilated, "SPLIT_MACS", split)
    W = RNG.normal(size=taps + (4 // groups, 8))
    B = RNG.normal(size=8)
    if groups == 1:
        new = DilatedConvolution(W, B, stride, dilation)
        old = MaterialisedConvolution(W, B, stride, dilation)
    else:
        new = DilatedGroupedConvolution(W, B, stride, groups, dilation)
        old = MaterialisedGroupedConvolution(W, B, stride, groups, dilation)
    x = RNG.normal(size=(2,) + size + (4,))
    dy = RNG.normal(size=(2,) + old.output_shape(x.shape[1:]))
    got, want = new.parameter_gradients(x, dy, np), old.parameter_gradients(x, dy, np)
    np.testing.assert_allclose(got["W"], want["W"][::dilation[0], ::dilation[1]], rtol=1e-12,
                               atol=1e-12 * np.abs(want["W"]).max())
    np.testing.assert_allclose(got["B"], want["B"], rtol=1e-12)


def test_a_tiny_dilated_model_trains_and_explains(tmp_path):
    """``conv:3x3x4@2`` builds a dilated convolution; the loss falls, the saved model reads
    back with the layer and explains."""
    out = tmp_path / "atrous.npz"
    res = train(_cfg(layers="conv:3x3x4@2,rect,sumpool:2,flatten,linear:3", epochs=4),
                _toy_data(), out, backend="numpy", log=lambda line: None)
    assert res.history[-1]["loss"] < 0.5 * res.history[0]["loss"]
    model = lrpcore.load_model(out)
    assert isinstance(model.layers[0], DilatedConvolution)
    assert model.layers[0].dilation == (2, 2)
    x = _toy_data(6, seed=2).images
    R = lrpcore.explain(model, x, rule="epsilon:0.01", backend="numpy")
    assert R.shape[0] == 6 and np.isfinite(R).all() and np.abs(R).max() > 0


def test_a_dilated_model_step_moves_every_weight():
    """One backward pass through build_model's dilated stack gives every layer's W and B a
    gradient of its own shape (the trained copy goes back into the layers as it was)."""
    model = build_model("conv:3x3x3/2@2,rect,conv:2x2x2@3,flatten,linear:3", RNG,
                        raw_shape=(16, 16, 1), pad=1)
    layers = model.layers
    params = [{"W": ly.W, "B": ly.B} if ly.weighted else None for ly in layers]
    x = RNG.normal(size=(2,) + tuple(model.input_spec.shape))
    acts = forward_trace(layers, params, x, np)
    grads = backward(layers, params, acts, RNG.normal(size=acts[-1].shape), np)
    for p, g in zip(params, grads, strict=True):
        if p is not None:
            assert g["W"].shape == p["W"].shape and np.abs(g["W"]).max() > 0
            assert g["B"].shape == p["B"].shape


@pytest.mark.parametrize("text, why", [("conv:3x3x4@0", "positive integers"),
                                       ("conv:3x3x4@65", "dilation 65 is more than 64"),
                                       ("conv:3x3x4@", "conv:HxWxN/S@D")])
def test_bad_dilations_are_refused_naming_the_token(text, why):
    with pytest.raises(ShapeError, match=f"token 1 '{text}'.*{why}"):
        parse_layers(text)


def test_a_trained_dilated_chains_batch_estimate_counts_its_gathered_phases():
    """A model lrp train makes with conv:HxWxN@D is a chain (native .npz), whose per-sample
    estimate summed the layers' outputs only: the dilated convolution's gathered input
    phases (here 16 channels in, 1 out) were left out, as they were in graph models."""
    model = build_model("conv:3x3x1@3,flatten,linear:2", RNG, raw_shape=(23, 23, 16), pad=0)
    conv = model.layers[0]
    assert isinstance(conv, DilatedConvolution)
    shape = tuple(model.input_spec.shape)
    with_phases = lrpcore.Explainer(model, "numpy", "float64").sample_bytes(shape)
    model.layers[0] = MaterialisedConvolution(conv.W, conv.B, (1, 1), (3, 3))
    plain = lrpcore.Explainer(model, "numpy", "float64").sample_bytes(shape)
    # 17 outputs at dilation 3: phases of 6, 6 and 5 outputs (or more, padded), each read
    # from 2 more rows
    gathered = (8 + 8 + 7) ** 2 * 16
    assert with_phases - plain >= gathered * 8
