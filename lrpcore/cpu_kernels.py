"""The engine's own CPU kernels (numba), each replacing several numpy passes over an array.

A depthwise convolution on numpy is h·w strided products over the whole feature map (9 or 25
passes through memory), the ε-rule's stabilised share six element-wise passes, a clip or a
padding two; compiled, each is one pass, and a depthwise output row stays in the first-level
cache while its filter offsets are summed. For EfficientNet-Lite0 that is about a third less
CPU time per explanation. Results are bit for bit those of the numpy arithmetic they replace:
the same operations in the same order (no fused multiply-add).

The kernels run on the calling thread. Splitting them over the cores was tried and measured
slower: OpenBLAS's idle workers spin for ~0.1 s after each matrix product, on the core the
second half would need, and handing work to a thread costs tens of microseconds.

Kernels compile on first use (about a second each per dtype) and are cached on disk by numba;
the module is imported only when a large array needs it (``kernels.compiled``), so the command
line starts as fast as before. ``lrpcore.kernels`` holds the GPU's counterparts.
"""

from __future__ import annotations

import contextlib
import warnings

import numba
import numpy as np


def _compile(fn):
    """numba-compiled, cached on disk when numba finds a writable cache. Division follows
    numpy (x/0 is ±inf or nan, not an exception): only then do the loops vectorise (the
    ε-share ran 5× faster)."""
    options = {"nogil": True, "error_model": "numpy"}
    try:
        kernel = numba.njit(cache=True, **options)(fn)
    except RuntimeError:  # no cache directory numba can write to: compile per process
        return numba.njit(**options)(fn)
    _skip_failed_saves(kernel)
    _recompile_unreadable(kernel)
    return kernel


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


@_compile
def _depthwise(x, w, s0, s1, bias, biased, out):
    """A valid depthwise convolution, output row by output row, each summed over the filter
    offsets in order, in place, then ``bias`` added to it if ``biased``."""
    N, Ho, Wo = out.shape[0], out.shape[1], out.shape[2]
    C = x.shape[3]
    h, ww = w.shape[0], w.shape[1]
    for n in range(N):
        for i in range(Ho):
            orow = out[n, i]
            orow[:] = 0
            for a in range(h):
                xrow = x[n, i * s0 + a]
                for b in range(ww):
                    wv = w[a, b]
                    for k in range(Wo):
                        xv = xrow[k * s1 + b]
                        ov = orow[k]
                        for c in range(C):
                            ov[c] += xv[c] * wv[c]
            if biased:
                for k in range(Wo):
                    ov = orow[k]
                    for c in range(C):
                        ov[c] += bias[c]


@_compile
def _depthwise_transpose(g, w, s0, s1, times, scaled, out):
    """The transposed depthwise convolution of ``g``, input row by input row: each gathers
    from the output rows its filter rows touch, in offset order, and is then multiplied by
    the same row of ``times`` if ``scaled``."""
    N, H = out.shape[0], out.shape[1]
    Ho, Wo, C = g.shape[1], g.shape[2], g.shape[3]
    h, ww = w.shape[0], w.shape[1]
    for n in range(N):
        for p in range(H):
            orow = out[n, p]
            orow[:] = 0
            for a in range(h):
                t = p - a
                if t < 0 or t % s0 != 0 or t // s0 >= Ho:
                    continue
                grow = g[n, t // s0]
                for b in range(ww):
                    wv = w[a, b]
                    for k in range(Wo):
                        ov = orow[k * s1 + b]
                        gv = grow[k]
                        for c in range(C):
                            ov[c] += gv[c] * wv[c]
            if scaled:
                trow = times[n, p]
                for k in range(orow.shape[0]):
                    ov = orow[k]
                    tv = trow[k]
                    for c in range(C):
                        ov[c] *= tv[c]


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
    _depthwise(x, w, s0, s1, bias, biased, out)
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
    _depthwise_transpose(g, w, s0, s1, times, scaled, out)
    return out


@_compile
def _epsilon_share(R, z, divisor, eps, out):
    """out = R / (z' + eps·s(z')), z' = z / divisor, s(0) = +1 (flat arrays)."""
    if divisor != 1:
        for i in range(z.shape[0]):
            zs = z[i] / divisor
            out[i] = R[i] / (zs + (eps if zs >= 0 else -eps))
    else:
        for i in range(z.shape[0]):
            out[i] = R[i] / (z[i] + (eps if z[i] >= 0 else -eps))


def epsilon_share(R, z, eps, divisor=1.0):
    """The ε-rule's share in one pass (see ``lrpcore.kernels.epsilon_share``); ``R`` and ``z``
    of one shape and dtype."""
    R, z = np.ascontiguousarray(R), np.ascontiguousarray(z)
    out = np.empty_like(z)
    t = z.dtype.type
    _epsilon_share(R.reshape(-1), z.reshape(-1), t(divisor), t(eps), out.reshape(-1))
    return out


@_compile
def _clip(x, low, high, out):
    """out = x limited to [low, high] (flat arrays); nan stays nan, as in numpy."""
    for i in range(x.shape[0]):
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


@_compile
def _pad(x, top, left, value, out):
    """``x`` padded with ``value``: each output row is written once (numpy fills the whole
    output, then copies the input over it)."""
    N, H, W = x.shape[0], x.shape[1], x.shape[2]
    Ho, Wo, C = out.shape[1], out.shape[2], out.shape[3]
    for n in range(N):
        for p in range(Ho):
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
                        orow[k, c] = xrow[j, c]
                else:
                    for c in range(C):
                        orow[k, c] = value


def pad(x, pads, value):
    """``x`` (NHWC) with ``pads`` = (top, bottom, left, right) rows and columns of ``value``."""
    x = np.ascontiguousarray(x)
    t, b, left, r = pads
    N, H, W, C = x.shape
    out = np.empty((N, H + t + b, W + left + r, C), dtype=x.dtype)
    _pad(x, t, left, x.dtype.type(value), out)
    return out


@_compile
def _positive_half(z, bias, plus, magnitude, margin, out):
    """out = ((z − bias) + magnitude) / 2 + plus for rows × channels arrays (``bias`` and
    ``plus`` one per channel); returns how many halves fall below margin · (magnitude +
    |bias|) (z holds x·w only to the digits of the larger of the two) or have no finite
    magnitude (|x|·|w| overflowed where x·w did not)."""
    loose = 0
    for r in range(z.shape[0]):
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
    out = np.empty_like(z)
    C = z.shape[-1]

    def per_channel(v):
        return np.zeros(C, z.dtype) if v is None else np.ascontiguousarray(v, dtype=z.dtype)

    loose = _positive_half(z.reshape(-1, C), per_channel(bias), per_channel(plus),
                           magnitude.reshape(-1, C), z.dtype.type(margin), out.reshape(-1, C))
    return out, int(loose)
