"""Layers that make a map larger: the two halves of a transposed convolution (decoders,
U-Nets, ONNX ``ConvTranspose``) and nearest-neighbour resizing (ONNX ``Resize``/``Upsample``).

A transposed convolution with strides s is the convolution, with the filters flipped and their
in/out channels swapped, of its input spread s apart with zeros between (:class:`Spread`) and
padded by k − 1 − pads. Why that form: every compute path and every rule of
:class:`~lrpcore.layers.Convolution` then works unchanged. The zeros contribute nothing to any
z, so ε, z⁺, αβ and γ give them no relevance; rules that replace the inputs by ones or bounds
(flat, w², zB) see them as a border (:meth:`Spread.inside`), as a Pad's, so they take no share
either. That is what zennit computes on a ``ConvTranspose2d`` module.

Nearest resizing copies each input pixel to the output pixels that read it; relevance (and
the gradient) goes back summed over those copies: zennit has no rule for ``Upsample`` and
takes its gradient there.
"""

from __future__ import annotations

import numpy as np

from .errors import ShapeError
from .layers import Layer, _check_nhwc, register_layer

MAX_STRIDE = 64
MAX_SIDE = 1 << 16  # rows (or columns) a resized map may have


@register_layer
class Spread(Layer):
    """An H×W×C map spread ``stride`` apart: row i goes to row i·s, zeros between."""

    kind = "Spread"
    role = "reshape"
    rematerialize = True  # a copy with zeros: cheaper to redo than to keep
    onnx_ops = ("ConvTranspose",)  # its strides

    def __init__(self, stride=(2, 2)):
        super().__init__()
        self.stride = tuple(int(s) for s in stride)
        if len(self.stride) != 2 or not all(1 <= s <= MAX_STRIDE for s in self.stride):
            raise ShapeError(f"Spread: stride {list(self.stride)} must be two whole numbers "
                             f"in 1…{MAX_STRIDE}")

    def native_fields(self):
        return {"stride": list(self.stride)}

    @classmethod
    def from_native(cls, f):
        return cls(f.ints("stride", 2))

    def output_shape(self, in_shape):
        _check_nhwc(self, in_shape, 1, 1)
        H, W, C = in_shape
        return ((H - 1) * self.stride[0] + 1, (W - 1) * self.stride[1] + 1, C)

    def describe(self):
        return f"Spread {self.stride[0]},{self.stride[1]} (the strides of a transposed convolution)"

    def forward(self, x, xp):
        N = x.shape[0]
        out = xp.zeros((N,) + self.output_shape(tuple(x.shape[1:])), dtype=x.dtype)
        out[:, ::self.stride[0], ::self.stride[1], :] = x
        return out

    def relevance_back(self, R, x, xp):
        return xp.ascontiguousarray(R[:, ::self.stride[0], ::self.stride[1], :])

    def gradient(self, x, y, g, xp, dtype):
        return self.relevance_back(g, x, xp)

    def inside(self, in_shape, xp, dtype):
        """1 where an input pixel lands, 0 on the zeros between (see the module's note)."""
        mask = xp.zeros((1,) + self.output_shape(tuple(in_shape)), dtype=dtype)
        mask[:, ::self.stride[0], ::self.stride[1], :] = 1
        return mask

    def embed(self, mask, xp):
        """``mask`` (over this layer's input) as it lies in the output: zeros between."""
        return self.forward(mask, xp)


