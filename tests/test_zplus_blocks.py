"""The z⁺ rule block by block (``cpu_kernels.zplus_rows``) through pointwise and window-matrix
convolutions over large maps: the same relevance as the route through whole arrays, a
sample's bits the same alone as in a batch (float64), serial and split runs alike, and arrays
that do not fit refused instead of read past (numba checks no bounds)."""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore import cpu_kernels, parallel, rules
from lrpcore.explain import Context
from lrpcore.layers import Convolution
from lrpcore.rules import ZPlus

DTYPES = (np.float32, np.float64)


def _ctx(dtype):
    return Context(np, np.dtype(dtype), None)


def _layer_and_input(rng, kernel, stride, D, n, H, dtype, mixed, batch=2):
    W = rng.normal(size=kernel + (D, n))
    conv = Convolution(W, rng.normal(size=n), stride)
    x = rng.normal(size=(batch, H, H, D)).astype(dtype)
    if not mixed:
        x = np.abs(x)
    z = conv.forward(x, np)
    R = rng.normal(size=z.shape).astype(dtype)
    return conv, x, z, R


def _both_routes(monkeypatch, conv, x, z, R, dtype):
    calls = []
    real = cpu_kernels.zplus_rows
    monkeypatch.setattr(cpu_kernels, "zplus_rows", lambda *a: calls.append(1) or real(*a))
    blocks = ZPlus().linear(conv, x, z, R, _ctx(dtype))
    assert calls, "this layer must take the block route"
    monkeypatch.setattr(rules, "BLOCK_ROWS", 10**9)
    whole = ZPlus().linear(conv, x, z, R, _ctx(dtype))
    assert len(calls) == 1
    return blocks, whole


# (kernel, stride, D, n, H): pointwise expansions, a stem-like window matrix (3 channels,
# stride 2), and a windowed one whose map is cut into uneven blocks
CASES = [((1, 1), (1, 1), 16, 96, 48), ((1, 1), (1, 1), 5, 7, 64),
         ((3, 3), (2, 2), 3, 32, 97), ((3, 3), (1, 1), 4, 40, 50)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mixed", [True, False])
@pytest.mark.parametrize(("kernel", "stride", "D", "n", "H"), CASES)
def test_blocks_give_the_relevance_of_whole_arrays(monkeypatch, dtype, mixed, kernel, stride,
                                                   D, n, H):
    rng = np.random.default_rng(H + D)
    conv, x, z, R = _layer_and_input(rng, kernel, stride, D, n, H, dtype, mixed)
    blocks, whole = _both_routes(monkeypatch, conv, x, z, R, dtype)
    assert blocks.shape == x.shape and blocks.dtype == dtype
    tol = 2e-5 if dtype == np.float32 else 1e-12
    assert np.abs(blocks - whole).max() <= tol * np.abs(whole).max()


def test_a_layer_without_negative_weights_or_bias_takes_the_block_route(monkeypatch):
    rng = np.random.default_rng(3)
    conv = Convolution(np.abs(rng.normal(size=(1, 1, 8, 24))), np.zeros(24))
    conv.B = None  # no bias at all: nothing added to z⁺
    conv.device_bias = lambda xp, dtype: None
    x = rng.normal(size=(1, 64, 64, 8))
    z = conv.fmap(x, conv.variant("w", np, np.float64), np)
    R = rng.normal(size=z.shape)
    blocks, whole = _both_routes(monkeypatch, conv, x, z, R, np.float64)
    assert np.allclose(blocks, whole, rtol=0, atol=1e-12 * np.abs(whole).max())


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_sample_gets_the_same_bits_alone_as_in_a_batch_and_split_as_serial(dtype):
    """Blocks never straddle two samples and are cut the same way in any batch, so a
    diagnosis summed over batches equals the whole (tests/test_diagnose.py)."""
    rng = np.random.default_rng(5)
    conv, x, z, R = _layer_and_input(rng, (1, 1), (1, 1), 12, 80, 50, dtype, True, batch=3)
    batch = ZPlus().linear(conv, x, z, R, _ctx(dtype))
    # float32: sgemm picks its kernel by size and thread count (tests/test_window_matrix.py)
    same = np.array_equal if dtype == np.float64 else \
        (lambda a, b: np.allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max()))
    with parallel.all_cores():
        split = ZPlus().linear(conv, x, z, R, _ctx(dtype))
    assert same(split, batch)
    for i in range(3):
        alone = ZPlus().linear(conv, x[i:i + 1], z[i:i + 1], R[i:i + 1], _ctx(dtype))
        assert same(alone[0], batch[i])


def test_small_maps_and_projections_keep_the_whole_array_route(monkeypatch):
    """Where blocks measured slower: a map of fewer rows than BLOCK_ROWS, or fewer outputs
    than inputs per row."""
    calls = []
    monkeypatch.setattr(cpu_kernels, "zplus_rows", lambda *a: calls.append(1))
    rng = np.random.default_rng(1)
    for D, n, H in ((16, 96, 40), (96, 16, 64)):  # 1600 rows; a projection
        conv, x, z, R = _layer_and_input(rng, (1, 1), (1, 1), D, n, H, np.float32, True)
        assert ZPlus().linear(conv, x, z, R, _ctx(np.float32)).shape == x.shape
    assert calls == []


def test_arrays_that_do_not_fit_are_refused():
    x, w = np.ones((64, 4)), np.ones((4, 6))
    with pytest.raises(ValueError, match="zplus_rows.*do not fit"):
        cpu_kernels.zplus_rows(x, w, None, None, np.ones((64, 5)), 1e-6, 64)
    with pytest.raises(ValueError, match="zplus_rows.*do not fit"):
        cpu_kernels.zplus_rows(x, w, None, None, np.ones((64, 6)), 1e-6, 48)  # 64 rows ≠ k·48
    with pytest.raises(ValueError, match="zplus_rows.*do not fit"):
        cpu_kernels.zplus_rows(x, w, np.ones((4, 5)), None, np.ones((64, 6)), 1e-6, 64)
    with pytest.raises(ValueError, match="zplus_rows.*do not fit"):
        cpu_kernels.zplus_rows(x, w, None, np.ones(5), np.ones((64, 6)), 1e-6, 64)
    with pytest.raises(ValueError, match="zplus_rows.*do not fit"):
        cpu_kernels.zplus_rows(x, np.ones((5, 6)), None, None, np.ones((64, 6)), 1e-6, 64)
