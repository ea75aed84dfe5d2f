"""The fast transposed maps (the gradient every rule uses) equal the explicit matrix's transpose.

Convolutions scatter their row windows back in one of two orders, chosen by a cost estimate;
both orders are checked here on strides that overlap, tile and skip input columns. Sum pooling
copies whole window rows when its windows tile the input.
"""

from __future__ import annotations

import numpy as np
import pytest
from slow_lrp import dense_matrix

from lrpcore import layers
from lrpcore.layers import Convolution, MaxPool, SumPool


@pytest.mark.parametrize("by_window", [True, False])
@pytest.mark.parametrize("stride", [(1, 1), (2, 1), (1, 2), (2, 3), (1, 4)])
def test_convolution_transpose_in_either_scatter_order(monkeypatch, by_window, stride):
    rng = np.random.default_rng(sum(stride) + 10 * by_window)
    conv = Convolution(rng.normal(size=(3, 3, 2, 4)), rng.normal(size=4), stride)
    in_shape = (9, 11, 2)
    scatter = layers._scatter_row_windows
    chosen = []

    def forced(g, W, D, s1, xp, by_window_arg=None):
        chosen.append(by_window)
        return scatter(g, W, D, s1, xp, by_window=by_window)

    monkeypatch.setattr(layers, "_scatter_row_windows", forced)
    out_shape = conv.output_shape(in_shape)
    c = rng.normal(size=(3,) + out_shape)
    fast = conv.tmap(c, conv.variant("w", np, np.float64), in_shape, np)
    M, _ = dense_matrix(conv, in_shape)
    expected = (c.reshape(3, -1) @ M.T).reshape((3,) + in_shape)
    assert chosen == [by_window]
    assert np.allclose(fast, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kernel, stride", [((5, 5), (1, 1)), ((3, 2), (2, 1)),
                                             ((2, 3), (1, 3)), ((4, 4), (3, 2))])
def test_single_channel_convolution_both_ways_equals_the_matrix(kernel, stride):
    """One input channel takes the planar layout: all windows in one strided copy forward,
    and the separable scatter (kernel columns, then kernel rows) back."""
    rng = np.random.default_rng(kernel[0] + 7 * stride[1])
    conv = Convolution(rng.normal(size=kernel + (1, 3)), rng.normal(size=3), stride)
    in_shape = (11, 10, 1)
    out_shape = conv.output_shape(in_shape)
    w = conv.variant("w", np, np.float64)
    M, _ = dense_matrix(conv, in_shape)
    x = rng.normal(size=(2,) + in_shape)
    c = rng.normal(size=(2,) + out_shape)
    assert np.allclose(conv.fmap(x, w, np).reshape(2, -1), x.reshape(2, -1) @ M,
                       rtol=0, atol=1e-12)
    expected = (c.reshape(2, -1) @ M.T).reshape((2,) + in_shape)
    assert np.allclose(conv.tmap(c, w, in_shape, np), expected, rtol=0, atol=1e-12)


def test_scatter_order_follows_the_cost_estimate():
    """LeNet-5's second convolution (14 rows × 64 samples, 10 windows of width 5) goes window
    by window; one wide image row with 200 windows goes kernel column by kernel column."""
    assert layers._scatter_by_window(14 * 64, 10, 5)
    assert not layers._scatter_by_window(1, 200, 3)


@pytest.mark.parametrize("pool, in_shape", [((2, 2), (6, 4, 3)), ((3, 2), (6, 4, 2)),
                                            ((1, 4), (3, 8, 1)), ((2, 2), (7, 5, 2))])
def test_pool_spread_equals_the_matrix_transpose(pool, in_shape):
    """Tiled windows (the first three) take the row-copy path; the last leaves a remainder."""
    rng = np.random.default_rng(len(in_shape) + pool[0])
    sp = SumPool(pool, pool)
    c = rng.normal(size=(2,) + sp.output_shape(in_shape))
    fast = sp.tmap(c, 1.0, in_shape, np)
    M, _ = dense_matrix(sp, in_shape)
    expected = (c.reshape(2, -1) @ M.T).reshape((2,) + in_shape)
    assert np.array_equal(fast, expected)
    mp = MaxPool(pool, pool)
    uniform = mp.uniform_relevance(np.zeros((2,) + in_shape), c, np)
    assert np.allclose(uniform, expected / (pool[0] * pool[1]), rtol=0, atol=1e-15)


@pytest.mark.parametrize("stride", [(1, 1), (2, 1), (1, 3), (3, 2)])
@pytest.mark.parametrize("window_bytes", [None, 1])
def test_gpu_window_convolution_and_its_transpose_equal_the_matrix(monkeypatch, stride,
                                                                   window_bytes):
    """The GPU's strategy (one window copy, one product; the transpose as a correlation of the
    stride-spread, padded gradient with flipped filters), run here with numpy, also when the
    window budget cuts the batch into single samples."""
    if window_bytes is not None:
        monkeypatch.setattr(layers, "WINDOW_BYTES", window_bytes)
    rng = np.random.default_rng(stride[0] * 7 + stride[1])
    conv = Convolution(rng.normal(size=(3, 2, 2, 4)), np.zeros(4), stride)
    in_shape = (8, 9, 2)
    x = rng.normal(size=(3,) + in_shape)
    w = conv.variant("w", np, np.float64)
    M, _ = dense_matrix(conv, in_shape)
    out_shape = conv.output_shape(in_shape)
    z = layers._window_conv(x, w, 3, 2, *stride, np)
    np.testing.assert_allclose(z, (x.reshape(3, -1) @ M).reshape((3,) + out_shape), atol=1e-12)
    c = rng.normal(size=(3,) + out_shape)
    g = layers._window_conv_transpose(c, w, in_shape, 3, 2, *stride, np)
    np.testing.assert_allclose(g, (c.reshape(3, -1) @ M.T).reshape((3,) + in_shape), atol=1e-12)
