"""The engine's own CPU kernels (numba), each replacing several numpy passes over an array.

A depthwise convolution on numpy is h·w strided products over the whole feature map (9 or 25
passes through memory), the ε-rule's stabilised share six element-wise passes, a clip or a
padding two; compiled, each is one pass, and a depthwise output row stays in the first-level
cache while its filter offsets are summed. For EfficientNet-Lite0 that is about a third less
CPU time per explanation. Results are bit for bit those of the numpy arithmetic they replace:
the same operations in the same order (no fused multiply-add).

Each kernel is compiled twice: to run on the calling thread (a batch's shards already keep
every core busy), and split over numba's threads by rows, for a pass that holds all the cores
(``lrpcore.parallel.all_cores``: one photograph). Such a pass also takes its large matrix
products here (``matmul``), split the same way with BLAS at one thread in each part: split by
OpenBLAS's own threads, its idle workers spun for ~0.1 s after each product on the core the next
kernel's second half needed. A split kernel gives the serial one's bits; a split product may
differ from numpy's in the last digits (BLAS blocks it differently).

Kernels compile on first use (about a second each per dtype) and are cached on disk by numba;
the module is imported only when a large array needs it (``kernels.compiled``), so the command
line starts as fast as before. ``lrpcore.kernels`` holds the GPU's counterparts. Each kernel
is self-contained, with no compiled helper shared between kernels: numba's disk cache does not
notice when a function a cached kernel calls changes, and would keep running the old one.
"""

from __future__ import annotations

import contextlib
import ctypes
import types
import warnings

import numba
import numpy as np
import scipy.linalg.cython_blas
from numba import prange

from .parallel import blas_library_loaded, kernels_split


def _compile(fn, parallel=False):
    """numba-compiled, cached on disk when numba finds a writable cache. Division follows
    numpy (x/0 is ±inf or nan, not an exception): only then do the loops vectorise (the
    ε-share ran 5× faster). ``parallel``: its ``prange`` loops split over numba's threads."""
    options = {"nogil": True, "error_model": "numpy", "parallel": parallel}
    try:
        kernel = numba.njit(cache=True, **options)(fn)
    except RuntimeError:  # no cache directory numba can write to: compile per process
        return numba.njit(**options)(fn)
    _skip_failed_saves(kernel)
    _recompile_unreadable(kernel)
    return kernel


class _Kernel:
    """A kernel compiled both ways (see the module's docstring); each compiles on first use."""

    def __init__(self, fn):
        self.serial = _compile(fn)
        self.split = _compile(_renamed(fn, "_split"), parallel=True)

    def __call__(self, *args):
        return (self.split if kernels_split() else self.serial)(*args)


