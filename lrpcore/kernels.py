"""The engine's own CUDA kernels (cupy), each replacing several array operations on a GPU.

On a GPU every array operation costs a launch of 15–40 µs however small the array, and one
explanation of a small network is mostly such launches. Here, each as one launch: the ε-rule's
share ``R / (z + ε·s(z))`` (six numpy-style operations: compare, convert, scale, shift, add,
divide), the one-class initial relevance, small convolutions each way (bias included) and
depthwise convolutions each way. On numpy, large arrays take the CPU's compiled kernels
(``lrpcore.cpu_kernels``, numba) and small ones array operations, with the same results.
CI has no GPU: tests/test_kernel_sources.py compiles the same kernel bodies as C and runs the
engine's GPU code path through them; ``tools/gpu_check.py`` and ``tools/gpu_graph_check.py``
check them on a device.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .parallel import kernels_split


def stabilize(z, eps, xp):
    """z + eps·s(z) with s(0) = +1. Arithmetic on the comparison, not ``where``: several times
    faster on numpy, and exact, since 2·eps·b − eps is exactly ±eps."""
    s = (z >= 0).astype(z.dtype)
    s *= 2 * eps
    s -= eps
    s += z
    return s


@dataclass(frozen=True)
class KernelSource:
    """One elementwise CUDA kernel as cupy compiles it: arguments, output, body (C, run once
    per output element ``i``). Kept as data so a test can compile the same bodies as C on
    the CPU (tests/test_kernel_sources.py): CI has no GPU."""

    arguments: str
    output: str
    body: str


KERNELS: dict[str, KernelSource] = {}


def has_kernels(xp) -> bool:
    """Whether ``xp`` compiles the engine's own kernels (cupy on a GPU; not numpy)."""
    # numpy first: its missing attribute raises inside getattr (~3 µs, 270 times a photograph)
    return xp is not np and getattr(xp, "ElementwiseKernel", None) is not None


# Arrays of fewer elements keep numpy's operations on the CPU: a few LeNet-5 digits need no
# compiled kernel (numba loads in ~0.3 s); the kernels give the same bits. Between 32k and
# 64k elements (a photograph's 7×7×1152 layers: 56k) they took 2–15 µs less per call.
CPU_KERNEL_SIZE = 1 << 15


@functools.lru_cache(maxsize=1)
def compiled():
    """``lrpcore.cpu_kernels``, imported on first use: numba takes ~0.3 s to load, and an
    import statement inside a hot function costs microseconds on every call."""
    from . import cpu_kernels  # noqa: PLC0415

    return cpu_kernels


def cpu_kernels_fit(xp, *arrays) -> bool:
    """Whether these arrays take ``lrpcore.cpu_kernels`` (numpy, large, one shape and dtype)."""
    first = arrays[0]
    return (xp is np and first.size >= CPU_KERNEL_SIZE
            and all(a.shape == first.shape and a.dtype == first.dtype for a in arrays[1:]))


def product(a, b, xp, bias=None):
    """``a @ b`` (+ ``bias``, one per column); on numpy inside a pass that holds all the cores,
    split over them (``lrpcore.cpu_kernels.matmul``)."""
    if xp is np and kernels_split():
        return compiled().matmul(a, b, bias)
    out = a @ b
    if bias is not None:
        out += bias
    return out


def _split_fits(xp, z) -> bool:
    return xp is np and kernels_split() and z.size >= CPU_KERNEL_SIZE


def add_bias(z, b, xp):
    """``z += b`` in place (``b`` one per channel, the last axis): split over the cores in a
    pass that holds them all."""
    if _split_fits(xp, z) and z.flags.c_contiguous and b.shape == z.shape[-1:]:
        return compiled().add_channels(z, b)
    z += b
    return z


def add_into(a, b, xp):
    """``a += b`` in place for a fresh array ``a`` (split over the cores in a pass that holds
    them all); returns ``a``."""
    if _split_fits(xp, a) and a.shape == b.shape and a.dtype == b.dtype \
            and a.flags.c_contiguous and b.flags.c_contiguous:
        return compiled().add_into(a, b)
    a += b
    return a


def has_negative(x, xp) -> bool:
    """Whether ``x`` holds a value below 0."""
    if _split_fits(xp, x):
        return compiled().has_negative(x)
    return bool(x.min() < 0)


