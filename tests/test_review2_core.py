"""Defects found by the second acceptance review of the engine, I/O and command line."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore.explain import resolve_rules
from lrpcore.layers import Convolution, Flatten, Linear, Pad, Rect, Tanh
from lrpcore.model import Sequential
from lrpcore.rules import AlphaBeta, WSquare

# -- presets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("first", [Flatten(), Pad((1, 1, 1, 1))])
def test_alpha1ww_puts_ww_on_the_first_weighted_layer(first):
    """The toolbox demo's w² goes on its first layer, a Linear or Convolution; a Flatten or a
    Pad (an ONNX padded Conv) before it must not make the preset drop w² altogether."""
    rng = np.random.default_rng(0)
    if first.kind == "Flatten":
        layers = [first, Linear(rng.normal(size=(12, 3)), np.zeros(3)), Rect(),
                  Linear(rng.normal(size=(3, 2)), np.zeros(2))]
    else:
        layers = [first, Convolution(rng.normal(size=(3, 3, 1, 2)), np.zeros(2)), Rect(),
                  Flatten(), Linear(rng.normal(size=(4 * 4 * 2, 2)), np.zeros(2))]
    rules = resolve_rules(layers, "Alpha1WW").rules
    assert isinstance(rules[1], WSquare)
    assert all(isinstance(r, AlphaBeta) and r.alpha == 1.0 for r in rules[2:] if r is not None)


# -- input specification inferred for dense models -------------------------------------------


@pytest.mark.parametrize("features", [3, 4, 9, 12, 16])
def test_few_dense_inputs_are_features_not_tiny_images(features):
    """A dense net on 4 (or 9, 16, 3·4) features is no 2×2 (3×3, 4×4, 2×2 colour) image: its
    inputs must be fed as given, not scaled x/127.5 − 1 like pixels."""
    rng = np.random.default_rng(1)
    model = Sequential([Linear(rng.normal(size=(features, 5)), rng.normal(size=5)), Tanh(),
                        Linear(rng.normal(size=(5, 2)), np.zeros(2))])
    spec = model.input_spec
    assert (spec.divide, spec.offset, spec.raw_shape) == (1.0, 0.0, (features,))
    x = rng.uniform(size=(3, features))
    np.testing.assert_array_equal(lrpcore.predict(model, x), lrpcore.predict(model, x, raw=True))


def test_image_sized_dense_inputs_are_still_pixels():
    model = Sequential([Linear(np.ones((784, 2)), np.zeros(2))])
    assert model.input_spec.raw_shape == (28, 28, 1) and model.input_spec.divide == 127.5
    model = Sequential([Linear(np.ones((3 * 32 * 32, 2)), np.zeros(2))])
    assert model.input_spec.raw_shape == (32, 32, 3)
