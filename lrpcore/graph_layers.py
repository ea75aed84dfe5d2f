"""Layers that only graph models have: merges, layout changes, mean pooling, grouped
convolutions and bounded activations (computing in NHWC like every layer of this engine).

Each layer declares its LRP role, ONNX operators, gradient and native fields through its class
(see :mod:`lrpcore.layers`) and is registered there, so no module switches on kind names.
"""

from __future__ import annotations

import numpy as np

from .errors import RuleError, ShapeError
from .kernels import (
    compiled,
    cpu_kernels_fit,
    depthwise_direct,
    depthwise_transpose_direct,
    epsilon_share,
    has_kernels,
)
from .layers import VARIANTS, Activation, Layer, LinearMap, SumPool, _check_nhwc, register_layer

MERGE_RULES = ("Add, Sum and Mean take epsilon[:EPS] or simple (a proportional split; zennit's "
               "Norm, ε = 1e-6, by default); Concat takes none")


class Merge(Layer):
    """Base of layers with several inputs; relevance is split among them by ``split``."""

    merge = True
    arity = None  # how many tensors it reads: None for two or more
    role = "merge"
    simple_stabilizer = 1e-16  # the z-rule named on a merge: as on a linear layer

    def rule_problem(self, rule):
        """Why ``rule`` cannot be this merge's rule (None when it can): a sum splits in
        proportion to its summands, stabilised by an ε-rule's ε; other rules have no
        meaning here, and refusing them beats ignoring them."""
        from .rules import Epsilon

        if isinstance(rule, Epsilon):
            return None
        return (f"rule {rule.spec()} does not apply to a merge: {MERGE_RULES}")

    def forward_many(self, xs, xp):
        raise NotImplementedError

    def output_shape_many(self, shapes):
        raise NotImplementedError

    def split(self, xs, y, R, eps, xp):
        """Relevance of each input, given R at the output (``eps``: the Norm stabiliser)."""
        raise NotImplementedError

    def gradient_many(self, xs, y, g, xp):
        """The gradient at each input, given ``g`` at the output."""
        raise RuleError("no gradient is defined for it")


@register_layer
class Add(Merge):
    """Sum of tensors of one shape (a residual connection). LRP: zennit's Norm rule, each
    summand takes its proportional share R·x_k / (Σx + ε·s(Σx)) with ε = 1e-6."""

    kind = "Add"
    # Add of two tensors (an Add of a constant is a bias); ReduceSum: zennit's Sum layer
    onnx_ops = ("Add", "Sum", "ReduceSum")

    def forward_many(self, xs, xp):
        out = xs[0] + xs[1]
        for x in xs[2:]:
            out += x
        return out

    def output_shape_many(self, shapes):
        first = tuple(shapes[0])
        for s in shapes[1:]:
            if tuple(s) != first:
                raise ShapeError(f"Add of tensors of shapes {first} and {tuple(s)}")
        return first

    def split(self, xs, y, R, eps, xp):
        c = epsilon_share(R, y, eps, xp)
        return [x * c for x in xs]

    def gradient_many(self, xs, y, g, xp):
        return [g] * len(xs)


@register_layer
class Mean(Add):
    """Mean of tensors of one shape (ONNX ``Mean``): the same shares as Add."""

    kind = "Mean"
    onnx_ops = ("Mean",)

    def forward_many(self, xs, xp):
        out = super().forward_many(xs, xp)
        out /= len(xs)
        return out

    def split(self, xs, y, R, eps, xp):
        c = epsilon_share(R, y * len(xs), eps, xp)
        return [x * c for x in xs]

    def gradient_many(self, xs, y, g, xp):
        return [g / len(xs)] * len(xs)


@register_layer
class Concat(Merge):
    """Concatenation along the channel (last) axis: relevance splits exactly by slices."""

    kind = "Concat"
    onnx_ops = ("Concat",)

    def forward_many(self, xs, xp):
        return xp.concatenate(xs, axis=-1)

    def output_shape_many(self, shapes):
        rest = tuple(shapes[0][:-1])
        for s in shapes[1:]:
            if tuple(s[:-1]) != rest:
                raise ShapeError(f"Concat of tensors of shapes {tuple(shapes[0])} and {tuple(s)}")
        return rest + (sum(int(s[-1]) for s in shapes),)

    def rule_problem(self, rule):
        return f"a concatenation splits relevance exactly and takes no rule: {MERGE_RULES}"

    def gradient_many(self, xs, y, g, xp):
        return self.split(xs, y, g, 0.0, xp)  # slices, as relevance

    def split(self, xs, y, R, eps, xp):
        out, start = [], 0
        for x in xs:
            stop = start + x.shape[-1]
            out.append(R[..., start:stop].copy())
            start = stop
        return out