@functools.lru_cache(maxsize=16)
def _kernel(xp, name):
    k = KERNELS[name]
    return xp.ElementwiseKernel(k.arguments, k.output, k.body, name)


KERNELS["lrp_epsilon_share"] = KernelSource(
    "T r, T z, T divisor, T eps", "T c",
    "T zs = z / divisor; c = r / (zs + (zs >= 0 ? eps : -eps));")


def epsilon_share(R, z, eps, xp, divisor=1.0):
    """R / (z' + eps·s(z')) with z' = z / divisor and s(0) = +1: the toolbox's ε-rule share
    (``divisor`` is the sum pooling's normaliser, which the toolbox divides out first)."""
    if xp is not np:
        if has_kernels(xp):  # cupy: one launch
            t = z.dtype.type
            return _kernel(xp, "lrp_epsilon_share")(R, z, t(divisor), t(eps))
    elif z.size >= CPU_KERNEL_SIZE and cpu_kernels_fit(xp, z, R):
        return compiled().epsilon_share(R, z, eps, divisor)
    c = stabilize(z / divisor if divisor != 1 else z, eps, xp)
    xp.divide(R, c, out=c)  # in place: these arrays are the largest of the pass
    return c


# Direct convolution kernels for small convolutions on a GPU: one launch each way, where the
# window route takes a copy, a product and (back) a spread, a flip and a copy. Each thread sums
# one output over its window, so large layers stay on the window route and cuBLAS.
DIRECT_CONV_MACS = 1 << 28

_CONV_FORWARD = """
int k = i % K; long long t = i / K;
int col = t % Wo; t /= Wo;
int row = t % Ho; long long n = t / Ho;
T acc = has_bias ? bias[k] : (T)0;
for (int a = 0; a < h; ++a) {
  for (int b = 0; b < ww; ++b) {
    const long long xo = ((n * H + row * s0 + a) * W + col * s1 + b) * D;
    const long long wo = (long long)((a * ww + b) * D) * K + k;
    for (int d = 0; d < D; ++d) acc += x[xo + d] * w[wo + (long long)d * K];
  }
}
y = acc;
"""

_CONV_TRANSPOSE = """
int d = i % D; long long t = i / D;
int col = t % W; t /= W;
int row = t % H; long long n = t / H;
T acc = 0;
for (int a = 0; a < h; ++a) {
  int r = row - a;
  if (r < 0 || r % s0 != 0 || r / s0 >= Ho) continue;
  r /= s0;
  for (int b = 0; b < ww; ++b) {
    int q = col - b;
    if (q < 0 || q % s1 != 0 || q / s1 >= Wo) continue;
    q /= s1;
    const long long co = ((n * Ho + r) * Wo + q) * K;
    const long long wo = (long long)((a * ww + b) * D + d) * K;
    for (int k = 0; k < K; ++k) acc += c[co + k] * w[wo + k];
  }
}
g = acc;
"""

_SIZES = "int32 H, int32 W, int32 D, int32 Ho, int32 Wo, int32 K, int32 h, int32 ww, " \
         "int32 s0, int32 s1"


KERNELS["lrp_conv_forward"] = KernelSource(
    f"raw T x, raw T w, raw T bias, int32 has_bias, {_SIZES}", "T y", _CONV_FORWARD)
KERNELS["lrp_conv_transpose"] = KernelSource(f"raw T c, raw T w, {_SIZES}", "T g",
                                             _CONV_TRANSPOSE)


def direct_conv_fits(xp, macs) -> bool:
    """Whether a convolution of ``macs`` multiply-adds takes the direct kernels (cupy only)."""
    return has_kernels(xp) and macs <= DIRECT_CONV_MACS


def conv_direct(x, w, h, ww, s0, s1, xp, bias=None):
    """Valid convolution of NHWC ``x`` with im2col-form filters ``w`` ((h·w·d) × n), plus
    ``bias`` when given (the bias starts each sum: one launch for the whole layer)."""
    N, H, W, D = x.shape
    K = w.shape[1]
    Ho, Wo = (H - h) // s0 + 1, (W - ww) // s1 + 1
    y = xp.empty((N, Ho, Wo, K), dtype=x.dtype)
    w = xp.ascontiguousarray(w)
    _kernel(xp, "lrp_conv_forward")(xp.ascontiguousarray(x), w, w if bias is None else bias,
                                    int(bias is not None), H, W, D, Ho, Wo, K, h, ww, s0, s1,
                                    y)
    return y


