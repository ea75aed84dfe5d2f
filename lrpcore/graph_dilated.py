"""Dilated convolutions (ONNX ``Conv`` with ``dilations``: DeepLab-style backbones, dilated
ResNets, temporal convolution networks) as convolutions whose filters hold zeros between taps.

Why this form: every compute path of :class:`~lrpcore.layers.Convolution` and
:class:`~lrpcore.graph_layers.GroupedConvolution` (numpy, compiled and GPU kernels) and every
rule then works unchanged on the dilated filter. Only a rule that puts something nonzero where
a weight is zero would count the gaps as inputs (flat's ones; zennit's ``Flat`` keeps the
module's dilation, so only the taps get ones): each weight variant is therefore made from the
taps alone and dilated afterwards, and the fan-in counts taps.
"""

from __future__ import annotations

import numpy as np

from .errors import ShapeError
from .graph_layers import GroupedConvolution
from .layers import VARIANTS, Convolution, MaxPool, _check_nhwc, register_layer

MAX_DILATION = 64


def dilate(W, dilation):
    """h × w × d × n taps spread ``dilation`` apart, zeros between them."""
    dh, dw = dilation
    h, w = W.shape[:2]
    out = np.zeros(((h - 1) * dh + 1, (w - 1) * dw + 1) + tuple(W.shape[2:]), dtype=W.dtype)
    out[::dh, ::dw] = W
    return out


def check_dilation(dilation):
    dilation = tuple(int(d) for d in dilation)
    if len(dilation) != 2 or not all(1 <= d <= MAX_DILATION for d in dilation):
        raise ShapeError(f"dilations {list(dilation)} must be two whole numbers in "
                         f"1…{MAX_DILATION}")
    return dilation


class _Dilated:
    """What a dilated convolution adds to the convolution it subclasses; ``W`` holds the
    dilated filter (zeros in the gaps), ``dilation`` the spacing of its taps."""

    def _set_dilation(self, dilation):
        self.dilation = check_dilation(dilation)
        dh, dw = self.dilation
        gaps = np.ones(self.W.shape[:2], dtype=bool)
        gaps[::dh, ::dw] = False
        if (self.W.shape[0] - 1) % dh or (self.W.shape[1] - 1) % dw \
                or np.any(self.W[gaps] != 0):
            raise ShapeError(f"{self.kind}: filters of {self.W.shape[0]}×{self.W.shape[1]} are "
                             f"not taps dilated by {dh},{dw} with zeros between them")

    def taps(self, w):
        dh, dw = self.dilation
        return w[::dh, ::dw]

    def variant(self, key, xp, dtype, make=None):
        make = make or VARIANTS[key]
        return super().variant(key, xp, dtype,
                               make=lambda w: dilate(make(self.taps(w)), self.dilation))

    @property
    def kernel(self):
        return self.taps(self.W).shape

    def fan_in(self):
        h, w, d, _ = self.kernel
        return h * w * d

    def param_count(self):
        return self.taps(self.W).size + self.B.size

    def native_fields(self):
        return {**super().native_fields(), "dilation": list(self.dilation)}

    def describe(self):
        return f"{super().describe()} dilation {self.dilation[0]},{self.dilation[1]}"


@register_layer
class DilatedConvolution(_Dilated, Convolution):
    kind = "DilatedConvolution"
    onnx_ops = ("Conv",)  # with dilations > 1

    def __init__(self, W, B, stride=(1, 1), dilation=(1, 1)):
        super().__init__(W, B, stride)
        self._set_dilation(dilation)

    @classmethod
    def from_native(cls, f):
        filters = f.ints("filters", 4)
        return cls(f.param("W", filters), f.param("B", (filters[3],)), f.ints("stride", 2),
                   f.ints("dilation", 2))


@register_layer
class DilatedGroupedConvolution(_Dilated, GroupedConvolution):
    kind = "DilatedGroupedConvolution"
    onnx_ops = ("Conv",)  # with group > 1 and dilations > 1

    def __init__(self, W, B, stride=(1, 1), groups=1, dilation=(1, 1)):
        super().__init__(W, B, stride, groups)
        self._set_dilation(dilation)

    @classmethod
    def from_native(cls, f):
        base = GroupedConvolution.from_native.__func__(GroupedConvolution, f)
        return cls(base.W, base.B, base.stride, base.groups, f.ints("dilation", 2))


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