@register_layer
class Gate(Merge):
    """A map times a gate computed from it or beside it (inputs: the map, N×H×W×C, then the
    gate): one value per sample and channel (N×1×1×C), the squeeze-and-excitation gate of
    EfficientNet and MobileNetV3; or one value per sample and position (N×H×W×1, broadcast
    over the channels), the attention gate of Attention U-Net. LRP has no rule for a product of
    two signals; zennit's composites hook no module there and autograd passes the relevance on
    as a gradient, R·s to the map and R·x summed over what the gate is broadcast over to the
    gate. This does the same, so that these models agree with zennit; like zennit, it does not
    conserve relevance."""

    kind = "Gate"
    arity = 2  # the map and its gate (a native file's third input: an unpacking error)
    onnx_ops = ("Mul",)  # of a map and a tensor broadcast over its height and width
    passes_gradient = True  # conserves nothing, by zennit's convention (insight.diagnose)

    def forward_many(self, xs, xp):
        x, s = xs
        return x * s

    @staticmethod
    def fits(x, s) -> bool:
        """Whether per-sample shape ``s`` (channels last) gates a map of shape ``x``: one value
        per channel, spread over a map that is more than one value per channel."""
        return (len(x) == len(s) >= 2 and x[-1] == s[-1] and all(v == 1 for v in s[:-1])
                and any(v != 1 for v in x[:-1]))

    @staticmethod
    def per_position(x, s) -> bool:
        """Whether ``s`` is one value per position of a map ``x`` of several channels (an
        attention gate, broadcast over the channels); only the importer can tell such a gate
        from a product of two signals (it checks that a sigmoid computes it)."""
        return (len(x) == len(s) >= 2 and s[-1] == 1 and x[-1] > 1
                and tuple(x[:-1]) == tuple(s[:-1]))

    @staticmethod
    def one_by_one(x, s) -> bool:
        """Whether both are 1×…×1×C: a gate on a 1×1 map (EfficientNetV2's and MobileNetV3's
        last stages on a small input), which only the importer can tell from a product of two
        signals (it checks that the gate is computed from the map's global pool)."""
        return len(x) >= 2 and tuple(x) == tuple(s) and all(v == 1 for v in x[:-1])

    def output_shape_many(self, shapes):
        x, s = (tuple(int(v) for v in sh) for sh in shapes)
        if not (self.fits(x, s) or self.per_position(x, s) or self.one_by_one(x, s)):
            raise ShapeError(f"Gate of a map of shape {x} by a gate of shape {s}: the gate "
                             "needs one value per channel (1×…×1×C) or one per position "
                             "(the map's height and width, one channel)")
        return x

    def rule_problem(self, rule):
        return (f"a gate (a map times a squeeze-and-excitation or attention gate) takes no "
                f"rule: relevance passes as the gradient, as zennit's does; {MERGE_RULES}")

    def split(self, xs, y, R, eps, xp):
        return self.gradient_many(xs, y, R, xp)

    def gradient_many(self, xs, y, g, xp):
        x, s = xs
        spread = tuple(a for a in range(1, x.ndim) if s.shape[a] == 1 and x.shape[a] != 1)
        return [g * s, (g * x).sum(axis=spread, keepdims=True)]


FEW_CHANNELS = 16  # up to this many channels go channels-last one plane at a time


@register_layer
class ToChannelsLast(Layer):
    """C×H×W samples (PyTorch's layout) to the engine's H×W×C; relevance goes back to C×H×W,
    so a model takes and explains arrays in its own declared layout."""

    kind = "ToChannelsLast"
    role = "reshape"  # added by the importer for a channels-first input (no ONNX operator)
    channels_first_input = True  # a model whose input it reads takes C×H×W arrays

    def forward(self, x, xp):
        C = x.shape[1]
        if xp is np and C <= FEW_CHANNELS:
            # a photograph's three planes copied one by one: numpy's transposing copy of the
            # whole array took 5× as long (0.19 ms of 224×224×3)
            out = np.empty((x.shape[0],) + x.shape[2:] + (C,), dtype=x.dtype)
            for c in range(C):
                out[..., c] = x[:, c]
            return out
        return xp.ascontiguousarray(x.transpose(0, 2, 3, 1))

    def output_shape(self, in_shape):
        if len(in_shape) != 3:
            raise ShapeError(f"channels-first input must be C×H×W, got {tuple(in_shape)}")
        C, H, W = in_shape
        return (H, W, C)

    def relevance_back(self, R, x, xp):
        return xp.ascontiguousarray(R.transpose(0, 3, 1, 2))

    def gradient(self, x, y, g, xp, dtype):
        return self.relevance_back(g, x, xp)


