"""Dilated convolutions (ONNX ``Conv`` with ``dilations``: DeepLab's atrous pyramid, dilated
ResNets and MobileNets, temporal convolution networks) and dilated max pooling.

A dilated convolution is computed on its taps alone, in the space-to-batch form: the input's
rows and columns are split into phase sub-grids (every ``dilation``-th row from each offset),
each phase meets the compact filter as an ordinary convolution (all phases stacked in the batch
axis: one call), and the outputs are interleaved back. The earlier form, a filter holding zeros
between the taps, cost (span/taps)² as many multiply-adds (3×3 at dilation 36: a 73×73 filter,
~590×) and memory to match, which refused DeepLab's heads at load.

Every rule goes through ``fmap``/``tmap`` (and ``input_share``), so ε, z⁺, αβ, γ, flat, w² and
zB work unchanged: the rearrangement is exact and relevance goes back through it. The weight
variants are those of the taps: flat's ones stand only at the taps (zennit's ``Flat`` keeps the
module's dilation), and the fan-in counts taps. Padding is a ``Pad`` layer before this one, so
zB's bounds and flat's border mask are those of the real input positions, as before.

A strided dilated convolution reads only rows that are multiples of g = gcd(stride, dilation):
those are taken first, leaving stride s/g and dilation d/g. With dilation 1 left that is a
plain strided convolution of the taken rows; otherwise the stride-1 outputs are computed on the
phases and every (s/g)-th kept (PyTorch allows the pair; its zoo has none).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import ShapeError
from .graph_layers import GroupedConvolution
from .layers import (
    Convolution,
    LinearMap,
    MaxPool,
    _check_nhwc,
    register_layer,
    strided_view,
)
from .model import MAX_ACTIVATION_VALUES

MAX_DILATION = 64


def check_dilation(dilation):
    dilation = tuple(int(d) for d in dilation)
    if len(dilation) != 2 or not all(1 <= d <= MAX_DILATION for d in dilation):
        raise ShapeError(f"dilations {list(dilation)} must be two whole numbers in "
                         f"1…{MAX_DILATION}")
    return dilation


def span(taps, dilation) -> int:
    """Rows (or columns) that ``taps`` taps ``dilation`` apart reach."""
    return (taps - 1) * dilation + 1


@dataclass(frozen=True)
class _Axis:
    """How one axis (rows or columns) of a dilated convolution splits into phases.

    The input index ``m·dilation + q·step`` (q < ``phases``, m < ``size``) is row m of
    phase q; the compact convolution (stride ``stride``) of each phase gives ``out`` rows,
    interleaved as ``m·phases + q``; of those, every ``keep``-th of the first ``keep·(n − 1)
    + 1`` are the layer's n outputs."""

    dilation: int
    step: int  # g = gcd(stride, dilation): only multiples of it are ever read
    phases: int
    size: int
    stride: int
    out: int
    keep: int

    @classmethod
    def plan(cls, taps, stride, dilation, outputs):
        g = math.gcd(stride, dilation)
        s, d = stride // g, dilation // g
        if d == 1:  # every g-th row, then a plain strided convolution
            return cls(dilation, g, 1, (outputs - 1) * s + taps, s, outputs, 1)
        dense = (outputs - 1) * s + 1  # stride-1 outputs up to the last one kept
        phases = min(d, dense)
        out = -(-dense // d)
        return cls(dilation, g, phases, out + taps - 1, 1, out, s)

    @property
    def reach(self) -> int:
        """Input rows the phase grid covers (beyond the input: zeros, read only by outputs
        that are dropped)."""
        return (self.size - 1) * self.dilation + (self.phases - 1) * self.step + 1

    @property
    def dense(self) -> int:
        return self.out * self.phases


class _PhaseConvolution(LinearMap):
    """A convolution whose ``W`` (h × w × d × n) holds taps ``dilation`` apart, computed as a
    compact convolution of the input's phases (module docstring). The compact convolution is
    made from ``W`` and ``B`` on first use and kept with the device copies, so whatever
    replaces them (a BatchNorm folded in, a randomised copy) clears it as it clears those."""

    weighted = True
    convolution = True
    beta_only_stabilizer = +1e-16
    chain_input = chain_output = "image"
    groups = 1

    def _base(self, stride):
        """The convolution of the taps with ``stride`` (the class's plain kind)."""
        raise NotImplementedError

    def _compact(self, stride=None):
        """The compact convolution the phases go through (``stride``: another one)."""
        if stride is None:
            h, w = self.W.shape[:2]
            stride = tuple(_Axis.plan(k, s, d, 1).stride for k, s, d
                           in zip((h, w), self.stride, self.dilation, strict=True))
        return self._base(stride)

    def _set(self, dilation):
        self.dilation = check_dilation(dilation)
        self.stride = (int(self.stride[0]), int(self.stride[1]))
        self._compact()  # checks the filters, biases and groups

    # -- what the layer is -------------------------------------------------------------------
    @property
    def kernel(self) -> tuple:
        return self.W.shape

    @property
    def in_channels(self) -> int:
        return self.W.shape[2] * self.groups

    def chain_widths(self):
        return self.in_channels, int(self.W.shape[3])

    def weights(self):
        return self.W

    def param_count(self):
        return self.W.size + self.B.size

    def fan_in(self):
        h, w, d, _ = self.W.shape
        return h * w * d

    def describe(self):
        return (f"{self._compact(self.stride).describe()} "
                f"dilation {self.dilation[0]},{self.dilation[1]}")

    def native_fields(self):
        return {"taps": list(self.W.shape), "stride": list(self.stride),
                "dilation": list(self.dilation)}

    def output_shape(self, in_shape):
        h, w, _, n = self.W.shape
        sh, sw = span(h, self.dilation[0]), span(w, self.dilation[1])
        _check_nhwc(self, in_shape, sh, sw, self.in_channels)
        H, W, _ = in_shape
        Ho, Wo = (H - sh) // self.stride[0] + 1, (W - sw) // self.stride[1] + 1
        # a stride beside a dilation neither divides computes every (s/g)-th output's
        # neighbours too: hidden from the bound on the layers' outputs, stride 63 beside
        # dilation 64 made a 33-KB file of 16×16 outputs ask for 7 GiB at one sample
        hidden = self._dense_values(Ho, Wo)
        if hidden > MAX_ACTIVATION_VALUES:
            raise ShapeError(f"{self.describe()}: its phases compute {hidden:,} values per "
                             f"sample for its {Ho}×{Wo}×{n} output, more than "
                             f"{MAX_ACTIVATION_VALUES:,}; not a layer this program can explain")
        return Ho, Wo, n

    def _dense_values(self, Ho, Wo) -> int:
        """Values per sample the phases compute for an Ho×Wo output: up to (s/g)² times it."""
        h, w, _, n = self.W.shape
        return math.prod(_Axis.plan(k, s, d, o).dense for k, s, d, o in zip(
            (h, w), self.stride, self.dilation, (Ho, Wo), strict=True)) * n

    def work_values(self, in_shape) -> int:
        """Values per sample the layer holds while it runs beyond its output (the dense
        outputs of its phases, of which it keeps every (s/g)-th): the batch-size estimate
        counts them (``GraphExplainer.sample_bytes``)."""
        Ho, Wo, n = self.output_shape(in_shape)
        return self._dense_values(Ho, Wo) - Ho * Wo * n

    # -- the compact convolution and the phases ----------------------------------------------
    def _inner(self):
        conv = self._cached("compact", np, None, self._compact)
        conv.small_windows = self.small_windows
        return conv

    def _plan(self, in_shape):
        Ho, Wo, _ = self.output_shape(in_shape)
        h, w = self.W.shape[:2]
        return (_Axis.plan(h, self.stride[0], self.dilation[0], Ho),
                _Axis.plan(w, self.stride[1], self.dilation[1], Wo), Ho, Wo)

    @staticmethod
    def _grid(a, rows, cols, xp):
        """The phase grid of NHWC ``a`` (rows, cols reach into it) as an
        (N, rows.size, rows.phases, cols.size, cols.phases, C) view."""
        sN, sH, sW, sC = a.strides
        return strided_view(a, (a.shape[0], rows.size, rows.phases, cols.size, cols.phases,
                                a.shape[3]),
                            (sN, rows.dilation * sH, rows.step * sH, cols.dilation * sW,
                             cols.step * sW, sC), xp)

    def _gather(self, x, rows, cols, xp):
        """NHWC ``x`` as its phases: (N·phases, rows.size, cols.size, C)."""
        N, H, W, C = x.shape
        if rows.reach > H or cols.reach > W:
            padded = xp.zeros((N, max(H, rows.reach), max(W, cols.reach), C), dtype=x.dtype)
            padded[:, :H, :W] = x
            x = padded
        grid = self._grid(x, rows, cols, xp).transpose(0, 2, 4, 1, 3, 5)
        return xp.ascontiguousarray(grid).reshape(-1, rows.size, cols.size, C)

    def _scatter(self, g, in_shape, rows, cols, xp):
        """Transpose of ``_gather``: phases g back onto an N × ``in_shape`` input, zeros
        where no phase reads."""
        H, W, C = in_shape
        N = g.shape[0] // (rows.phases * cols.phases)
        out = xp.zeros((N, max(H, rows.reach), max(W, cols.reach), C), dtype=g.dtype)
        self._grid(out, rows, cols, xp)[...] = g.reshape(
            N, rows.phases, cols.phases, rows.size, cols.size, C).transpose(0, 3, 1, 4, 2, 5)
        if out.shape[1:3] != (H, W):
            out = xp.ascontiguousarray(out[:, :H, :W])
        return out

    @staticmethod
    def _interleave(z, rows, cols, Ho, Wo, xp):
        """The phases' outputs z (N·phases, rows.out, cols.out, n) as the layer's N × Ho × Wo
        × n."""
        n = z.shape[3]
        N = z.shape[0] // (rows.phases * cols.phases)
        z = z.reshape(N, rows.phases, cols.phases, rows.out, cols.out, n)
        z = xp.ascontiguousarray(z.transpose(0, 3, 1, 4, 2, 5)).reshape(
            N, rows.dense, cols.dense, n)
        if (rows.dense, cols.dense) != (Ho, Wo):
            z = xp.ascontiguousarray(z[:, :(Ho - 1) * rows.keep + 1:rows.keep,
                                       :(Wo - 1) * cols.keep + 1:cols.keep])
        return z

    @staticmethod
    def _deinterleave(c, rows, cols, xp):
        """Transpose of ``_interleave``: c (N × Ho × Wo × n) as the phases' outputs, zeros
        for the outputs that are dropped."""
        N, Ho, Wo, n = c.shape
        if (rows.dense, cols.dense) != (Ho, Wo):
            full = xp.zeros((N, rows.dense, cols.dense, n), dtype=c.dtype)
            full[:, :(Ho - 1) * rows.keep + 1:rows.keep,
                 :(Wo - 1) * cols.keep + 1:cols.keep] = c
            c = full
        c = c.reshape(N, rows.out, rows.phases, cols.out, cols.phases, n)
        return xp.ascontiguousarray(c.transpose(0, 2, 4, 1, 3, 5)).reshape(
            -1, rows.out, cols.out, n)

    # -- the linear map ----------------------------------------------------------------------
    def variant(self, key, xp, dtype, make=None):
        return self._inner().variant(key, xp, dtype, make)

    def device_bias(self, xp, dtype):
        return self._inner().device_bias(xp, dtype)

    def colsum(self, w, xp):
        return self._inner().colsum(w, xp)

    def forward(self, x, xp):
        rows, cols, Ho, Wo = self._plan(x.shape[1:])
        z = self._inner().forward(self._gather(x, rows, cols, xp), xp)
        return self._interleave(z, rows, cols, Ho, Wo, xp)

    def fmap(self, x, w, xp):
        rows, cols, Ho, Wo = self._plan(x.shape[1:])
        z = self._inner().fmap(self._gather(x, rows, cols, xp), w, xp)
        return self._interleave(z, rows, cols, Ho, Wo, xp)

    def tmap(self, c, w, in_shape, xp):
        rows, cols, _, _ = self._plan(in_shape)
        phase_in = (rows.size, cols.size, in_shape[2])
        g = self._inner().tmap(self._deinterleave(c, rows, cols, xp), w, phase_in, xp)
        return self._scatter(g, in_shape, rows, cols, xp)

    def input_share(self, c, w, x, xp):
        rows, cols, _, _ = self._plan(x.shape[1:])
        g = self._inner().input_share(self._deinterleave(c, rows, cols, xp), w,
                                      self._gather(x, rows, cols, xp), xp)
        return self._scatter(g, x.shape[1:], rows, cols, xp)

    def rows_per_sample(self, in_shape):
        rows, cols, _, _ = self._plan(in_shape)
        per_phase = self._inner().rows_per_sample((rows.size, cols.size, in_shape[2]))
        return None if per_phase is None else per_phase * rows.phases * cols.phases

    def through_rows(self, x, R, fn):
        rows, cols, _, _ = self._plan(x.shape[1:])
        g = self._inner().through_rows(self._gather(x, rows, cols, np),
                                       self._deinterleave(R, rows, cols, np), fn)
        return self._scatter(g, x.shape[1:], rows, cols, np)


def _taps_of(f, cls_name):
    """The taps of a native file's dilated convolution: ``taps`` as written now, or the
    filters with zeros between the taps (``filters``) that files written before hold."""
    dh, dw = check_dilation(f.ints("dilation", 2))
    if "taps" in f.spec:
        taps = f.ints("taps", 4)
        return f.param("W", taps), taps[3]
    filters = f.ints("filters", 4)
    W = f.param("W", filters)
    gaps = np.ones(W.shape[:2], dtype=bool)
    gaps[::dh, ::dw] = False
    if (W.shape[0] - 1) % dh or (W.shape[1] - 1) % dw or np.any(W[gaps] != 0):
        f.fail(f"{cls_name}: filters of {W.shape[0]}×{W.shape[1]} are not taps dilated by "
               f"{dh},{dw} with zeros between them")
    return np.ascontiguousarray(W[::dh, ::dw]), filters[3]


@register_layer
class DilatedConvolution(_PhaseConvolution):
    """Dilated convolution; ``W`` holds the taps (h × w × d × n), inputs NHWC."""

    kind = "DilatedConvolution"
    onnx_ops = ("Conv",)  # with dilations > 1

    def __init__(self, W, B, stride=(1, 1), dilation=(1, 1)):
        super().__init__()
        self.W, self.B, self.stride = np.asarray(W), np.asarray(B).reshape(-1), stride
        self._set(dilation)

    def _base(self, stride):
        return Convolution(self.W, self.B, stride)

    @classmethod
    def from_native(cls, f):
        W, n = _taps_of(f, cls.kind)
        return cls(W, f.param("B", (n,)), f.ints("stride", 2), f.ints("dilation", 2))


@register_layer
class DilatedGroupedConvolution(_PhaseConvolution):
    """Dilated grouped (or depthwise) convolution; ``W`` holds the taps (h × w × C/g × n)."""

    kind = "DilatedGroupedConvolution"
    onnx_ops = ("Conv",)  # with group > 1 and dilations > 1

    def __init__(self, W, B, stride=(1, 1), groups=1, dilation=(1, 1)):
        super().__init__()
        self.W, self.B, self.stride = np.asarray(W), np.asarray(B).reshape(-1), stride
        self.groups = int(groups)
        self._set(dilation)

    def _base(self, stride):
        return GroupedConvolution(self.W, self.B, stride, self.groups)

    def native_fields(self):
        return {**super().native_fields(), "groups": self.groups}

    @classmethod
    def from_native(cls, f):
        W, n = _taps_of(f, cls.kind)
        groups = f.size("groups")
        if groups is None or n % groups:
            f.fail(f"'groups' must divide the {n} filters")
        return cls(W, f.param("B", (n,)), f.ints("stride", 2), groups, f.ints("dilation", 2))


@register_layer
class DilatedMaxPool(MaxPool):
    """Max pooling over windows of ``pool`` positions spaced ``dilation`` apart (ONNX MaxPool
    with ``dilations``); relevance goes to each window's maximum, as for :class:`MaxPool`."""

    kind = "DilatedMaxPool"
    onnx_ops = ("MaxPool",)  # with dilations > 1

    def __init__(self, pool=(2, 2), stride=(2, 2), dilation=(1, 1)):
        super().__init__(pool, stride)
        self.dilation = check_dilation(dilation)

    @property
    def extent(self):
        """The rows and columns one window spans."""
        return tuple((p - 1) * d + 1 for p, d in zip(self.pool, self.dilation, strict=True))

    def native_fields(self):
        return {**super().native_fields(), "dilation": list(self.dilation)}

    @classmethod
    def from_native(cls, f):
        return cls(f.ints("pool", 2), f.ints("stride", 2), f.ints("dilation", 2)).with_ties(f)

    def output_shape(self, in_shape):
        h, w = self.extent
        _check_nhwc(self, in_shape, h, w)
        H, W, D = in_shape
        return ((H - h) // self.stride[0] + 1, (W - w) // self.stride[1] + 1, D)

    def describe(self):
        return f"{super().describe()} dilation {self.dilation[0]},{self.dilation[1]}"

    def slices(self, in_shape):
        s0, s1 = self.stride
        d0, d1 = self.dilation
        Ho, Wo, _ = self.output_shape(in_shape)
        return [(slice(None), slice(a * d0, a * d0 + s0 * (Ho - 1) + 1, s0),
                 slice(b * d1, b * d1 + s1 * (Wo - 1) + 1, s1))
                for a in range(self.pool[0]) for b in range(self.pool[1])]

    def tiles(self, x, xp):
        return None  # windows with gaps never tile the input

    def spread(self, c, in_shape, xp):
        out = xp.zeros((c.shape[0],) + tuple(in_shape), dtype=c.dtype)
        for index in self.slices(in_shape):
            out[index] += c
        return out