def _renamed(fn, suffix):
    """A copy of ``fn`` under another name. numba's disk cache files a kernel by its name and
    signature, not by how it was compiled: under one name the split kernel loaded the
    serial one from the cache (or the other way round)."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix,
                              fn.__defaults__, fn.__closure__)
    copy.__qualname__ = fn.__qualname__ + suffix
    copy.__doc__ = fn.__doc__
    return copy


def _skip_failed_saves(kernel):
    """A compiled kernel that cannot be saved (a full disk, a cache folder made read-only)
    is used unsaved: numba raised the OSError from the call, failing the explanation (and
    ``lrp explain`` blamed its output file). numba adds the kernel before saving it."""
    cache = getattr(kernel, "_cache", None)
    save = getattr(cache, "save_overload", None)
    if save is None:  # another numba: its own behaviour
        return

    def save_or_skip(sig, data):
        try:
            save(sig, data)
        except OSError:
            pass  # the next process compiles it again

    cache.save_overload = save_or_skip


def _recompile_unreadable(kernel):
    """A cache file numba cannot read back (truncated or garbled by a crash, a power loss, a
    bad disk) is compiled again, with a warning: numba raised its unpickling error from every
    call, in every process. The index is emptied so that the save after the compilation
    replaces the bad file instead of failing on it."""
    cache = getattr(kernel, "_cache", None)
    load = getattr(cache, "load_overload", None)
    if load is None:  # another numba: its own behaviour
        return

    def load_or_compile(sig, target_context):
        try:
            return load(sig, target_context)
        except Exception as exc:  # noqa: BLE001 - whatever a damaged pickle makes numba raise
            warnings.warn(f"numba's disk cache of the CPU kernel {kernel.py_func.__name__} "
                          f"could not be read ({type(exc).__name__}: {exc}); compiling it "
                          "again", RuntimeWarning, stacklevel=2)
            with contextlib.suppress(OSError):  # unwritable: the save is skipped as well
                cache.flush()
            return None

    cache.load_overload = load_or_compile


@_Kernel
def _depthwise(x, w, s0, s1, bias, biased, zero, out):
    """A valid depthwise convolution, output row by output row, each output summed over the
    filter offsets in order (from ``zero``, of the arrays' dtype), then ``bias`` added to it
    if ``biased``. A 3×3 filter sums each output in a register (its loops have constant
    bounds, so the compiler unrolls them and vectorises the channels): half the time of
    summing in memory offset by offset, which other filters do, a filter row at a time when
    it is 5 wide (a third less). Flat, unsigned indices (see ``_windows``): a row view per
    offset and output pixel cost up to 35 % on EfficientNet-Lite0's layers."""
    N, H, W, C = x.shape
    Ho, Wo = out.shape[1], out.shape[2]
    h, ww = w.shape[0], w.shape[1]
    src, filters, dst = x.reshape(-1), w.reshape(-1), out.reshape(-1)
    for row in prange(N * Ho):
        n = row // Ho
        i = row - n * Ho
        o_row = np.uintp(row * Wo * C)
        if h == 3 and ww == 3:
            x_row = ((n * H + i * s0) * W) * C
            for k in range(Wo):
                xs = np.uintp(x_row + k * s1 * C)
                os = o_row + np.uintp(k * C)
                for c in range(C):
                    acc = zero
                    for a in range(3):
                        for b in range(3):
                            acc = acc + src[xs + np.uintp((a * W + b) * C + c)] * \
                                filters[np.uintp((a * 3 + b) * C + c)]
                    dst[os + np.uintp(c)] = acc
        else:
            for j in range(Wo * C):
                dst[o_row + np.uintp(j)] = zero
            for a in range(h):
                x_row = ((n * H + i * s0 + a) * W) * C
                if ww == 5:
                    f = np.uintp(a * 5 * C)
                    for k in range(Wo):
                        xs = np.uintp(x_row + k * s1 * C)
                        os = o_row + np.uintp(k * C)
                        for c in range(C):
                            v = dst[os + np.uintp(c)]
                            for b in range(5):
                                v = v + src[xs + np.uintp(b * C + c)] * \
                                    filters[f + np.uintp(b * C + c)]
                            dst[os + np.uintp(c)] = v
                    continue
                for b in range(ww):
                    f = np.uintp((a * ww + b) * C)
                    for k in range(Wo):
                        xs = np.uintp(x_row + (k * s1 + b) * C)
                        os = o_row + np.uintp(k * C)
                        for c in range(C):
                            dst[os + np.uintp(c)] += src[xs + np.uintp(c)] * \
                                filters[f + np.uintp(c)]
        if biased:
            for k in range(Wo):
                os = o_row + np.uintp(k * C)
                for c in range(C):
                    dst[os + np.uintp(c)] += bias[c]


@_Kernel
def _depthwise_transpose(g, w, s0, s1, times, scaled, zero, out):
    """The transposed depthwise convolution of ``g``, input row by input row: each gathers
    from the output rows its filter rows touch, in offset order, and is then multiplied by
    the same row of ``times`` if ``scaled``. With stride 1 along the row and a filter 3 or 5
    wide, each input sums a filter row's terms in a register (constant loop bounds: unrolled,
    the channels vectorised), the same terms in the same order; flat, unsigned indices, as
    ``_depthwise``."""
    N, H, W, C = out.shape
    Ho, Wo = g.shape[1], g.shape[2]
    h, ww = w.shape[0], w.shape[1]
    rows, filters, dst, scale = g.reshape(-1), w.reshape(-1), out.reshape(-1), times.reshape(-1)
    for row in prange(N * H):
        n = row // H
        p = row - n * H
        o_row = np.uintp(row * W * C)
        if h == 3 and ww == 3 and s0 == 1 and s1 == 1 and 2 <= p < Ho:  # all 3 rows reach it
            for q in range(W):
                os = o_row + np.uintp(q * C)
                inside = 2 <= q < Wo  # all 9 offsets reach it: no test in the sum
                for c in range(C):
                    acc = zero
                    for a in range(3):
                        g_at = ((n * Ho + p - a) * Wo + q) * C + c
                        for b in range(3):
                            if inside or 0 <= q - b < Wo:
                                acc = acc + rows[np.uintp(g_at - b * C)] * \
                                    filters[np.uintp((a * 3 + b) * C + c)]
                    dst[os + np.uintp(c)] = acc
            if scaled:
                for j in range(W * C):
                    dst[o_row + np.uintp(j)] *= scale[o_row + np.uintp(j)]
            continue
        for j in range(W * C):
            dst[o_row + np.uintp(j)] = zero
        for a in range(h):
            t = p - a
            if t < 0 or t % s0 != 0 or t // s0 >= Ho:
                continue
            g_row = ((n * Ho + t // s0) * Wo) * C
            inner = Wo if s1 == 1 and (ww == 3 or ww == 5) else 0  # inputs all ww terms reach
            for q in range(ww - 1, inner):
                os = o_row + np.uintp(q * C)
                gs = np.uintp(g_row + (q - ww + 1) * C)  # the output of the last offset
                f = np.uintp(a * ww * C)
                if ww == 3:
                    for c in range(C):
                        v = dst[os + np.uintp(c)]
                        for b in range(3):
                            v = v + rows[gs + np.uintp((2 - b) * C + c)] * \
                                filters[f + np.uintp(b * C + c)]
                        dst[os + np.uintp(c)] = v
                else:
                    for c in range(C):
                        v = dst[os + np.uintp(c)]
                        for b in range(5):
                            v = v + rows[gs + np.uintp((4 - b) * C + c)] * \
                                filters[f + np.uintp(b * C + c)]
                        dst[os + np.uintp(c)] = v
            for b in range(ww):  # the rest offset by offset (all of it without the above)
                f = np.uintp((a * ww + b) * C)
                for k in range(Wo):
                    if ww - 1 <= k * s1 + b < inner:
                        continue
                    os = o_row + np.uintp((k * s1 + b) * C)
                    gs = np.uintp(g_row + k * C)
                    for c in range(C):
                        dst[os + np.uintp(c)] += rows[gs + np.uintp(c)] * \
                            filters[f + np.uintp(c)]
        if scaled:
            for j in range(W * C):
                dst[o_row + np.uintp(j)] *= scale[o_row + np.uintp(j)]


def depthwise(x, w, s0, s1, bias=None):
    """Valid depthwise convolution of NHWC ``x`` with filters ``w`` (h × w × C), plus ``bias``
    (one per channel) when given: added to each row while it is in the cache."""
    x = np.ascontiguousarray(x)
    w = np.ascontiguousarray(w, dtype=x.dtype)
    N, H, W, C = x.shape
    h, ww = w.shape[:2]
    out = np.empty((N, (H - h) // s0 + 1, (W - ww) // s1 + 1, C), dtype=x.dtype)
    biased = bias is not None
    bias = np.ascontiguousarray(bias, dtype=x.dtype) if biased else w[0, 0]
    if w.ndim != 3 or w.shape[2] != C or bias.shape != (C,):  # numba checks no bounds
        raise ValueError(f"depthwise: filters {w.shape} or bias {bias.shape} do not fit "
                         f"{C} channels")
    _depthwise(x, w, s0, s1, bias, biased, x.dtype.type(0), out)
    return out


def depthwise_transpose(g, w, in_shape, s0, s1, times=None):
    """Transpose of ``depthwise``: the input side (N × ``in_shape``) for output-side ``g``,
    multiplied element-wise by ``times`` (an input-side array) when given: the input share
    of an LRP rule in the same pass."""
    g = np.ascontiguousarray(g)
    w = np.ascontiguousarray(w, dtype=g.dtype)
    H, W = in_shape[:2]
    out = np.empty((g.shape[0], H, W, g.shape[3]), dtype=g.dtype)
    scaled = times is not None
    times = np.ascontiguousarray(times, dtype=g.dtype) if scaled else out
    if w.ndim != 3 or w.shape[2] != g.shape[3] or times.shape != out.shape:
        raise ValueError(f"depthwise_transpose: filters {w.shape} or input {times.shape} do "
                         f"not fit {out.shape}")  # numba checks no bounds
    _depthwise_transpose(g, w, s0, s1, times, scaled, g.dtype.type(0), out)
    return out


@_Kernel
def _windows(x, h, w, s0, s1, out):
    """im2col: row (n, i, k) of ``out`` holds the h × w × D window of x under output pixel
    (i, k), kernel row by kernel row (each a contiguous run of w·D values of one image row).
    Flat, unsigned indices: numba's wraparound test on signed ones kept the copy from being
    vectorised, and taking a row view per window cost 10× the copy itself (a photograph's
    stem: 380 µs instead of 39)."""
    N, H, W, D = x.shape
    Ho, Wo = (H - h) // s0 + 1, (W - w) // s1 + 1
    run = w * D
    K = h * run
    src, dst = x.reshape(-1), out.reshape(-1)
    for row in prange(N * Ho):
        n = row // Ho
        i = row - n * Ho
        for a in range(h):
            src_row = ((n * H + i * s0 + a) * W) * D
            dst_row = row * Wo * K + a * run
            for k in range(Wo):
                s = np.uintp(src_row + k * s1 * D)
                d = np.uintp(dst_row + k * K)
                for j in range(run):
                    dst[d + np.uintp(j)] = src[s + np.uintp(j)]


@_Kernel
def _add_windows(g, h, w, s0, s1, times, scaled, out):
    """Transpose of ``_windows``: every input row gathers the window rows of ``g`` that cover
    it, each element its terms in kernel-row, then kernel-column order (so a split run gives
    the serial one's bits), then is multiplied by the same row of ``times`` if ``scaled``.
    Flat, unsigned indices, as in ``_windows``."""
    N, H, W, D = out.shape
    Ho, Wo = (H - h) // s0 + 1, (W - w) // s1 + 1
    run = w * D
    K = h * run
    rows, dst, scale = g.reshape(-1), out.reshape(-1), times.reshape(-1)
    for row in prange(N * H):
        n = row // H
        p = row - n * H
        d0 = np.uintp(row * W * D)
        for j in range(W * D):
            dst[d0 + np.uintp(j)] = 0
        for a in range(h):
            t = p - a
            if t < 0 or t % s0 != 0 or t // s0 >= Ho:
                continue
            g_row = ((n * Ho + t // s0) * Wo) * K + a * run
            for k in range(Wo - 1, -1, -1):  # kernel columns b = q − k·s1 ascending
                d = np.uintp(d0 + k * s1 * D)
                s = np.uintp(g_row + k * K)
                for j in range(run):
                    dst[d + np.uintp(j)] += rows[s + np.uintp(j)]
        if scaled:
            for j in range(W * D):
                dst[d0 + np.uintp(j)] *= scale[d0 + np.uintp(j)]


def windows(x, h, w, s0, s1):
    """The (N·Ho·Wo) × (h·w·D) window matrix of NHWC ``x`` for an h × w kernel, stride s0, s1
    (rows in output order, columns in the filters' h, w, D order)."""
    x = np.ascontiguousarray(x)
    N, H, W, D = x.shape
    out = np.empty((N * ((H - h) // s0 + 1) * ((W - w) // s1 + 1), h * w * D), dtype=x.dtype)
    _windows(x, h, w, s0, s1, out)
    return out


def add_windows(g, in_shape, h, w, s0, s1, times=None):
    """Transpose of ``windows``: the window rows ``g`` summed back onto an N × ``in_shape``
    input, multiplied element-wise by ``times`` (input-side) when given."""
    g = np.ascontiguousarray(g)
    H, W, D = in_shape
    N = g.shape[0] // (((H - h) // s0 + 1) * ((W - w) // s1 + 1))
    out = np.empty((N, H, W, D), dtype=g.dtype)
    scaled = times is not None
    times = np.ascontiguousarray(times, dtype=g.dtype) if scaled else out
    if times.shape != out.shape or g.shape[1] != h * w * D:  # numba checks no bounds
        raise ValueError(f"add_windows: rows {g.shape} and input {times.shape} do not fit "
                         f"{out.shape} with an {h}×{w} kernel")
    _add_windows(g, h, w, s0, s1, times, scaled, out)
    return out


def _require(fits, kernel, a, b):
    """Refuse arrays that do not fit: numba checks no bounds, so a mismatch would read or
    write outside them instead of failing."""
    if not fits:
        raise ValueError(f"{kernel}: arrays of shapes {np.shape(a)} and {np.shape(b)} do not "
                         "fit")


@_Kernel
def _epsilon_share(R, z, divisor, eps, out):
    """out = R / (z' + eps·s(z')), z' = z / divisor, s(0) = +1 (flat arrays)."""
    if divisor != 1:
        for i in prange(z.shape[0]):
            zs = z[i] / divisor
            out[i] = R[i] / (zs + (eps if zs >= 0 else -eps))
    else:
        for i in prange(z.shape[0]):
            out[i] = R[i] / (z[i] + (eps if z[i] >= 0 else -eps))


def epsilon_share(R, z, eps, divisor=1.0):
    """The ε-rule's share in one pass (see ``lrpcore.kernels.epsilon_share``); ``R`` and ``z``
    of one shape and dtype."""
    R, z = np.ascontiguousarray(R), np.ascontiguousarray(z)
    _require(R.shape == z.shape, "epsilon_share", R, z)
    out = np.empty_like(z)
    t = z.dtype.type
    _epsilon_share(R.reshape(-1), z.reshape(-1), t(divisor), t(eps), out.reshape(-1))
    return out


@_Kernel
def _clip(x, low, high, out):
    """out = x limited to [low, high] (flat arrays); nan stays nan, as in numpy."""
    for i in prange(x.shape[0]):
        v = x[i]
        if v < low:
            v = low
        elif v > high:
            v = high
        out[i] = v


def clip(x, low, high):
    """``np.clip(x, low, high)`` in one pass (``None``: no limit)."""
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    t = x.dtype.type
    _clip(x.reshape(-1), t(-np.inf if low is None else low),
          t(np.inf if high is None else high), out.reshape(-1))
    return out


@_Kernel
def _pad(x, top, left, value, low, high, out):
    """``x`` limited to [low, high] and padded with ``value``: each output row is written once
    (numpy fills the whole output, then copies the input over it); nan stays nan."""
    N, H, W = x.shape[0], x.shape[1], x.shape[2]
    Ho, Wo, C = out.shape[1], out.shape[2], out.shape[3]
    for row in prange(N * Ho):
        n = row // Ho
        p = row - n * Ho
        orow = out[n, p]
        i = p - top
        if i < 0 or i >= H:
            for k in range(Wo):
                for c in range(C):
                    orow[k, c] = value
            continue
        xrow = x[n, i]
        for k in range(Wo):
            j = k - left
            if 0 <= j < W:
                for c in range(C):
                    v = xrow[j, c]
                    if v < low:  # as _clip: the same bits
                        v = low
                    elif v > high:
                        v = high
                    orow[k, c] = v
            else:
                for c in range(C):
                    orow[k, c] = value


def pad(x, pads, value, low=None, high=None):
    """``x`` (NHWC) limited to [``low``, ``high``] (``None``: no limit; the same bits as
    ``clip``) with ``pads`` = (top, bottom, left, right) rows and columns of ``value``."""
    x = np.ascontiguousarray(x)
    t, b, left, r = pads
    N, H, W, C = x.shape
    out = np.empty((N, H + t + b, W + left + r, C), dtype=x.dtype)
    d = x.dtype.type
    _pad(x, t, left, d(value), d(-np.inf if low is None else low),
         d(np.inf if high is None else high), out)
    return out


@_Kernel
def _positive_half(z, bias, plus, magnitude, margin, out):
    """out = ((z − bias) + magnitude) / 2 + plus for rows × channels arrays (``bias`` and
    ``plus`` one per channel); returns how many halves fall below margin · (magnitude +
    |bias|) (z holds x·w only to the digits of the larger of the two) or have no finite
    magnitude (|x|·|w| overflowed where x·w did not)."""
    loose = 0
    for r in prange(z.shape[0]):
        zr, mr, orow = z[r], magnitude[r], out[r]
        for c in range(z.shape[1]):
            m, b = mr[c], bias[c]
            v = ((zr[c] - b) + m) * 0.5
            orow[c] = v + plus[c]
            scale = m + abs(b)
            loose += (v < margin * scale) | (not scale < np.inf)  # overflowed |x|·|w|: redo
    return loose


def positive_half(z, bias, plus, magnitude, margin):
    """``((z − bias) + magnitude) / 2 + plus`` in one pass, and how many elements have
    ``((z − bias) + magnitude) / 2`` below ``margin · (magnitude + |bias|)`` (see
    ``lrpcore.rules.SignSplit.positive_sum_from``). ``bias``, ``plus``: one per channel (the
    last axis), or None."""
    z, magnitude = np.ascontiguousarray(z), np.ascontiguousarray(magnitude)
    _require(magnitude.shape == z.shape, "positive_half", z, magnitude)
    out = np.empty_like(z)
    C = z.shape[-1]

    def per_channel(v):
        if v is None:
            return np.zeros(C, z.dtype)
        _require(np.shape(v) == (C,), "positive_half", z, v)
        return np.ascontiguousarray(v, dtype=z.dtype)

    loose = _positive_half(z.reshape(-1, C), per_channel(bias), per_channel(plus),
                           magnitude.reshape(-1, C), z.dtype.type(margin), out.reshape(-1, C))
    return out, int(loose)


@_Kernel
def _positive_half_exact(z, bias, plus, magnitude, margin, rows, wp, wn, has_wn, out):
    """``_positive_half``, where each loose neuron's half is summed instead from its row of
    inputs: x⁺w⁺ + x⁻w⁻ term by term (K multiply-adds each)."""
    K = rows.shape[1]
    for r in prange(z.shape[0]):
        zr, mr, orow, xr = z[r], magnitude[r], out[r], rows[r]
        for c in range(z.shape[1]):
            m, b = mr[c], bias[c]
            v = ((zr[c] - b) + m) * 0.5
            scale = m + abs(b)
            if v < margin * scale or not scale < np.inf:
                v = 0.0
                for k in range(K):
                    xv = xr[k]
                    if xv < 0:
                        if has_wn:
                            v += xv * wn[k, c]
                    else:  # nan stays nan, as in the sum of products
                        v += xv * wp[k, c]
            orow[c] = v + plus[c]


def positive_half_exact(z, bias, plus, magnitude, margin, rows, wp, wn):
    """``positive_half`` for a map z = rows · w (rows × K inputs, ``wp``/``wn``: w⁺ and w⁻,
    K × channels; ``wn`` None: no negative weights), with no neuron left loose: those below
    the margin are summed from their inputs. Returns z⁺ (+ ``plus``)."""
    z, magnitude = np.ascontiguousarray(z), np.ascontiguousarray(magnitude)
    rows, wp = np.ascontiguousarray(rows), np.ascontiguousarray(wp)
    C = z.shape[-1]
    z2, m2 = z.reshape(-1, C), magnitude.reshape(-1, C)
    _require(magnitude.shape == z.shape and rows.shape[0] == z2.shape[0]
             and wp.shape == (rows.shape[1], C), "positive_half_exact", z, rows)
    has_wn = wn is not None
    wn = np.ascontiguousarray(wn) if has_wn else wp
    _require(wn.shape == wp.shape, "positive_half_exact", wp, wn)

    def per_channel(v):
        if v is None:
            return np.zeros(C, z.dtype)
        _require(np.shape(v) == (C,), "positive_half_exact", z, v)
        return np.ascontiguousarray(v, dtype=z.dtype)

    out = np.empty_like(z)
    _positive_half_exact(z2, per_channel(bias), per_channel(plus), m2, z.dtype.type(margin),
                         rows, wp, wn, has_wn, out.reshape(-1, C))
    return out


# -- matrix products split over the cores ---------------------------------------------------------

def _blas_function(name):
    """SciPy's BLAS routine ``name`` (Fortran interface, every argument a pointer), callable
    from compiled code; numba's own ``np.dot`` cannot write into a column block of an array."""
    capsule = scipy.linalg.cython_blas.__pyx_capi__[name]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    address = get_pointer(capsule, get_name(capsule))
    return ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 13)(address)


_GEMM = {np.dtype(np.float32): _blas_function("sgemm"),
         np.dtype(np.float64): _blas_function("dgemm")}
blas_library_loaded()  # SciPy's BLAS is loaded now: one thread wherever numpy's is held to one
_NO_TRANSPOSE, _TRANSPOSE = 78, 84  # 'N', 'T'


def _split_gemm(gemm, a, b, b_transposed, bias, biased, out, by_rows, parts):
    """out = a @ B (+ bias) in ``parts`` blocks of rows or columns, each one BLAS call.

    Row-major arrays are column-major transposes, so out = a·B is outᵀ = Bᵀ·aᵀ in BLAS's
    terms. B is ``b`` (K × N) or, if ``b_transposed``, ``b.T`` for a C array ``b`` (N × K).
    With ``biased`` each block starts as the bias and the product is added to it."""
    M, K = a.shape
    N = out.shape[1]
    total = M if by_rows else N
    step = -(-total // parts)
    for part in prange(parts):
        lo = part * step
        hi = min(total, lo + step)
        if hi <= lo:
            continue
        flags = np.empty(2, np.uint8)
        flags[0] = _TRANSPOSE if b_transposed else _NO_TRANSPOSE
        flags[1] = _NO_TRANSPOSE
        dims = np.empty(6, np.int32)  # m, n, k, ld of B, ld of a, ld of out
        dims[2], dims[3], dims[4], dims[5] = K, b.shape[1], K, N
        scale = np.empty(2, a.dtype)
        scale[0], scale[1] = 1, 1 if biased else 0
        if by_rows:
            dims[0], dims[1] = N, hi - lo
            part_b, part_a, part_out = b, a[lo:hi], out[lo:hi]
        else:
            dims[0], dims[1] = hi - lo, M
            part_b = b[lo:hi] if b_transposed else b[:, lo:hi]
            part_a, part_out = a, out[:, lo:hi]
        if biased:
            for i in range(part_out.shape[0]):
                for j in range(part_out.shape[1]):
                    part_out[i, j] = bias[j + (0 if by_rows else lo)]
        gemm(flags[0:].ctypes, flags[1:].ctypes, dims[0:].ctypes, dims[1:].ctypes,
             dims[2:].ctypes, scale[0:].ctypes, part_b.ctypes, dims[3:].ctypes,
             part_a.ctypes, dims[4:].ctypes, scale[1:].ctypes, part_out.ctypes,
             dims[5:].ctypes)


_split_gemm = _compile(_split_gemm, parallel=True)


SPLIT_MACS = 1 << 18  # smaller products run as one call: splitting costs more than it saves
ROWS_PER_PART = 32  # fewer rows per part than this: split the columns instead


def matmul(a, b, bias=None):
    """``a @ b`` (+ ``bias``, one per column) for 2-D float arrays of one dtype; inside a pass
    that holds all the cores (``lrpcore.parallel.all_cores``), split over them when large."""
    M, K = a.shape
    N = b.shape[1]
    _require(b.shape[0] == K and (bias is None or bias.shape == (N,)), "matmul", a, b)
    if not (kernels_split() and M * K * N >= SPLIT_MACS and a.dtype in _GEMM
            and b.dtype == a.dtype and (bias is None or bias.dtype == a.dtype)):
        out = a @ b
        if bias is not None:
            out += bias
        return out
    a = np.ascontiguousarray(a)
    transposed = not b.flags.c_contiguous and b.T.flags.c_contiguous
    b = b.T if transposed else np.ascontiguousarray(b)
    out = np.empty((M, N), dtype=a.dtype)
    parts = numba.get_num_threads()
    biased = bias is not None
    _split_gemm(_GEMM[a.dtype], a, b, transposed, bias if biased else out[0], biased, out,
                M >= ROWS_PER_PART * parts, parts)
    return out


@_Kernel
def _zplus_rows(gemm, x, wp, wn, has_wn, plus, has_plus, R, eps, out, rows_per_sample, tile):
    """The z⁺ rule's input relevance through a matrix map, one block of rows at a time: each
    block's inputs split by sign, z⁺ = x⁺w⁺ + x⁻w⁻ (+ b⁺), the share R / (z⁺ + ε), and its way
    back through w⁺ and w⁻, while the block is still in cache (see ``zplus_rows``)."""
    M, K = x.shape
    N = wp.shape[1]
    per_sample = -(-rows_per_sample // tile)
    for block in prange((M // rows_per_sample) * per_sample):
        lo = (block // per_sample) * rows_per_sample + (block % per_sample) * tile
        hi = min(lo + tile, (block // per_sample + 1) * rows_per_sample)
        rows = hi - lo
        xpos = np.empty((rows, K), x.dtype)
        xneg = np.empty((rows, K), x.dtype)
        mixed = False
        for i in range(rows):
            for k in range(K):
                v = x[lo + i, k]
                if v < 0:
                    mixed = True
                    xpos[i, k], xneg[i, k] = 0, v
                else:
                    xpos[i, k], xneg[i, k] = v, 0
        both = mixed and has_wn
        z = np.empty((rows, N), x.dtype)
        c = np.empty((rows, K), x.dtype)
        flags = np.empty(2, np.uint8)
        dims = np.empty(5, np.int32)  # m, n, k of the product, then the two leading dimensions
        scale = np.empty(2, x.dtype)
        scale[0], scale[1] = 1, 0
        # z = x⁺w⁺ (+ x⁻w⁻): row-major products are BLAS's column-major transposes
        flags[0], flags[1] = _NO_TRANSPOSE, _NO_TRANSPOSE
        dims[0], dims[1], dims[2], dims[3], dims[4] = N, rows, K, N, K
        gemm(flags[0:].ctypes, flags[1:].ctypes, dims[0:].ctypes, dims[1:].ctypes,
             dims[2:].ctypes, scale[0:].ctypes, wp.ctypes, dims[3:].ctypes, xpos.ctypes,
             dims[4:].ctypes, scale[1:].ctypes, z.ctypes, dims[3:].ctypes)
        if both:
            scale[1] = 1
            gemm(flags[0:].ctypes, flags[1:].ctypes, dims[0:].ctypes, dims[1:].ctypes,
                 dims[2:].ctypes, scale[0:].ctypes, wn.ctypes, dims[3:].ctypes, xneg.ctypes,
                 dims[4:].ctypes, scale[1:].ctypes, z.ctypes, dims[3:].ctypes)
            scale[1] = 0
        for i in range(rows):
            for j in range(N):
                d = z[i, j] + plus[j] if has_plus else z[i, j]
                z[i, j] = R[lo + i, j] / (d + (eps if d >= 0 else -eps))
        # back: c = s·w⁺ᵀ, out = x⁺c (+ x⁻·s·w⁻ᵀ)
        flags[0] = _TRANSPOSE
        dims[0], dims[1], dims[2], dims[3], dims[4] = K, rows, N, N, K
        gemm(flags[0:].ctypes, flags[1:].ctypes, dims[0:].ctypes, dims[1:].ctypes,
             dims[2:].ctypes, scale[0:].ctypes, wp.ctypes, dims[3:].ctypes, z.ctypes,
             dims[3:].ctypes, scale[1:].ctypes, c.ctypes, dims[4:].ctypes)
        for i in range(rows):
            for k in range(K):
                out[lo + i, k] = c[i, k] * xpos[i, k]
        if both:
            gemm(flags[0:].ctypes, flags[1:].ctypes, dims[0:].ctypes, dims[1:].ctypes,
                 dims[2:].ctypes, scale[0:].ctypes, wn.ctypes, dims[3:].ctypes, z.ctypes,
                 dims[3:].ctypes, scale[1:].ctypes, c.ctypes, dims[4:].ctypes)
            for i in range(rows):
                for k in range(K):
                    out[lo + i, k] += c[i, k] * xneg[i, k]


# Rows per block of ``zplus_rows``: its z⁺, share and input blocks together stay within about
# this many bytes (half a core's second-level cache here), however wide the layer.
ZPLUS_BLOCK_BYTES = 1 << 18


def zplus_rows(x, wp, wn, plus, R, eps, rows_per_sample):
    """The z⁺ rule through the matrix map z = x·w (x: rows × K, w: K × N, R: rows × N) in one
    pass over blocks of rows: the numpy route writes and reads the rows × N sums, shares and
    products five times through memory, which cost more than its four matrix products for an
    expansion layer. ``wn`` (w⁻) None: no negative weights; ``plus``: b⁺ per column, or
    None. Blocks never straddle two samples and are cut the same way in any batch, so a
    sample gets the same bits alone as in a batch (float64)."""
    x, R = np.ascontiguousarray(x), np.ascontiguousarray(R)
    wp = np.ascontiguousarray(wp)
    M, K = x.shape
    N = wp.shape[1]
    _require(wp.shape[0] == K and R.shape == (M, N) and M % rows_per_sample == 0,
             "zplus_rows", x, R)
    has_wn, has_plus = wn is not None, plus is not None
    wn = np.ascontiguousarray(wn) if has_wn else wp
    _require(wn.shape == wp.shape, "zplus_rows", wp, wn)
    plus = np.ascontiguousarray(plus, dtype=x.dtype) if has_plus else np.zeros(N, x.dtype)
    _require(plus.shape == (N,), "zplus_rows", wp, plus)
    tile = max(8, ZPLUS_BLOCK_BYTES // ((N + 3 * K) * x.itemsize))
    out = np.empty_like(x)
    _zplus_rows(_GEMM[x.dtype], x, wp, wn, has_wn, plus, has_plus, R, x.dtype.type(eps), out,
                rows_per_sample, tile)
    return out


@_Kernel
def _add_channels(z, b):
    """z += b, row by row (rows × channels, in place)."""
    for r in prange(z.shape[0]):
        row = z[r]
        for c in range(z.shape[1]):
            row[c] += b[c]


def add_channels(z, b):
    """``z += b`` in place for a C-contiguous ``z`` whose last axis ``b`` (1-D) runs along."""
    _require(b.shape == z.shape[-1:], "add_channels", z, b)
    _add_channels(z.reshape(-1, z.shape[-1]), np.ascontiguousarray(b, dtype=z.dtype))
    return z


@_Kernel
def _add_into(a, b):
    """a += b (flat arrays)."""
    for i in prange(a.shape[0]):
        a[i] += b[i]


def add_into(a, b):
    """``a += b`` in place for C-contiguous arrays of one shape and dtype."""
    _require(a.shape == b.shape, "add_into", a, b)
    _add_into(a.reshape(-1), b.reshape(-1))
    return a


@_Kernel
def _count_negative(x):
    count = 0
    for i in prange(x.shape[0]):
        count += x[i] < 0
    return count


def has_negative(x) -> bool:
    """Whether any element of ``x`` is below 0 (one pass, no comparison array)."""
    return bool(_count_negative(np.ascontiguousarray(x).reshape(-1)))