@register_layer
class FlattenChannelsFirst(Layer):
    """Flatten an H×W×C map in C, H, W order, as a flatten of PyTorch's C×H×W tensor does."""

    kind = "FlattenChannelsFirst"
    role = "reshape"
    onnx_ops = ("Flatten", "Reshape")

    def forward(self, x, xp):
        return xp.ascontiguousarray(x.transpose(0, 3, 1, 2)).reshape(x.shape[0], -1)

    def output_shape(self, in_shape):
        return (int(np.prod(in_shape)),)

    def relevance_back(self, R, x, xp):
        N, H, W, C = x.shape
        return xp.ascontiguousarray(R.reshape(N, C, H, W).transpose(0, 2, 3, 1))

    def gradient(self, x, y, g, xp, dtype):
        return self.relevance_back(g, x, xp)


@register_layer
class Clip(Activation):
    """min(max(x, low), high), e.g. ReLU6: an activation, relevance passes through."""

    kind = "Clip"
    onnx_ops = ("Clip", "Max", "Min")  # Max(x, c), Min(x, c): dynamo's x.clamp(min=c)

    def native_fields(self):
        return {"low": self.low, "high": self.high}

    @classmethod
    def from_native(cls, f):
        return cls(f.bound("low"), f.bound("high"))

    def gradient(self, x, y, g, xp, dtype):
        inside = xp.ones(x.shape, dtype=bool)
        if self.low is not None:
            inside &= x > self.low
        if self.high is not None:
            inside &= x < self.high
        return g * inside

    def __init__(self, low=0.0, high=6.0):
        super().__init__()
        self.low = None if low is None else float(low)
        self.high = None if high is None else float(high)

    @property
    def clamp(self):
        return (self.low, self.high)

    def forward(self, x, xp):
        if cpu_kernels_fit(xp, x):
            return compiled().clip(x, self.low, self.high)
        return xp.clip(x, self.low, self.high)

    def describe(self):  # ONNX's min and max are optional: an absent one is no bound
        low = "−∞" if self.low is None else f"{self.low:g}"
        high = "∞" if self.high is None else f"{self.high:g}"
        return f"Clip [{low}, {high}]"


@register_layer
class LeakyReLU(Activation):
    """max(x, 0) + slope·min(x, 0): an activation, relevance passes through."""

    kind = "LeakyReLU"
    onnx_ops = ("LeakyRelu",)

    def native_fields(self):
        return {"slope": self.slope}

    @classmethod
    def from_native(cls, f):
        return cls(f.number("slope", 0.01))

    def gradient(self, x, y, g, xp, dtype):
        return xp.where(x >= 0, g, self.slope * g)

    def __init__(self, slope=0.01):
        super().__init__()
        self.slope = float(slope)

    def forward(self, x, xp):
        return xp.where(x >= 0, x, self.slope * x)

    def describe(self):
        return f"LeakyReLU {self.slope:g}"


@register_layer
class MeanPool(SumPool):
    """Average pooling (ONNX AveragePool, GlobalAveragePool, ReduceMean over H and W): a linear
    map whose weights are all 1/(h·w). Graph models explain it with zennit's Norm rule (ε-rule
    with ε = 1e-6 on the window mean); the toolbox's SumPool stays as it is."""

    kind = "MeanPool"
    onnx_ops = ("AveragePool", "GlobalAveragePool", "ReduceMean")
    simple_stabilizer = 1e-16
    norm_role = True  # a plain rule spec leaves it to Norm, like zennit's composites

    @property
    def norm(self):
        return 1.0 / (self.pool[0] * self.pool[1])

    def weights(self):
        return np.float64(self.norm)

    def variant(self, key, xp, dtype, make=None):
        make = make or VARIANTS[key]
        return float(make(np.float64(self.norm)))

    lrp_divisor = 1.0


