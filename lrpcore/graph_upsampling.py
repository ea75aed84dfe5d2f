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
takes its gradient there. Bilinear and bicubic resizing (:class:`InterpolatingResize`: FPN and
segmentation heads, ``F.interpolate(mode="bilinear")``, a model resizing its own input) mix
neighbouring pixels with fixed weights; relevance goes back through the transposed weights,
the gradient, again as zennit takes it. Each output row sums its weights to 1, so relevance is
conserved.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ShapeError
from .layers import Layer, _check_nhwc, register_layer

MAX_STRIDE = 64
MAX_SIDE = 1 << 16  # rows (or columns) a resized map may have
MAX_TAPS = 1 << 24  # weights of one axis of an interpolating resize (64 k rows × 256 taps)
DENSE_TAPS = 1 << 22  # an axis whose output × input fits is resized by one matrix product

# ONNX's coordinate_transformation_mode: output position i → input coordinate, for scale s, an
# input of ``size``, ``count`` output positions and ``out`` = size · s before rounding down
# (half_pixel_symmetric centres what the rounding cut off). align_corners and
# pytorch_half_pixel read the output's length ``count``, as ONNX's text, onnxruntime and
# PyTorch do (onnx's reference evaluator reads ``out``; they differ for fractional scales only)
COORDINATES = {
    "half_pixel": lambda i, s, size, out, count: (i + 0.5) / s - 0.5,
    "half_pixel_symmetric": lambda i, s, size, out, count:
        size / 2 * (1 - count / out) + (i + 0.5) / s - 0.5,
    "pytorch_half_pixel": lambda i, s, size, out, count:
        (i + 0.5) / s - 0.5 if count > 1 else np.zeros_like(i),
    "align_corners": lambda i, s, size, out, count:
        i * (size - 1) / (count - 1) if count > 1 else np.zeros_like(i),
    "asymmetric": lambda i, s, size, out, count: i / s,
    "tf_half_pixel_for_nn": lambda i, s, size, out, count: (i + 0.5) / s,  # opsets 11–12
}


def _keys_cubic(d, a):
    """Keys' cubic convolution kernel with coefficient ``a`` (ONNX's cubic_coeff_a)."""
    d = np.abs(d)
    inner = ((a + 2) * d - (a + 3)) * d * d + 1
    outer = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, inner, np.where(d < 2, outer, 0.0))


# interpolation kernels: (support: taps on each side, weight of a tap at distance d)
KERNELS = {
    "linear": (1, lambda d, a: np.clip(1 - np.abs(d), 0, None)),
    "cubic": (2, _keys_cubic),
}


def tap_offsets(mode, scale, antialias) -> tuple[np.ndarray, float]:
    """The taps' offsets from f = ⌈x⌉ − 1 and the factor on their distances: the kernel's
    support on each side, widened by 1/scale where an antialiasing filter shrinks."""
    support = KERNELS[mode][0]
    stretch = min(scale, 1.0) if antialias else 1.0
    first = math.floor(-support / stretch) + 1
    return np.arange(first, 2 - first), stretch


def interpolation_taps(size, count, scale, mode, coordinates, cubic_a=-0.75,
                       exclude_outside=False, antialias=False):
    """ONNX Resize of one axis as taps: output position i is Σ_t weight[i, t] ·
    input[index[i, t]], both ``count`` × taps. The taps lie around f = ⌈x⌉ − 1 for the
    input coordinate x (the neighbours ONNX picks: the left one at whole coordinates), at
    distances scaled by the scale when an antialiasing filter widens a shrinking kernel; an
    index past the edge reads the edge (or, with ``exclude_outside``, gets no weight)."""
    x = COORDINATES[coordinates](np.arange(count, dtype=np.float64), scale, size,
                                 size * scale, count)
    offsets, stretch = tap_offsets(mode, scale, antialias)
    f = np.ceil(x) - 1
    weight = KERNELS[mode][1](stretch * (offsets[None, :] - (x - f)[:, None]), cubic_a)
    if antialias:
        weight = weight / weight.sum(axis=1, keepdims=True)
    index = f.astype(np.int64)[:, None] + offsets[None, :]
    if exclude_outside:
        weight = np.where((index < 0) | (index >= size), 0.0, weight)
        total = weight.sum(axis=1, keepdims=True)
        weight = weight / np.where(total == 0, 1.0, total)
    return np.clip(index, 0, size - 1), weight