@register_layer
class NearestResize(Layer):
    """Output row i reads input row ``rows[i]``, output column j input column ``cols[j]``
    (any nearest-neighbour resize: 2× upsampling, odd factors, shrinking)."""

    kind = "NearestResize"
    role = "reshape"
    onnx_ops = ("Resize", "Upsample")  # mode 'nearest'

    def __init__(self, rows, cols, in_hw):
        super().__init__()
        self.in_hw = tuple(int(v) for v in in_hw)
        self.rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        self.cols = np.asarray(cols, dtype=np.int64).reshape(-1)
        for name, index, size in (("rows", self.rows, self.in_hw[0]),
                                  ("cols", self.cols, self.in_hw[1])):
            if not 1 <= index.size <= MAX_SIDE or not 1 <= size <= MAX_SIDE \
                    or index.min() < 0 or index.max() >= size or np.any(np.diff(index) < 0):
                raise ShapeError(f"NearestResize: {name} must be 1…{MAX_SIDE} indices, in "
                                 f"order, into {size} input positions")

    def native_fields(self):
        return {"rows": self.rows.tolist(), "cols": self.cols.tolist(),
                "in_hw": list(self.in_hw)}

    @classmethod
    def from_native(cls, f):
        def ints(key, n=None):
            """Whole numbers 0…MAX_SIDE (a 31-digit one overflowed int64: OverflowError),
            ``n`` of them where given (an 'in_hw' of one raised IndexError)."""
            values = f.spec.get(key)
            if not (isinstance(values, list) and values and len(values) == (n or len(values))
                    and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_SIDE
                            for v in values)):
                count = f"{n} " if n else "a list of "
                f.fail(f"NearestResize needs '{key}': {count}whole numbers from 0 to {MAX_SIDE}")
            return values

        return cls(ints("rows"), ints("cols"), ints("in_hw", 2))

    def output_shape(self, in_shape):
        _check_nhwc(self, in_shape, 1, 1)
        if tuple(in_shape[:2]) != self.in_hw:
            raise ShapeError(f"{self.describe()} gets input of shape {tuple(in_shape)}")
        return (self.rows.size, self.cols.size, in_shape[2])

    def describe(self):
        return (f"NearestResize {self.in_hw[0]}×{self.in_hw[1]} → "
                f"{self.rows.size}×{self.cols.size}")

    def _runs(self, axis, xp):
        """The copies of each input position along ``axis`` (1: rows, 2: columns), grouped by
        how many there are: [(copies k, input positions, the outputs copying each: positions ×
        k)], the indices on ``xp``'s device. Nearest resizing reads the input in order, so
        each position's copies are adjacent; groups are few (a 2× upsampling has one: k = 2)."""
        def make():
            index = self.rows if axis == 1 else self.cols
            size = self.in_hw[axis - 1]
            counts = np.bincount(index, minlength=size)
            first = np.searchsorted(index, np.arange(size))
            return [(int(k), xp.asarray(np.flatnonzero(counts == k)),
                     xp.asarray((first[counts == k][:, None] + np.arange(k)).reshape(-1)))
                    for k in np.unique(counts) if k > 0]
        return self._cached(f"runs{axis}", xp, None, make)

    def _sum_copies(self, R, axis, xp):
        shape = list(R.shape)
        shape[axis] = self.in_hw[axis - 1]
        out = xp.zeros(shape, dtype=R.dtype)  # positions no output reads get nothing
        for k, positions, copies in self._runs(axis, xp):
            picked = xp.take(R, copies, axis=axis)
            shape = list(picked.shape)
            shape[axis:axis + 1] = [len(positions), k]
            index = [slice(None)] * R.ndim
            index[axis] = positions
            out[tuple(index)] = picked.reshape(shape).sum(axis=axis + 1)
        return out

    def forward(self, x, xp):
        rows, cols = self._cached("index", xp, None,
                                  lambda: (xp.asarray(self.rows), xp.asarray(self.cols)))
        return xp.ascontiguousarray(x[:, rows][:, :, cols])

    def relevance_back(self, R, x, xp):
        """Each input pixel gets the sum of its copies (the gradient of the copy), summed
        in place of one-hot matrices (out × in values per axis: gigabytes for long sides)."""
        return self._sum_copies(self._sum_copies(R, 1, xp), 2, xp)

    def gradient(self, x, y, g, xp, dtype):
        return self.relevance_back(g, x, xp)