def conv_transpose_direct(c, w, in_shape, h, ww, s0, s1, xp):
    """Transpose of ``conv_direct``: the input gradient for output gradient ``c``."""
    N, Ho, Wo, K = c.shape
    H, W, D = in_shape
    g = xp.empty((N, H, W, D), dtype=c.dtype)
    _kernel(xp, "lrp_conv_transpose")(xp.ascontiguousarray(c), xp.ascontiguousarray(w), H, W,
                                      D, Ho, Wo, K, h, ww, s0, s1, g)
    return g


# Depthwise convolutions (one filter per channel) as one launch each way: the array route
# takes a product and a sum per filter offset (9 or 25 launches per layer and direction).
_DEPTHWISE_FORWARD = """
int ch = i % C; long long t = i / C;
int col = t % Wo; t /= Wo;
int row = t % Ho; long long n = t / Ho;
T acc = 0;
for (int a = 0; a < h; ++a) {
  const long long xr = (n * H + row * s0 + a) * W;
  for (int b = 0; b < ww; ++b)
    acc += x[(xr + col * s1 + b) * C + ch] * w[(a * ww + b) * C + ch];
}
y = acc;
"""

_DEPTHWISE_TRANSPOSE = """
int ch = i % C; long long t = i / C;
int col = t % W; t /= W;
int row = t % H; long long n = t / H;
T acc = 0;
for (int a = 0; a < h; ++a) {
  int r = row - a;
  if (r < 0 || r % s0 != 0 || r / s0 >= Ho) continue;
  r /= s0;
  for (int b = 0; b < ww; ++b) {
    int q = col - b;
    if (q < 0 || q % s1 != 0 || q / s1 >= Wo) continue;
    q /= s1;
    acc += c[((n * Ho + r) * Wo + q) * C + ch] * w[(a * ww + b) * C + ch];
  }
}
g = acc;
"""

_DEPTHWISE_SIZES = "int32 H, int32 W, int32 C, int32 Ho, int32 Wo, int32 h, int32 ww, " \
                   "int32 s0, int32 s1"


KERNELS["lrp_depthwise_forward"] = KernelSource(f"raw T x, raw T w, {_DEPTHWISE_SIZES}",
                                                "T y", _DEPTHWISE_FORWARD)
KERNELS["lrp_depthwise_transpose"] = KernelSource(f"raw T c, raw T w, {_DEPTHWISE_SIZES}",
                                                  "T g", _DEPTHWISE_TRANSPOSE)


def depthwise_direct(x, w, s0, s1, xp):
    """Valid depthwise convolution of NHWC ``x`` with filters ``w`` (h × w × C), no bias."""
    N, H, W, C = x.shape
    h, ww = w.shape[:2]
    Ho, Wo = (H - h) // s0 + 1, (W - ww) // s1 + 1
    y = xp.empty((N, Ho, Wo, C), dtype=x.dtype)
    _kernel(xp, "lrp_depthwise_forward")(
        xp.ascontiguousarray(x), xp.ascontiguousarray(w, dtype=x.dtype), H, W, C, Ho, Wo, h,
        ww, s0, s1, y)
    return y


def depthwise_transpose_direct(c, w, in_shape, s0, s1, xp):
    """Transpose of ``depthwise_direct``: the input side for output-side values ``c``."""
    N, Ho, Wo, C = c.shape
    H, W = in_shape[:2]
    h, ww = w.shape[:2]
    g = xp.empty((N, H, W, C), dtype=c.dtype)
    _kernel(xp, "lrp_depthwise_transpose")(
        xp.ascontiguousarray(c), xp.ascontiguousarray(w, dtype=c.dtype), H, W, C, Ho, Wo, h,
        ww, s0, s1, g)
    return g


KERNELS["lrp_class_relevance"] = KernelSource(
    "T y, raw int64 classes, int32 k", "T r", "r = (i % k == classes[i / k]) ? y : (T)0;")


def class_relevance(y, classes, xp):
    """y where the column is the sample's class, else 0 (the initial relevance of one class
    per sample): a comparison, not an indexed write, and one launch on a GPU."""
    k = y.shape[1]
    if has_kernels(xp):
        y = xp.ascontiguousarray(y)
        return _kernel(xp, "lrp_class_relevance")(y, classes.astype(xp.int64, copy=False), k)
    return y * (xp.arange(k) == classes.reshape(-1, 1))