@register_layer
class PartialMeanPool(MeanPool):
    """Average pooling whose windows divide by how many of their entries count: PyTorch's and
    ONNX's ``count_include_pad=0`` (the padding is not counted; TensorFlow's "same" pooling)
    and ``ceil_mode``'s partial windows. The Pad before it adds the zeros; ``uncounted`` gives
    the (top, bottom, left, right) borders of that padded input which do not count. As a linear
    map its weights are 1/n_j for output j, so zennit's Norm rule gives x_i Σ_j R_j / (n_j ·
    (y_j + ε)), as zennit computes it on such a pooling module."""

    kind = "PartialMeanPool"
    onnx_ops = ("AveragePool",)  # with count_include_pad=0 and pads, or partial ceil windows

    def __init__(self, pool=(2, 2), stride=(2, 2), uncounted=(0, 0, 0, 0)):
        super().__init__(pool, stride)
        self.uncounted = tuple(int(u) for u in uncounted)
        if len(self.uncounted) != 4 or min(self.uncounted) < 0:
            raise ShapeError(f"PartialMeanPool: uncounted borders {self.uncounted} must be "
                             "four whole numbers ≥ 0")

    def native_fields(self):
        return {**super().native_fields(), "uncounted": list(self.uncounted)}

    @classmethod
    def from_native(cls, f):
        borders = f.spec.get("uncounted")
        if not (isinstance(borders, list) and len(borders) == 4 and all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 1 << 16
                for v in borders)):
            f.fail("'uncounted' must be four whole numbers ≥ 0")
        return cls(f.ints("pool", 2), f.ints("stride", 2), borders)

    def describe(self):
        return super().describe() + " (border not counted: " + \
            ",".join(map(str, self.uncounted)) + ")"

    def _factor(self, in_shape, xp, dtype):
        """h·w / n_j for every output position (Ho × Wo × 1): what turns the window mean
        over h·w entries into the mean over the n_j that count."""
        H, W = int(in_shape[0]), int(in_shape[1])

        def make():
            top, bottom, left, right = self.uncounted
            mask = np.zeros((1, H, W, 1))
            mask[:, top:H - bottom, left:W - right, :] = 1
            counts = self.window_sum(mask, np)[0]
            return xp.asarray(self.pool[0] * self.pool[1] / np.maximum(counts, 1), dtype=dtype)

        return self._cached(("count", H, W), xp, dtype, make)

    def forward(self, x, xp):
        out = super().forward(x, xp)
        out *= self._factor(x.shape[1:], xp, x.dtype)
        return out

    def fmap(self, x, w, xp):
        return super().fmap(x, w, xp) * self._factor(x.shape[1:], xp, x.dtype)

    def tmap(self, c, w, in_shape, xp):
        return super().tmap(c * self._factor(in_shape, xp, c.dtype), w, in_shape, xp)

    def input_share(self, c, w, x, xp):
        out = self.tmap(c, w, x.shape[1:], xp)
        out *= x
        return out


@register_layer
class Affine(LinearMap):
    """y = x·scale + shift per channel (the last axis): a BatchNormalization that no linear
    layer precedes, so it cannot be folded. Presets and plain rule specs pass relevance through
    it unchanged, as zennit's composites do (their layer map gives BatchNorm ``Pass``); a
    per-layer rule naming it treats it as a diagonal linear map."""

    kind = "Affine"
    # a BatchNormalization no linear layer precedes; Mul/Div/Add/Sub of a constant per channel
    onnx_ops = ("BatchNormalization", "Mul", "Div", "Add", "Sub")
    unruled_pass = True  # without a rule of its own relevance passes through (zennit's Pass)

    def native_fields(self):
        return {"channels": int(self.scale.size)}

    def native_params(self):
        return self.scale, self.shift

    @classmethod
    def from_native(cls, f):
        channels = f.size("channels")
        if channels is None:
            f.fail("Affine needs a positive 'channels'")
        return cls(f.param("W", (channels,)), f.param("B", (channels,)))

    def __init__(self, scale, shift):
        super().__init__()
        scale, shift = np.asarray(scale).reshape(-1), np.asarray(shift).reshape(-1)
        if scale.shape != shift.shape:
            raise ShapeError(f"Affine: scale {scale.shape} and shift {shift.shape} differ")
        self.scale, self.shift = scale, shift

    def weights(self):
        return self.scale

    def device_bias(self, xp, dtype):
        return self._cached("b", xp, dtype,
                            lambda: xp.asarray(self.shift, dtype=dtype))

    def output_shape(self, in_shape):
        if not in_shape or in_shape[-1] != self.scale.size:
            raise ShapeError(f"{self.describe()} takes {self.scale.size} channels, gets input "
                             f"of shape {tuple(in_shape)}")
        return tuple(in_shape)

    def describe(self):
        return f"{self.kind} ({self._values_text()})"

    def _values_text(self) -> str:
        """The channel count, or the one value every channel has: a Mul by a scalar on N×C×H×W
        data was described as 'Affine (6 channels)', as if it held six scales."""
        parts = self._scalar_parts()
        if parts is None:
            return f"{self.scale.size} channels"
        return f"scalar {' '.join(parts)}"  # the same on every channel: short, for trace

    def _scalar_parts(self) -> list[str] | None:
        """The values of a layer that is the same on every channel, as written ('×0.5',
        '+0.25'; a scale of 1 or a shift of 0 is no value of its own), or None."""
        n = self.scale.size
        if n == 0 or np.ptp(self.scale) != 0 or np.ptp(self.shift) != 0:
            return None
        scale, shift = float(self.scale[0]), float(self.shift[0])
        parts = [f"×{scale:.4g}"] if scale != 1 or shift == 0 else []
        if shift != 0:
            parts.append(f"{'+' if shift > 0 else '−'}{abs(shift):.4g}")
        return parts

    def param_count(self):
        """The values it holds: one per written value of a scalar layer (``x * 0.3`` on 8
        channels counted 16, its scale spread over the channels and a shift of zeros)."""
        parts = self._scalar_parts()
        return self.scale.size + self.shift.size if parts is None else len(parts)

    def fan_in(self):
        return 1

    def colsum(self, w, xp):
        return w

    def fmap(self, x, w, xp):
        return x * w

    def tmap(self, c, w, in_shape, xp):
        return c * w


