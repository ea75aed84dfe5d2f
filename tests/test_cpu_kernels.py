"""The CPU's compiled kernels (lrpcore.cpu_kernels) give the bits of the numpy arithmetic they
replace, and are loaded only when a large array needs them."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from lrpcore import cpu_kernels, kernels

DTYPES = (np.float32, np.float64)


def _offset_depthwise(x, w, s0, s1):
    """Depthwise convolution as numpy array operations, one filter offset after another."""
    N, H, W, C = x.shape
    h, ww, _ = w.shape
    Ho, Wo = (H - h) // s0 + 1, (W - ww) // s1 + 1
    out = np.zeros((N, Ho, Wo, C), dtype=x.dtype)
    for a in range(h):
        for b in range(ww):
            out += x[:, a:a + s0 * (Ho - 1) + 1:s0, b:b + s1 * (Wo - 1) + 1:s1] * w[a, b]
    return out


def _offset_depthwise_transpose(g, w, in_shape, s0, s1):
    N, Ho, Wo, C = g.shape
    h, ww, _ = w.shape
    out = np.zeros((N,) + tuple(in_shape), dtype=g.dtype)
    for a in range(h):
        for b in range(ww):
            out[:, a:a + s0 * (Ho - 1) + 1:s0, b:b + s1 * (Wo - 1) + 1:s1] += g * w[a, b]
    return out


# square 3×3 and 5×5 (summed in registers, by filter rows), and other shapes (offset by offset)
CASES = [((2, 9, 11, 5), 3, (1, 1)), ((1, 12, 13, 7), 5, (2, 2)), ((3, 8, 10, 4), 3, (1, 2)),
         ((1, 6, 6, 33), 3, (2, 1)), ((1, 9, 12, 6), (3, 5), (1, 1)),
         ((2, 10, 9, 3), (5, 3), (1, 2)), ((1, 7, 7, 4), (2, 2), (1, 1)),
         ((1, 11, 11, 5), 7, (1, 1))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "k", "stride"), CASES)
def test_depthwise_each_way_gives_the_offset_by_offset_bits(dtype, shape, k, stride):
    kh, kw = (k, k) if isinstance(k, int) else k
    rng = np.random.default_rng(sum(shape) + kh * kw)
    x = rng.normal(size=shape).astype(dtype)
    w = rng.normal(size=(kh, kw, shape[3])).astype(dtype)
    y = cpu_kernels.depthwise(x, w, *stride)
    assert np.array_equal(y, _offset_depthwise(x, w, *stride))
    bias = rng.normal(size=shape[3]).astype(dtype)
    assert np.array_equal(cpu_kernels.depthwise(x, w, *stride, bias=bias),
                          _offset_depthwise(x, w, *stride) + bias)
    g = rng.normal(size=y.shape).astype(dtype)
    back = cpu_kernels.depthwise_transpose(g, w, shape[1:], *stride)
    assert back.dtype == dtype
    assert np.array_equal(back, _offset_depthwise_transpose(g, w, shape[1:], *stride))
    # the transpose is the adjoint: <dw(x), g> = <x, dwᵀ(g)>
    assert np.isclose(np.vdot(y, g), np.vdot(x, back), rtol=1e-4 if dtype == np.float32 else 1e-12)
    # the input share in the same pass: exactly the product of the two steps
    share = cpu_kernels.depthwise_transpose(g, w, shape[1:], *stride, times=x)
    assert np.array_equal(share, back * x)


def test_depthwise_reads_non_contiguous_inputs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 10, 10, 12))[..., ::2]  # every other channel: a strided view
    w = rng.normal(size=(3, 3, 12))[..., ::2]
    assert np.array_equal(cpu_kernels.depthwise(x, w, 1, 1), _offset_depthwise(x, w, 1, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("divisor", [1.0, 4.0])
def test_epsilon_share_gives_the_bits_of_the_array_operations(dtype, divisor):
    rng = np.random.default_rng(1)
    z = rng.normal(size=(3, 1000)).astype(dtype)
    z[:, ::7] = 0  # s(0) = +1
    z[:, 1] = -0.0
    R = rng.normal(size=z.shape).astype(dtype)
    got = cpu_kernels.epsilon_share(R, z, 1e-6, divisor)
    want = R / kernels.stabilize(z / divisor if divisor != 1 else z, 1e-6, np)
    assert got.dtype == dtype
    assert np.array_equal(got, want)


def test_epsilon_share_takes_the_kernel_only_for_large_arrays(monkeypatch):
    calls = []
    monkeypatch.setattr(cpu_kernels, "epsilon_share",
                        lambda *a: calls.append(a) or np.zeros_like(a[1]))
    small = np.ones((4, 10))
    kernels.epsilon_share(small, small, 0.01, np)
    assert calls == []
    large = np.ones((2, kernels.CPU_KERNEL_SIZE))
    kernels.epsilon_share(large, large, 0.01, np)
    assert len(calls) == 1
    kernels.epsilon_share(large[:1], large, 0.01, np)  # broadcasting R: array operations
    assert len(calls) == 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_is_numpys_clip_nan_and_open_bounds_included(dtype):
    x = np.random.default_rng(2).normal(scale=4, size=(5, 300)).astype(dtype)
    x[0, :5] = [np.nan, np.inf, -np.inf, 0.0, 6.0]
    for low, high in [(0.0, 6.0), (None, 1.0), (-1.0, None), (None, None)]:
        got = cpu_kernels.clip(x, low, high)
        assert np.array_equal(got, np.clip(x, low, high), equal_nan=True), (low, high)
    assert np.isnan(cpu_kernels.clip(x, 0.0, 6.0)[0, 0])


def test_a_small_explanation_never_loads_numba():
    """The command line on a digit starts as fast as before: numba is not imported."""
    code = ("import sys, numpy as np\n"
            "from lrpcore.bench import lenet5\n"
            "from lrpcore import Explainer\n"
            "ex = Explainer(lenet5())\n"
            "ex.explain(np.random.default_rng(0).uniform(0, 1, (1, 32, 32, 1)), 'epsilon',"
            " raw=True)\n"
            "print('numba' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pads", [(0, 1, 0, 1), (2, 1, 3, 0), (1, 1, 1, 1), (0, 0, 0, 0)])
def test_pad_writes_the_border_value_around_the_input(dtype, pads):
    x = np.random.default_rng(4).normal(size=(2, 5, 7, 3)).astype(dtype)
    t, b, left, r = pads
    want = np.pad(x, ((0, 0), (t, b), (left, r), (0, 0)), constant_values=-2.5)
    got = cpu_kernels.pad(x, pads, -2.5)
    assert got.dtype == dtype
    assert np.array_equal(got, want)


def test_kernels_compile_without_a_writable_cache(monkeypatch):
    """An install where numba finds no cache folder it may write (read-only site-packages and
    home) still runs: the kernels compile per process instead of raising on import."""
    import importlib.util

    import numba

    real_njit = numba.njit

    def njit(*args, cache=False, **kwargs):
        if cache:
            raise RuntimeError("cannot cache function: no locator available")
        return real_njit(*args, **kwargs)

    monkeypatch.setattr(numba, "njit", njit)
    spec = importlib.util.spec_from_file_location("lrpcore.fresh_cpu_kernels", cpu_kernels.__file__)
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    x = np.random.default_rng(6).normal(size=(1, 6, 6, 4))
    w = np.random.default_rng(7).normal(size=(3, 3, 4))
    assert np.array_equal(fresh.depthwise(x, w, 1, 1), _offset_depthwise(x, w, 1, 1))
