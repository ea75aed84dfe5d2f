"""Weight variants (γ, w², z⁺ …) are made in float64 whatever the stored weights' dtype.

ONNX models store float32 weights; explained in float64, a variant such as w + γ·w⁺ made in
float32 first carried float32's rounding (~1e-8 relative) into a float64 explanation.
"""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore.layers import Convolution, Linear


@pytest.mark.parametrize("layer_of", [
    lambda W: Linear(W.reshape(12, 5), np.zeros(5, np.float32)),
    lambda W: Convolution(W.reshape(2, 2, 3, 5), np.zeros(5, np.float32)),
])
def test_a_float32_layers_gamma_variant_in_float64_is_made_in_float64(layer_of):
    W = np.random.default_rng(0).normal(size=60).astype(np.float32)
    layer = layer_of(W)
    g = 0.1

    def gamma(w):
        return w + g * np.maximum(w, 0)

    got = layer.variant(("gamma+", g), np, np.float64, make=gamma)
    want = gamma(W.astype(np.float64)).reshape(got.shape)
    assert got.dtype == np.float64
    assert np.array_equal(got, want)
    assert not np.array_equal(gamma(W).astype(np.float64).reshape(got.shape), want)  # the old way
    # float32 explanations get the float64-made variant rounded once
    assert np.array_equal(layer.variant(("gamma+", g), np, np.float32, make=gamma),
                          want.astype(np.float32))
