"""The earlier form of a dilated convolution, kept as the reference the phase form is checked
against: the filter with zeros between its taps, run as an ordinary convolution, every weight
variant made from the taps and dilated afterwards (so flat's ones stand only at the taps)."""

from __future__ import annotations

import numpy as np

from lrpcore.graph_layers import GroupedConvolution
from lrpcore.layers import VARIANTS, Convolution


def dilate(W, dilation):
    """h × w × d × n taps spread ``dilation`` apart, zeros between them."""
    dh, dw = dilation
    h, w = W.shape[:2]
    out = np.zeros(((h - 1) * dh + 1, (w - 1) * dw + 1) + tuple(W.shape[2:]), dtype=W.dtype)
    out[::dh, ::dw] = W
    return out


class _Materialised:
    def variant(self, key, xp, dtype, make=None):
        make = make or VARIANTS[key]
        dh, dw = self.dilation
        return super().variant(key, xp, dtype,
                               make=lambda w: dilate(make(w[::dh, ::dw]), self.dilation))

    def fan_in(self):
        dh, dw = self.dilation
        h, w, d, _ = self.W[::dh, ::dw].shape
        return h * w * d


class MaterialisedConvolution(_Materialised, Convolution):
    def __init__(self, taps, B, stride=(1, 1), dilation=(1, 1)):
        super().__init__(dilate(np.asarray(taps), dilation), B, stride)
        self.dilation = tuple(dilation)


class MaterialisedGroupedConvolution(_Materialised, GroupedConvolution):
    def __init__(self, taps, B, stride=(1, 1), groups=1, dilation=(1, 1)):
        super().__init__(dilate(np.asarray(taps), dilation), B, stride, groups)
        self.dilation = tuple(dilation)
