"""`lrpcore.render.heatmap` and `digit` draw one sample of what `lrpcore.explain` returns for
a PyTorch-layout (N×C×H×W) model (acceptance review: `heatmap(R[0])` of the ONNX ResNet's
1×28×28 map returned a 3×84 strip: H = 1, W = 28 and 28 "channels")."""

from __future__ import annotations

import numpy as np

from lrpcore.render import digit, heatmap


def test_heatmap_of_a_chw_map_equals_that_of_its_hwc_form():
    rng = np.random.default_rng(0)
    for c in (1, 3):
        R = rng.normal(size=(c, 12, 12))
        x = rng.uniform(size=(c, 12, 12))
        hwc, xhwc = np.moveaxis(R, 0, -1), np.moveaxis(x, 0, -1)
        got = heatmap(R, x, scaling=2)
        assert got.shape == (24, 24, 3)
        np.testing.assert_array_equal(got, heatmap(hwc, xhwc, scaling=2))
        np.testing.assert_array_equal(digit(x, 2), digit(xhwc, 2))


def test_hwc_maps_are_unchanged():
    R = np.random.default_rng(1).normal(size=(12, 10, 3))
    np.testing.assert_array_equal(heatmap(R, scaling=1), heatmap(R.sum(axis=2), scaling=1))