def transposed_taps(index, weight, size):
    """The taps of the transposed map (the gradient): for each of ``size`` input positions,
    the output positions reading it and with what weight, padded with zero weights to the
    largest count."""
    outputs = np.repeat(np.arange(index.shape[0]), index.shape[1])
    inputs, weights = index.reshape(-1), weight.reshape(-1)
    keep = weights != 0
    outputs, inputs, weights = outputs[keep], inputs[keep], weights[keep]
    order = np.argsort(inputs, kind="stable")
    outputs, inputs, weights = outputs[order], inputs[order], weights[order]
    counts = np.bincount(inputs, minlength=size)
    width = max(int(counts.max(initial=0)), 1)
    slot = np.arange(inputs.size) - np.repeat(np.cumsum(counts) - counts, counts)
    t_index = np.zeros((size, width), dtype=np.int64)
    t_weight = np.zeros((size, width))
    t_index[inputs, slot], t_weight[inputs, slot] = outputs, weights
    return t_index, t_weight


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
    onnx_ops = ("Resize", "Upsample", "Tile")  # mode 'nearest'; Tile: tf.repeat's

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


@register_layer
class InterpolatingResize(Layer):
    """Bilinear or bicubic resizing of an H×W×C map as ONNX's ``Resize`` defines it (modes
    ``linear`` and ``cubic``, every coordinate mode but tf_crop_and_resize, cubic_coeff_a,
    exclude_outside, antialias); its parameters are kept, the taps of each axis made from
    them (:func:`interpolation_taps`)."""

    kind = "InterpolatingResize"
    role = "reshape"
    onnx_ops = ("Resize", "Upsample")  # modes 'linear' and 'cubic'

    def __init__(self, in_hw, out_hw, scales, mode="linear", coordinates="half_pixel",
                 cubic_a=-0.75, exclude_outside=False, antialias=False):
        super().__init__()
        self.in_hw = tuple(int(v) for v in in_hw)
        self.out_hw = tuple(int(v) for v in out_hw)
        self.scales = tuple(float(v) for v in scales)
        self.mode, self.coordinates = mode, coordinates
        self.cubic_a = float(cubic_a)
        self.exclude_outside, self.antialias = bool(exclude_outside), bool(antialias)
        if mode not in KERNELS or coordinates not in COORDINATES:
            raise ShapeError(f"InterpolatingResize: mode must be one of {', '.join(KERNELS)} "
                             f"and coordinates one of {', '.join(COORDINATES)}")
        if not all(len(v) == 2 and all(1 <= n <= MAX_SIDE for n in v)
                   for v in (self.in_hw, self.out_hw)):
            raise ShapeError(f"InterpolatingResize: sides must be two whole numbers in "
                             f"1…{MAX_SIDE}")
        if not (len(self.scales) == 2 and all(1 / MAX_SIDE <= s <= MAX_SIDE
                                               for s in self.scales)
                and math.isfinite(self.cubic_a)):
            raise ShapeError(f"InterpolatingResize: scales must be two numbers in "
                             f"1/{MAX_SIDE}…{MAX_SIDE} and cubic_a finite")
        for count, s in zip(self.out_hw, self.scales, strict=True):
            taps = tap_offsets(mode, s, antialias)[0].size
            if count * taps > MAX_TAPS:
                raise ShapeError(f"InterpolatingResize: {count} × {taps} weights on one "
                                 f"axis (at most {MAX_TAPS})")

    def native_fields(self):
        return {"in_hw": list(self.in_hw), "out_hw": list(self.out_hw),
                "scales": list(self.scales), "mode": self.mode,
                "coordinates": self.coordinates, "cubic_a": self.cubic_a,
                "exclude_outside": int(self.exclude_outside), "antialias": int(self.antialias)}

    @classmethod
    def from_native(cls, f):
        scales = f.spec.get("scales")
        if not (isinstance(scales, list) and len(scales) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                        and math.isfinite(v) and v > 0 for v in scales)):
            f.fail("InterpolatingResize needs 'scales': two positive numbers")
        mode, coordinates = f.spec.get("mode"), f.spec.get("coordinates")
        if mode not in KERNELS or coordinates not in COORDINATES:
            f.fail(f"InterpolatingResize needs 'mode' (one of {', '.join(KERNELS)}) and "
                   f"'coordinates' (one of {', '.join(COORDINATES)})")
        return cls(f.ints("in_hw", 2), f.ints("out_hw", 2), scales, mode, coordinates,
                   f.number("cubic_a"), f.flag("exclude_outside"), f.flag("antialias"))

    def output_shape(self, in_shape):
        _check_nhwc(self, in_shape, 1, 1)
        if tuple(in_shape[:2]) != self.in_hw:
            raise ShapeError(f"{self.describe()} gets input of shape {tuple(in_shape)}")
        return (*self.out_hw, in_shape[2])

    def describe(self):
        return (f"InterpolatingResize {self.mode} {self.in_hw[0]}×{self.in_hw[1]} → "
                f"{self.out_hw[0]}×{self.out_hw[1]}")

    def taps(self, axis, transposed=False):
        """(index, weight) of ``axis`` (0: rows, 1: columns), of the map or its transpose."""
        index, weight = interpolation_taps(
            self.in_hw[axis], self.out_hw[axis], self.scales[axis], self.mode,
            self.coordinates, self.cubic_a, self.exclude_outside, self.antialias)
        return transposed_taps(index, weight, self.in_hw[axis]) if transposed \
            else (index, weight)

    def _apply(self, x, axis, transposed, xp):
        """Each position along ``axis`` (1 or 2) of x becomes its taps' weighted sum: one
        matrix product (out × in, mostly zeros, but a product) where the axis's matrix is
        small, else the taps gathered."""
        n_in, n_out = self.in_hw[axis - 1], self.out_hw[axis - 1]
        if transposed:
            n_in, n_out = n_out, n_in
        if n_in * n_out <= DENSE_TAPS:
            def matrix():
                index, weight = self.taps(axis - 1)
                dense = np.zeros((self.out_hw[axis - 1], self.in_hw[axis - 1]))
                np.add.at(dense, (np.arange(dense.shape[0])[:, None], index), weight)
                return xp.asarray(dense.T if transposed else dense, dtype=x.dtype)

            A = self._cached(("matrix", axis, transposed), xp, x.dtype, matrix)
            if axis == 1:  # rows: N × H × (W·C)
                N, _, W, C = x.shape
                return xp.matmul(A, x.reshape(N, n_in, W * C)).reshape(N, n_out, W, C)
            # columns: one product with the columns first (numpy's matmul broadcasting A over
            # N·H rows ran 10× slower)
            return xp.ascontiguousarray(xp.moveaxis(xp.tensordot(A, x, axes=([1], [2])), 0, 2))

        def make():
            index, weight = self.taps(axis - 1, transposed)
            return xp.asarray(index.reshape(-1)), xp.asarray(weight, dtype=x.dtype)

        index, weight = self._cached(("taps", axis, transposed), xp, x.dtype, make)
        picked = xp.take(x, index, axis=axis)
        shape = list(x.shape)
        shape[axis:axis + 1] = list(weight.shape)
        picked = picked.reshape(shape)
        picked *= weight.reshape(weight.shape + (1,) * (x.ndim - axis - 1))
        return picked.sum(axis=axis + 1)

    def forward(self, x, xp):
        # the columns first: enlarging, the row product (the cheap one) takes the larger map
        return self._apply(self._apply(x, 2, False, xp), 1, False, xp)

    def relevance_back(self, R, x, xp):
        """The transposed map (the gradient), as zennit's autograd passes relevance here."""
        return self._apply(self._apply(R, 1, True, xp), 2, True, xp)

    def gradient(self, x, y, g, xp, dtype):
        return self.relevance_back(g, x, xp)
