"""Fused element-wise steps of the rules, as one CUDA kernel on a GPU.

On a GPU every array operation costs a launch of a few microseconds, however small the array;
the ε-rule's share ``R / (z + ε·s(z))`` is six numpy-style operations per layer (compare,
convert, scale, shift, add, divide) and one explanation of a small network is mostly such
launches. With cupy it is one kernel here. On numpy (and on the CPU stand-in the tests use for
cupy) the same arithmetic runs as array operations: results are identical, since both add
exactly ±ε and divide once.
"""

from __future__ import annotations

import functools


def stabilize(z, eps, xp):
    """z + eps·s(z) with s(0) = +1. Arithmetic on the comparison, not ``where``: several times
    faster on numpy, and exact, since 2·eps·b − eps is exactly ±eps."""
    s = (z >= 0).astype(z.dtype)
    s *= 2 * eps
    s -= eps
    s += z
    return s


@functools.lru_cache(maxsize=4)
def _epsilon_share_kernel(xp):
    return xp.ElementwiseKernel(
        "T r, T z, T divisor, T eps", "T c",
        "T zs = z / divisor; c = r / (zs + (zs >= 0 ? eps : -eps));",
        "lrp_epsilon_share")


def epsilon_share(R, z, eps, xp, divisor=1.0):
    """R / (z' + eps·s(z')) with z' = z / divisor and s(0) = +1: the toolbox's ε-rule share
    (``divisor`` is the sum pooling's normaliser, which the toolbox divides out first)."""
    if getattr(xp, "ElementwiseKernel", None) is not None:  # cupy: one launch
        t = z.dtype.type
        return _epsilon_share_kernel(xp)(R, z, t(divisor), t(eps))
    c = stabilize(z / divisor if divisor != 1 else z, eps, xp)
    xp.divide(R, c, out=c)  # in place: these arrays are the largest of the pass
    return c
