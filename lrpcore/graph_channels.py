"""Channel slicing and channel permutation (ShuffleNet's ``x.chunk(2, dim=1)`` and channel
shuffle, exported as Slice or Split, and as Reshape → Transpose → Reshape).

Both route each value to exactly one place, so relevance goes back the same way (the gradient
of a slice or a permutation, which is what zennit computes through these tensor operations);
a tensor read by several slices gets the sum of what each returns, as at any branching."""

from __future__ import annotations

import numpy as np

from .errors import ShapeError
from .layers import Layer, four_pads, padded_shape, register_layer

MAX_CHANNELS = 1 << 20


@register_layer
class ChannelSlice(Layer):
    """Channels ``start`` … ``stop − 1`` (the last axis: channels of an H×W×C map, features
    of a flat tensor)."""

    kind = "ChannelSlice"
    role = "reshape"
    onnx_ops = ("Slice", "Split", "Gather", "SplitToSequence", "SequenceAt")

    def __init__(self, start, stop):
        super().__init__()
        self.start, self.stop = int(start), int(stop)
        if not 0 <= self.start < self.stop <= MAX_CHANNELS:
            raise ShapeError(f"ChannelSlice {self.start}:{self.stop} is empty or out of range")

    def native_fields(self):
        return {"start": self.start, "stop": self.stop}

    @classmethod
    def from_native(cls, f):
        start, stop = f.spec.get("start"), f.spec.get("stop")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, stop)):
            f.fail("ChannelSlice needs whole numbers 'start' and 'stop'")
        return cls(start, stop)

    def output_shape(self, in_shape):
        if not in_shape or in_shape[-1] < self.stop:
            raise ShapeError(f"{self.describe()} gets input of shape {tuple(in_shape)}")
        return tuple(in_shape[:-1]) + (self.stop - self.start,)

    def forward(self, x, xp):
        return xp.ascontiguousarray(x[..., self.start:self.stop])

    def relevance_back(self, R, x, xp):
        out = xp.zeros(tuple(x.shape), dtype=R.dtype)
        out[..., self.start:self.stop] = R
        return out

    def gradient(self, x, y, g, xp, dtype):
        return self.relevance_back(g, x, xp)

    def describe(self):
        return f"ChannelSlice {self.start}:{self.stop}"


@register_layer
class Crop(Layer):
    """Rows and columns cut off an H×W×C map (``x[:, :, 1:, :-1]``, Keras's Cropping2D):
    ``crops`` (top, bottom, left, right). The cut-off border gets no relevance, the gradient
    of a slice, as zennit computes it."""

    kind = "Crop"
    role = "reshape"
    onnx_ops = ("Slice",)  # along height and width

    def __init__(self, crops):
        super().__init__()
        self.crops = tuple(int(c) for c in crops)
        if len(self.crops) != 4 or not all(0 <= c <= MAX_CHANNELS for c in self.crops):
            raise ShapeError(f"Crop: crops {self.crops} must be four whole numbers ≥ 0")

    def native_fields(self):
        return {"crops": list(self.crops)}

    @classmethod
    def from_native(cls, f):
        crops = f.spec.get("crops")
        if not (isinstance(crops, list) and len(crops) == 4 and all(
                isinstance(v, int) and not isinstance(v, bool) for v in crops)):
            f.fail("Crop needs 'crops': four whole numbers")
        return cls(crops)

    def output_shape(self, in_shape):
        t, b, left, r = self.crops
        if len(in_shape) != 3 or in_shape[0] - t - b < 1 or in_shape[1] - left - r < 1:
            raise ShapeError(f"{self.describe()} gets input of shape {tuple(in_shape)}")
        return (in_shape[0] - t - b, in_shape[1] - left - r, in_shape[2])

    def forward(self, x, xp):
        t, b, left, r = self.crops
        return xp.ascontiguousarray(x[:, t:x.shape[1] - b, left:x.shape[2] - r, :])

    def relevance_back(self, R, x, xp):
        t, _, left, _ = self.crops
        out = xp.zeros(tuple(x.shape), dtype=R.dtype)
        out[:, t:t + R.shape[1], left:left + R.shape[2], :] = R
        return out

    def gradient(self, x, y, g, xp, dtype):
        return self.relevance_back(g, x, xp)

    def describe(self):
        return "Crop " + ",".join(map(str, self.crops))


