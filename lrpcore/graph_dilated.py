"""Dilated convolutions (ONNX ``Conv`` with ``dilations``: DeepLab's atrous pyramid, dilated
ResNets and MobileNets, temporal convolution networks) and dilated max pooling.

A dilated convolution is computed on its taps alone, in the space-to-batch form: the input's
rows and columns are split into phase sub-grids (every ``dilation``-th row from each offset),
each phase meets the compact filter as an ordinary convolution (phases of equal length stacked
in the batch axis: one call), and the outputs are interleaved back. Where the dilation does not
divide the output's side, the longer and the shorter phases of an axis are separate blocks (up
to four calls) instead of all padded to the longest, which cost up to 2.9× the multiply-adds
at DeepLab's sizes (28×28 at dilation 24; docs/speed-history.md); a small layer, for which the
extra calls cost more, keeps the padding. The earlier form, a filter
holding zeros between the taps, cost (span/taps)² as many multiply-adds (3×3 at dilation 36: a
73×73 filter, ~590×) and memory to match, which refused DeepLab's heads at load.

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
class _Part:
    """Phases ``first`` … ``first + phases − 1`` of one axis, each ``size`` input rows long,
    giving ``out`` rows of the compact convolution."""

    first: int
    phases: int
    size: int
    out: int


# Phases of two lengths go as separate blocks (up to four compact calls instead of one) where
# padding them to equal length would add at least this many multiply-adds per sample; below it
# the extra calls cost more than they save. Measured (docs/speed-history.md, stop 27): 256 → 256
# channels on DeepLab's maps 1.02–2.9× faster split (the padding's share of the work), 16 → 16
# on a 9×9 or 13×13 map twice as slow (0.1 ms more per call).
SPLIT_MACS = 1 << 20


@dataclass(frozen=True)
class _Axis:
    """How one axis (rows or columns) of a dilated convolution splits into phases.

    The input index ``m·dilation + q·step`` is row m of phase q; the compact convolution
    (stride ``stride``) of a phase gives rows interleaved as ``m·period + q``; of those, every
    ``keep``-th of the first ``keep·(n − 1) + 1`` are the layer's n outputs. The phases come
    in ``parts``: one of equal length, or (when their lengths differ) the longer ones and the
    shorter ones, so that no phase computes outputs beyond the last one kept."""

    dilation: int
    step: int  # g = gcd(stride, dilation): only multiples of it are ever read
    period: int
    stride: int
    keep: int
    parts: tuple

    @classmethod
    def plan(cls, taps, stride, dilation, outputs, split=True):
        g = math.gcd(stride, dilation)
        s, d = stride // g, dilation // g
        if d == 1:  # every g-th row, then a plain strided convolution
            return cls(dilation, g, 1, s, 1, (_Part(0, 1, (outputs - 1) * s + taps, outputs),))
        dense = (outputs - 1) * s + 1  # stride-1 outputs up to the last one kept
        phases = min(d, dense)
        long = -(-dense // d)
        r = dense - (long - 1) * d  # phases with ``long`` outputs; the rest have one fewer
        if r >= phases or not split:
            parts = (_Part(0, phases, long + taps - 1, long),)
        else:
            parts = (_Part(0, r, long + taps - 1, long),
                     _Part(r, phases - r, long + taps - 2, long - 1))
        return cls(dilation, g, d, 1, s, parts)

    @property
    def reach(self) -> int:
        """Input rows the phases cover (beyond the input: zeros, read only by outputs that
        are dropped)."""
        return max((p.size - 1) * self.dilation + (p.first + p.phases - 1) * self.step + 1
                   for p in self.parts)

    @property
    def dense(self) -> int:
        """Rows of the interleaved outputs (beyond the last one kept: dropped)."""
        return max((p.out - 1) * self.period + p.first + p.phases for p in self.parts)

    @property
    def gathered(self) -> int:
        """Input rows the phases hold together."""
        return sum(p.size * p.phases for p in self.parts)


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
        rows, cols = self._axes(Ho, Wo)
        return rows.dense * cols.dense * self.W.shape[3]

    def _axes(self, Ho, Wo):
        """The rows' and the columns' phases for an Ho×Wo output: of two lengths each where
        padding them to equal length would cost SPLIT_MACS or more per sample."""
        axes = [(k, s, d, o) for k, s, d, o in zip(self.W.shape[:2], self.stride, self.dilation,
                                                   (Ho, Wo), strict=True)]
        split = [_Axis.plan(*a) for a in axes]
        padded = [_Axis.plan(*a, split=False) for a in axes]
        extra = padded[0].dense * padded[1].dense - split[0].dense * split[1].dense
        return tuple(split if extra * math.prod(self.W.shape) >= SPLIT_MACS else padded)

    def work_values(self, in_shape) -> int:
        """Values per sample the layer holds while it runs beyond its input and output, at
        most: the input's phases gathered (a copy as large as the input, larger where phases
        overlap), the phases' outputs, the input padded with zeros where phases reach beyond
        it, and the dense outputs beyond those kept (up to (s/g)² of the output). The
        batch-size estimate counts them (``GraphExplainer.sample_bytes``); without the
        gathered phases it was short by about an input per sample."""
        Ho, Wo, n = self.output_shape(in_shape)
        rows, cols, _, _ = self._plan(in_shape)
        H, W, C = in_shape
        dense = self._dense_values(Ho, Wo)
        padded = (max(H, rows.reach) * max(W, cols.reach) * C
                  if rows.reach > H or cols.reach > W else 0)
        return rows.gathered * cols.gathered * C + dense + padded + dense - Ho * Wo * n

    # -- the compact convolution and the phases ----------------------------------------------
    def _inner(self):
        conv = self._cached("compact", np, None, self._compact)
        conv.small_windows = self.small_windows
        return conv

    def _plan(self, in_shape):
        Ho, Wo, _ = self.output_shape(in_shape)
        return (*self._axes(Ho, Wo), Ho, Wo)

    @staticmethod
    def _blocks(rows, cols):
        """The (row part, column part) pairs: the blocks of phases, one compact call each."""
        return [(rp, cp) for rp in rows.parts for cp in cols.parts]

    @staticmethod
    def _lattice(a, start, shape, spacing, xp):
        """The view (N, *shape, C) of NHWC ``a`` from row, column ``start`` whose four inner
        axes step ``spacing`` rows, rows, columns, columns: a block's phases (on the input)
        or its outputs (on the interleaved outputs)."""
        sN, sH, sW, sC = a.strides
        if start != (0, 0):
            a = a[:, start[0]:, start[1]:]
        r1, r2, c1, c2 = spacing
        return strided_view(a, (a.shape[0], *shape, a.shape[3]),
                            (sN, r1 * sH, r2 * sH, c1 * sW, c2 * sW, sC), xp)

    def _grid(self, a, rows, rp, cols, cp, xp):
        """Block (rp, cp) of the phase grid of NHWC ``a`` (the phases reach into it) as an
        (N, rp.size, rp.phases, cp.size, cp.phases, C) view."""
        return self._lattice(a, (rp.first * rows.step, cp.first * cols.step),
                             (rp.size, rp.phases, cp.size, cp.phases),
                             (rows.dilation, rows.step, cols.dilation, cols.step), xp)

    def _outputs(self, z, rows, rp, cols, cp, xp):
        """Block (rp, cp)'s outputs among the interleaved ones ``z`` as an
        (N, rp.out, rp.phases, cp.out, cp.phases, n) view."""
        return self._lattice(z, (rp.first, cp.first), (rp.out, rp.phases, cp.out, cp.phases),
                             (rows.period, 1, cols.period, 1), xp)

    def _gather(self, x, rows, cols, xp):
        """NHWC ``x`` as the phases of each block: (N·phases, rp.size, cp.size, C) each."""
        N, H, W, C = x.shape
        if rows.reach > H or cols.reach > W:
            padded = xp.zeros((N, max(H, rows.reach), max(W, cols.reach), C), dtype=x.dtype)
            padded[:, :H, :W] = x
            x = padded
        return [xp.ascontiguousarray(self._grid(x, rows, rp, cols, cp, xp).transpose(
            0, 2, 4, 1, 3, 5)).reshape(-1, rp.size, cp.size, C)
            for rp, cp in self._blocks(rows, cols)]

    def _scatter(self, gs, in_shape, rows, cols, xp):
        """Transpose of ``_gather``: the blocks' phases ``gs`` back onto an N × ``in_shape``
        input, zeros where no phase reads (the blocks read disjoint positions)."""
        H, W, C = in_shape
        first = rows.parts[0].phases * cols.parts[0].phases
        N = gs[0].shape[0] // first
        out = xp.zeros((N, max(H, rows.reach), max(W, cols.reach), C), dtype=gs[0].dtype)
        for g, (rp, cp) in zip(gs, self._blocks(rows, cols), strict=True):
            self._grid(out, rows, rp, cols, cp, xp)[...] = g.reshape(
                N, rp.phases, cp.phases, rp.size, cp.size, C).transpose(0, 3, 1, 4, 2, 5)
        if out.shape[1:3] != (H, W):
            out = xp.ascontiguousarray(out[:, :H, :W])
        return out

    def _interleave(self, zs, rows, cols, Ho, Wo, xp):
        """The blocks' outputs ``zs`` (N·phases, rp.out, cp.out, n each) as the layer's
        N × Ho × Wo × n (the blocks cover every interleaved output)."""
        n = zs[0].shape[3]
        N = zs[0].shape[0] // (rows.parts[0].phases * cols.parts[0].phases)
        z = xp.empty((N, rows.dense, cols.dense, n), dtype=zs[0].dtype)
        for zb, (rp, cp) in zip(zs, self._blocks(rows, cols), strict=True):
            self._outputs(z, rows, rp, cols, cp, xp)[...] = zb.reshape(
                N, rp.phases, cp.phases, rp.out, cp.out, n).transpose(0, 3, 1, 4, 2, 5)
        if (rows.dense, cols.dense) != (Ho, Wo):
            z = xp.ascontiguousarray(z[:, :(Ho - 1) * rows.keep + 1:rows.keep,
                                       :(Wo - 1) * cols.keep + 1:cols.keep])
        return z

    def _deinterleave(self, c, rows, cols, xp):
        """Transpose of ``_interleave``: c (N × Ho × Wo × n) as the blocks' outputs, zeros
        for the outputs that are dropped."""
        N, Ho, Wo, n = c.shape
        if (rows.dense, cols.dense) != (Ho, Wo):
            full = xp.zeros((N, rows.dense, cols.dense, n), dtype=c.dtype)
            full[:, :(Ho - 1) * rows.keep + 1:rows.keep,
                 :(Wo - 1) * cols.keep + 1:cols.keep] = c
            c = full
        return [xp.ascontiguousarray(self._outputs(c, rows, rp, cols, cp, xp).transpose(
            0, 2, 4, 1, 3, 5)).reshape(-1, rp.out, cp.out, n)
            for rp, cp in self._blocks(rows, cols)]

    def _shapes(self, rows, cols, depth):
        """Each block's phase input shape (rows, columns, channels)."""
        return [(rp.size, cp.size, depth) for rp, cp in self._blocks(rows, cols)]

    # -- the linear map ----------------------------------------------------------------------
    def variant(self, key, xp, dtype, make=None):
        return self._inner().variant(key, xp, dtype, make)

    def device_bias(self, xp, dtype):
        return self._inner().device_bias(xp, dtype)

    def colsum(self, w, xp):
        return self._inner().colsum(w, xp)

    def forward(self, x, xp):
        rows, cols, Ho, Wo = self._plan(x.shape[1:])
        inner = self._inner()
        return self._interleave([inner.forward(p, xp) for p in self._gather(x, rows, cols, xp)],
                                rows, cols, Ho, Wo, xp)

    def fmap(self, x, w, xp):
        rows, cols, Ho, Wo = self._plan(x.shape[1:])
        inner = self._inner()
        return self._interleave([inner.fmap(p, w, xp) for p in self._gather(x, rows, cols, xp)],
                                rows, cols, Ho, Wo, xp)

    def tmap(self, c, w, in_shape, xp):
        rows, cols, _, _ = self._plan(in_shape)
        inner = self._inner()
        gs = [inner.tmap(cb, w, shape, xp) for cb, shape in zip(
            self._deinterleave(c, rows, cols, xp), self._shapes(rows, cols, in_shape[2]),
            strict=True)]
        return self._scatter(gs, in_shape, rows, cols, xp)

    def input_share(self, c, w, x, xp):
        rows, cols, _, _ = self._plan(x.shape[1:])
        inner = self._inner()
        gs = [inner.input_share(cb, w, p, xp) for cb, p in zip(
            self._deinterleave(c, rows, cols, xp), self._gather(x, rows, cols, xp),
            strict=True)]
        return self._scatter(gs, x.shape[1:], rows, cols, xp)

    def parameter_gradients(self, x, dy, xp):
        """∂L/∂W of the taps and ∂L/∂B given ∂L/∂y (training): the compact convolution's
        over each block of phases, summed (the dropped outputs' zeros add nothing)."""
        rows, cols, _, _ = self._plan(x.shape[1:])
        inner, total = self._inner(), None
        for p, cb in zip(self._gather(x, rows, cols, xp), self._deinterleave(dy, rows, cols, xp),
                         strict=True):
            grads = inner.parameter_gradients(p, cb, xp)
            total = grads if total is None else {k: total[k] + grads[k] for k in total}
        return total

    def rows_per_sample(self, in_shape):
        rows, cols, _, _ = self._plan(in_shape)
        inner, total = self._inner(), 0
        for (rp, cp), shape in zip(self._blocks(rows, cols),
                                   self._shapes(rows, cols, in_shape[2]), strict=True):
            per_phase = inner.rows_per_sample(shape)
            if per_phase is None:
                return None
            total += per_phase * rp.phases * cp.phases
        return total

    def through_rows(self, x, R, fn):
        rows, cols, _, _ = self._plan(x.shape[1:])
        inner = self._inner()
        gs = [inner.through_rows(p, cb, fn) for p, cb in zip(
            self._gather(x, rows, cols, np), self._deinterleave(R, rows, cols, np),
            strict=True)]
        return self._scatter(gs, x.shape[1:], rows, cols, np)


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