@register_layer
class Scale(Affine):
    """y = x·scale + shift per channel written as arithmetic in a PyTorch model's ``forward``
    (``(x − mean) / std``, a residual branch times 0.2, logits / T): zennit has no rule for
    it and takes the gradient, so relevance is multiplied by the scale (an ``Affine``, a
    BatchNorm, passes it unchanged)."""

    kind = "Scale"
    onnx_ops = ("Mul", "Div", "Add", "Sub")  # of a constant, in a PyTorch export
    role = "gradient"
    unruled_pass = False


@register_layer
class GroupedConvolution(LinearMap):
    """Convolution with ``groups`` groups (depthwise when every channel is its own group).

    Filters are h × w × (C/g) × n with output channel o in group o // (n/g). The map is
    computed offset by offset: for each of the h·w filter positions one strided slice of the
    input meets a small per-group matrix, which keeps depthwise layers to h·w broadcast
    products instead of a dense block-diagonal weight of C × n.
    """

    kind = "GroupedConvolution"
    weighted = True
    convolution = True
    beta_only_stabilizer = +1e-16
    onnx_ops = ("Conv",)  # with group > 1

    def native_fields(self):
        return {"filters": list(self.W.shape), "stride": list(self.stride),
                "groups": self.groups}

    @classmethod
    def from_native(cls, f):
        filters = f.ints("filters", 4)
        stride = f.ints("stride", 2)
        groups = f.size("groups")
        if groups is None or filters[3] % groups:
            f.fail(f"'groups' must divide the {filters[3]} filters")
        return cls(f.param("W", filters), f.param("B", (filters[3],)), stride, groups)

    def __init__(self, W, B, stride=(1, 1), groups=1):
        super().__init__()
        W = np.asarray(W)
        B = np.asarray(B).reshape(-1)
        groups = int(groups)
        if W.ndim != 4 or B.shape != (W.shape[3],) or groups < 1 or W.shape[3] % groups:
            raise ShapeError(f"GroupedConvolution: filters {W.shape}, biases {B.shape} and "
                             f"{groups} groups do not fit")
        self.W, self.B, self.groups = W, B, groups
        self.stride = (int(stride[0]), int(stride[1]))

    def weights(self):
        return self.W

    def device_bias(self, xp, dtype):
        return self._cached("b", xp, dtype,
                            lambda: xp.asarray(self.B, dtype=dtype))

    @property
    def in_channels(self):
        return self.W.shape[2] * self.groups

    def output_shape(self, in_shape):
        h, w, _, n = self.W.shape
        _check_nhwc(self, in_shape, h, w, self.in_channels)
        H, W_, _ = in_shape
        return ((H - h) // self.stride[0] + 1, (W_ - w) // self.stride[1] + 1, n)

    @property
    def kernel(self) -> tuple:
        """As :attr:`lrpcore.layers.Convolution.kernel` (per group: d input channels)."""
        return self.W.shape

    def describe(self):
        h, w, d, n = self.kernel
        what = "Depthwise convolution" if d == 1 and n == self.groups else "Grouped convolution"
        return (f"{what} {h}×{w}×{self.in_channels}×{n} groups {self.groups} "
                f"stride {self.stride[0]},{self.stride[1]}")

    def param_count(self):
        return self.W.size + self.B.size

    def fan_in(self):
        h, w, d, _ = self.W.shape
        return h * w * d

    def colsum(self, w, xp):
        return w.sum(axis=(0, 1, 2))

    def _offsets(self, in_shape):
        h, w = self.W.shape[:2]
        s0, s1 = self.stride
        Ho, Wo, _ = self.output_shape(in_shape)
        for a in range(h):
            for b in range(w):
                yield a, b, (slice(None), slice(a, a + s0 * (Ho - 1) + 1, s0),
                             slice(b, b + s1 * (Wo - 1) + 1, s1))

    def _per_group(self, w):
        h, ww, d, n = w.shape
        return w.reshape(h, ww, d, self.groups, n // self.groups)  # (h, w, Cg, g, m)

    def fmap(self, x, w, xp):
        N = x.shape[0]
        Ho, Wo, n = self.output_shape(x.shape[1:])
        g, d = self.groups, w.shape[2]
        wg = self._per_group(w)
        if self._depthwise() and has_kernels(xp):  # depthwise on a GPU: one launch
            return depthwise_direct(x, wg[:, :, 0, :, 0], *self.stride, xp)
        if self._depthwise() and xp is np:  # depthwise on the CPU: compiled kernels
            return compiled().depthwise(x, wg[:, :, 0, :, 0], *self.stride)
        out = xp.zeros((N, Ho, Wo, n), dtype=x.dtype)
        for a, b, index in self._offsets(x.shape[1:]):
            part = xp.einsum("nijgc,cgm->nijgm", x[index].reshape(N, Ho, Wo, g, d), wg[a, b])
            out += part.reshape(N, Ho, Wo, n)
        return out

    def _depthwise(self) -> bool:
        return self.W.shape[2] == 1 and self.W.shape[3] == self.groups

    def parameter_gradients(self, x, dy, xp):
        """∂L/∂W and ∂L/∂B given ∂L/∂y (training), offset by offset as ``fmap``."""
        N, Ho, Wo, n = dy.shape
        h, ww, d, _ = self.W.shape
        g = self.groups
        dyg = dy.reshape(N, Ho, Wo, g, n // g)
        dW = xp.empty((h, ww, d, g, n // g), dtype=dy.dtype)
        for a, b, index in self._offsets(x.shape[1:]):
            dW[a, b] = xp.einsum("nijgc,nijgm->cgm", x[index].reshape(N, Ho, Wo, g, d), dyg)
        return {"W": dW.reshape(h, ww, d, n), "B": dy.sum(axis=(0, 1, 2))}

    def forward(self, x, xp):
        if self._depthwise() and xp is np:  # the bias in the same pass (same bits)
            dtype = x.dtype
            return compiled().depthwise(x, self.variant("w", xp, dtype)[:, :, 0, :],
                                        *self.stride, bias=self.device_bias(xp, dtype))
        return super().forward(x, xp)

    def input_share(self, c, w, x, xp):
        if self._depthwise() and xp is np and x.shape[0] == c.shape[0]:
            return compiled().depthwise_transpose(c, w[:, :, 0, :], x.shape[1:], *self.stride,
                                                   times=x)
        return super().input_share(c, w, x, xp)

    def tmap(self, c, w, in_shape, xp):
        N, Ho, Wo, n = c.shape
        g, m, d = self.groups, n // self.groups, w.shape[2]
        wg = self._per_group(w)
        if self._depthwise() and has_kernels(xp):
            return depthwise_transpose_direct(c, wg[:, :, 0, :, 0], in_shape, *self.stride, xp)
        if self._depthwise() and xp is np:
            return compiled().depthwise_transpose(c, wg[:, :, 0, :, 0], in_shape, *self.stride)
        out = xp.zeros((N,) + tuple(in_shape), dtype=c.dtype)
        cg = c.reshape(N, Ho, Wo, g, m)
        for a, b, index in self._offsets(in_shape):
            part = xp.einsum("nijgm,cgm->nijgc", cg, wg[a, b])
            out[index] += part.reshape(N, Ho, Wo, g * d)
        return out