@register_layer
class ChannelPermute(Layer):
    """Output channel j is input channel ``perm[j]`` (a channel shuffle)."""

    kind = "ChannelPermute"
    role = "reshape"
    onnx_ops = ("Reshape",)  # the last of Reshape → Transpose → Reshape

    def __init__(self, perm):
        super().__init__()
        self.perm = np.asarray(perm, dtype=np.int64).reshape(-1)
        n = self.perm.size
        if not 0 < n <= MAX_CHANNELS or not np.array_equal(np.sort(self.perm), np.arange(n)):
            raise ShapeError("ChannelPermute needs a permutation of 0 … C − 1")

    def native_fields(self):
        return {"perm": [int(p) for p in self.perm]}

    @classmethod
    def from_native(cls, f):
        perm = f.spec.get("perm")
        if not isinstance(perm, list) or not all(
                isinstance(p, int) and not isinstance(p, bool) for p in perm):
            f.fail("ChannelPermute needs 'perm', a list of whole numbers")
        return cls(perm)

    def output_shape(self, in_shape):
        if not in_shape or in_shape[-1] != self.perm.size:
            raise ShapeError(f"{self.describe()} gets input of shape {tuple(in_shape)}")
        return tuple(in_shape)

    def _index(self, xp):
        return self._cached("perm", xp, None, lambda: xp.asarray(self.perm))

    def forward(self, x, xp):
        return x[..., self._index(xp)]

    def relevance_back(self, R, x, xp):
        out = xp.empty(tuple(x.shape), dtype=R.dtype)
        out[..., self._index(xp)] = R
        return out

    def gradient(self, x, y, g, xp, dtype):
        return self.relevance_back(g, x, xp)

    def describe(self):
        return f"ChannelPermute ({self.perm.size} channels)"


@register_layer
class MirrorPad(Layer):
    """Padding by copies of the input's own entries (ONNX ``Pad`` mode ``reflect``: PyTorch's
    ``padding_mode="reflect"``, ``nn.ReflectionPad2d``; mode ``edge``: ``"replicate"``,
    ``nn.ReplicationPad2d``). The border is input, not a constant: flat and zB count it, and
    relevance reaching it goes back to the entries it copies — the padding's gradient, which is
    how zennit's autograd sends it through a convolution whose module pads so (or a padding
    module, which takes no rule). ``pads`` are (top, bottom, left, right)."""

    kind = "MirrorPad"
    role = "reshape"
    rematerialize = True  # cheaper to rerun in the backward pass than to keep
    onnx_ops = ("Pad",)  # mode reflect or edge
    MODES = ("reflect", "edge", "wrap")

    def __init__(self, pads=(1, 1, 1, 1), mode="reflect"):
        super().__init__()
        pads = four_pads("MirrorPad", pads)
        if mode not in self.MODES:
            raise ShapeError(f"MirrorPad: mode must be one of {', '.join(self.MODES)}, not "
                             f"{str(mode)[:20]!r}")
        self.pads, self.mode = pads, mode

    def native_fields(self):
        return {"pads": list(self.pads), "mode": self.mode}

    @classmethod
    def from_native(cls, f):
        pads, mode = f.pads("MirrorPad"), f.spec.get("mode")
        if mode not in cls.MODES:
            f.fail(f"MirrorPad 'mode' must be one of {', '.join(cls.MODES)}")
        return cls(pads, mode)

    def output_shape(self, in_shape):
        shape = padded_shape(self, in_shape)
        t, b, left, r = self.pads
        H, W, _ = in_shape
        if self.mode != "edge" and (max(t, b) >= H + (self.mode == "wrap") or
                                    max(left, r) >= W + (self.mode == "wrap")):
            raise ShapeError(f"{self.describe()}: pads larger than the {H}×{W} input they "
                             "copy")
        return shape

    def describe(self):
        t, b, left, r = self.pads
        return f"Pad {t},{b},{left},{r} {self.mode}"

    def forward(self, x, xp):
        t, b, left, r = self.pads
        return xp.pad(x, ((0, 0), (t, b), (left, r), (0, 0)), mode=self.mode)

    def _sources(self, n, before, after):
        """For each entry of a padded axis, the input entry it copies."""
        return np.pad(np.arange(n), (before, after), mode=self.mode)

    def relevance_back(self, R, x, xp):
        """Relevance of each padded entry added to the entry it copies (the pad's adjoint)."""
        t, b, left, r = self.pads
        N, Hp, Wp, D = R.shape
        H, W = Hp - t - b, Wp - left - r
        rows = xp.zeros((N, H, Wp, D), dtype=R.dtype)
        for i, s in enumerate(self._sources(H, t, b).tolist()):
            rows[:, s] += R[:, i]
        out = xp.zeros((N, H, W, D), dtype=R.dtype)
        for j, s in enumerate(self._sources(W, left, r).tolist()):
            out[:, :, s] += rows[:, :, j]
        return out

    def gradient(self, x, y, g, xp, dtype):
        return self.relevance_back(g, x, xp)
