"""Layers of a sequential model, with the forward passes of the LRP Toolbox 1.3.1.

Parameters are stored as numpy arrays in the toolbox's layouts (Linear ``W``: inputs × outputs;
Convolution ``W``: h × w × d × n, inputs NHWC). Device copies for a backend and dtype are made on
first use and cached, so a model explains on numpy and cupy alike.

Three layers are *linear maps* (Linear, Convolution, SumPool): LRP treats them alike through
``fmap`` (the map applied to an input with some variant of the weights, bias excluded) and
``tmap`` (its transpose, i.e. the gradient with respect to the input). Each LRP rule is then a
few calls of these two; no batch × inputs × outputs tensor is ever built.

Every layer kind is one class registered with :func:`register_layer` (``LAYER_KINDS``). The
class declares all that other modules need, so none of them switches on kind names: its
forward pass, its LRP ``role`` (``linear`` map, ``maxpool``, ``merge``, ``reshape``,
``pass`` or ``gradient``), its ``gradient``, how the native format stores it (``native_fields``,
``native_params``, ``from_native``) and which ONNX operators build it (``onnx_ops``).
"""

from __future__ import annotations

import math

import numpy as np

from .errors import RuleError, ShapeError
from .kernels import (
    CPU_KERNEL_SIZE,
    add_bias,
    compiled,
    conv_direct,
    conv_transpose_direct,
    cpu_kernels_fit,
    direct_conv_fits,
    has_kernels,
    product,
)

# Weight variants every linear map can provide; rules may add their own through ``variant``.
VARIANTS = {
    "w": lambda w: w,
    "pos": lambda w: np.maximum(w, 0),
    "neg": lambda w: np.minimum(w, 0),
    "sq": lambda w: w * w,
    "abs": np.abs,
}


def variant_input(w, dtype):
    """The weights a variant is made from: cast to the explanation's dtype where it is wider.
    An ONNX export stores float32 weights; its w² and γ-weights, made in float32 and only then
    cast, were off by ~1e-8 relatively in a float64 explanation. Weights stored as wide as the
    explanation (the toolbox's float64 text files) are used as they are, bit for bit."""
    w = np.asarray(w)
    dt = np.dtype(dtype)
    return w.astype(dt) if w.dtype.kind == "f" and dt.itemsize > w.dtype.itemsize else w


ROLES = ("linear", "maxpool", "merge", "reshape", "pass", "gradient")
LAYER_KINDS: dict = {}  # kind name → layer class: every kind the program knows


def register_layer(cls):
    """Register a layer kind under ``cls.kind`` (a class decorator). A kind that is not
    registered cannot be read from a file, and a role outside ``ROLES`` is refused here."""
    if cls.role not in ROLES:
        raise ValueError(f"layer kind {cls.kind!r} declares no LRP role (one of {ROLES})")
    if LAYER_KINDS.get(cls.kind, cls) is not cls:
        raise ValueError(f"layer kind {cls.kind!r} is registered already")
    LAYER_KINDS[cls.kind] = cls
    return cls


class Layer:
    """Base class: a named module with a forward pass and a per-sample output shape."""

    kind = "Layer"
    weighted = False  # True for Linear and Convolution (layers with trainable parameters)
    linear_map = False  # True for layers LRP rules act on (Linear, Convolution, SumPool)
    rematerialize = False  # graph models: recompute the output when needed, do not keep it
    # how relevance passes it: 'linear' (a rule's linear()), 'maxpool' (a rule's maxpool()),
    # 'merge' (split()), 'reshape' (relevance_back()), 'pass' (unchanged) or 'gradient'
    # (gradient(): where zennit has no rule and takes the gradient); None: unknown
    role = None
    onnx_ops: tuple = ()  # the ONNX operators the importer builds this kind from
    pad_transparent = False  # a Pad's border mask reaches the next linear layer through it
    # (low, high) when the layer is min(max(x, low), high) (None: no limit): a Pad after it
    # applies it while copying (``lrpcore.graph.clamps_absorbed``), one pass instead of two,
    # with the same values (a ReLU's −0 may stay −0 there, where numpy's maximum makes +0)
    clamp = None
    # whether a small convolution takes window matrices on the CPU (``Convolution._windowed``):
    # set by a graph model, whose larger layers load the compiled kernels anyway; a toolbox
    # chain's digit keeps numpy's rows and loads no numba (its command line starts ~1 s sooner)
    small_windows = False

    def absorbs(self, before) -> bool:
        """Whether this layer can apply the element-wise layer ``before`` it in its own pass
        (``forward(x, xp, clamped_by=before)``): only a Pad, and only a clamp."""
        return False

    def __init__(self):
        self._device_cache: dict = {}

    def forward(self, x, xp):
        raise NotImplementedError

    def output_shape(self, in_shape: tuple) -> tuple:
        return tuple(in_shape)

    def describe(self) -> str:
        return self.kind

    def rule_problem(self, rule) -> str | None:
        """Why ``rule`` cannot be given to this layer (None: it can)."""
        return None

    def domain_problem(self, x, xp) -> str | None:
        """Why this layer's output is not finite for the finite input ``x`` where an operator
        of it got values outside its domain (a Log of a negative number), else None (an
        overflow): what the non-finite outputs are blamed on."""
        return None

    # -- what a chain read from a file can be checked against (io/layer_check.py) --
    chain_input = None  # "flat" or "image": what the layer needs from the one before
    chain_output = None  # "flat" or "image": what it gives; None: what it got

    def chain_widths(self) -> tuple:
        """(features or channels it takes, those it gives); None: any, resp. unchanged."""
        return None, None

    def added_pixels(self) -> tuple:
        """(rows, columns) the layer adds to an image (padding costs memory per sample)."""
        return 0, 0

    def parameter_gradients(self, x, dy, xp) -> dict:
        """{"W": ∂L/∂W, "B": ∂L/∂B} for trainable layers, given ∂L/∂y (training)."""
        raise ShapeError(f"no parameter gradient for layer type {self.kind}")

    def gradient(self, x, y, g, xp, dtype):
        """∂(output · g)/∂x for input ``x``, output ``y`` (sensitivity, baselines)."""
        raise RuleError("no gradient is defined for it")

    # -- the native format: header fields, parameter arrays, and the layer back from them --
    def native_fields(self) -> dict:
        return {}

    def native_params(self):
        """(W, B) arrays stored as ``layer{i}.W``/``.B``, or None."""
        return None

    @classmethod
    def from_native(cls, f):
        """The layer from its header fields; ``f`` reads and checks them (see
        :class:`lrpcore.io.native.NativeFields`)."""
        return cls()

    def param_count(self) -> int:
        return 0

    def _cached(self, key, xp, dtype, make):
        """``make()`` for this array module and dtype, made once. Looked up first as given:
        spelling the dtype out (``np.dtype(dtype).str``) cost ~0.4 µs a lookup, several per
        layer and pass; the spelled-out key makes ``float32`` and ``np.float32`` one entry."""
        cache, module = self._device_cache, xp.__name__
        value = cache.get((key, module, dtype))
        if value is None:
            canonical = (key, module, None if dtype is None else np.dtype(dtype).str)
            value = cache.get(canonical)
            if value is None:
                value = make()
                cache[canonical] = value
            cache[(key, module, dtype)] = value
        return value

    def clear_cache(self) -> None:
        self._device_cache.clear()

    def __getstate__(self):  # device copies are never serialised
        state = self.__dict__.copy()
        state["_device_cache"] = {}
        return state


class Activation(Layer):
    """An element-wise function that relevance passes through unchanged, as zennit passes
    it through every activation module: the one place these kinds say so (and that their
    output is cheaper to recompute in the backward pass than to keep). ``pass_through``
    (a Pad's zero border stays zero) holds where f(0) = 0; a kind where it does not says so."""

    rematerialize = True
    role = "pass"
    pass_through = True


@register_layer
class Rect(Activation):
    kind = "Rect"
    pad_transparent = True
    onnx_ops = ("Relu",)
    clamp = (0.0, None)

    def forward(self, x, xp):
        return xp.maximum(x, 0)  # array first: numpy's faster loop (~30 % here)

    def gradient(self, x, y, g, xp, dtype):
        return g * (y > 0)


@register_layer
class Tanh(Activation):
    kind = "Tanh"
    pad_transparent = True
    onnx_ops = ("Tanh",)

    def forward(self, x, xp):
        return xp.tanh(x)

    def gradient(self, x, y, g, xp, dtype):
        return g * (1 - y * y)


@register_layer
class SoftMax(Layer):
    kind = "SoftMax"
    role = "pass"
    pass_through = True
    output_activation = True  # dropped before explaining when it ends a model

    def gradient(self, x, y, g, xp, dtype):
        return y * (g - (g * y).sum(axis=1, keepdims=True))

    def forward(self, x, xp):
        # The toolbox exponentiates directly; shifting by the row maximum gives the same
        # result without overflow for large logits.
        e = xp.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


@register_layer
class Flatten(Layer):
    kind = "Flatten"
    chain_output = "flat"
    role = "reshape"
    pad_transparent = True
    onnx_ops = ("Flatten", "Reshape", "Squeeze")

    def gradient(self, x, y, g, xp, dtype):
        return g.reshape(x.shape)

    def forward(self, x, xp):
        return x.reshape(x.shape[0], -1)

    def output_shape(self, in_shape):
        return (int(np.prod(in_shape)),)

    def relevance_back(self, R, x, xp):
        return R.reshape(x.shape)


# --------------------------------------------------------------------------------------------
# Linear maps
# --------------------------------------------------------------------------------------------


class LinearMap(Layer):
    """A layer computing z = map(x; W) + b. Subclasses define ``fmap`` and ``tmap``."""

    linear_map = True
    role = "linear"
    simple_stabilizer = 1e-16  # the toolbox's stabiliser of the 'simple' rule
    beta_only_stabilizer = -1e-16  # the toolbox's stabiliser of the α = 0 branch
    has_negative_weights = True

    def weights(self):
        raise NotImplementedError

    def variant(self, key, xp, dtype, make=None):
        """Device copy of a weight variant (``"w"``, ``"pos"``, ``"neg"``, ``"sq"`` or a rule's),
        made in the explanation's dtype (:func:`variant_input`), rows contiguous whatever the
        file's layout (an ONNX Gemm's transposed weights are a column-major view): BLAS may
        sum a product of the other layout in another order, so the same model read from
        another file would give other last bits."""
        make = make or VARIANTS[key]
        return self._cached(("w", key), xp, dtype,
                            lambda: xp.ascontiguousarray(
                                make(variant_input(self.weights(), dtype)), dtype=dtype))

    def device_bias(self, xp, dtype):
        return None

    lrp_divisor = 1.0  # what the toolbox divides a layer's output by before its rules

    def lrp_base(self, z):
        """The pre-activation the toolbox's rules divide by (bias included)."""
        return z if self.lrp_divisor == 1 else z / self.lrp_divisor

    def fan_in(self) -> int:
        raise NotImplementedError

    def colsum(self, w, xp):
        """Σ_i w_ij for every output j (the ww rule's normaliser)."""
        raise NotImplementedError

    def fmap(self, x, w, xp):
        raise NotImplementedError

    def tmap(self, c, w, in_shape, xp):
        raise NotImplementedError

    def gradient(self, x, y, g, xp, dtype):
        if self.lrp_divisor != 1:  # SumPool: forward = window sum · norm, its weights are 1
            g = g * self.lrp_divisor
        return self.tmap(g, self.variant("w", xp, dtype), x.shape[1:], xp)

    def native_params(self):
        return (self.W, self.B) if self.weighted else None

    def rows_per_sample(self, in_shape):
        """How many rows one sample's input of ``in_shape`` makes where this map runs on the
        CPU as one matrix product of rows and ``variant`` (see ``through_rows``); None where
        it does not."""
        return None

    def rows_of(self, x):
        """``x`` as the matrix of rows this map multiplies by its weights (``variant``), where
        that is a view (a dense layer; a pointwise convolution: a row per pixel); else None."""
        return None

    def through_rows(self, x, R, fn):
        """``fn(rows, R_rows, per_sample)`` on ``x`` as the rows this map multiplies by its
        weights and on the relevance of its outputs ``R`` as rows, the input-side rows it
        returns brought back to x's shape: for kernels that work through a layer block by
        block (``lrpcore.cpu_kernels.zplus_rows``). Only where ``rows_per_sample`` is not
        None."""
        raise NotImplementedError

    def input_share(self, c, w, x, xp):
        """x ⊙ tmap(c): each input's share of what goes back through weights ``w``, the last
        step of every rule that weighs by the input (``x`` may also be a bound or a part)."""
        out = self.tmap(c, w, x.shape[1:], xp)
        out *= x
        return out

    def forward(self, x, xp):
        dtype = x.dtype
        z = self.fmap(x, self.variant("w", xp, dtype), xp)
        b = self.device_bias(xp, dtype)
        if b is not None:  # z is a fresh array: add in place, saving one large temporary
            add_bias(z, b, xp)
        return z


@register_layer
class Linear(LinearMap):
    """Dense layer: Y = X·W + B with W of shape (m, n)."""

    kind = "Linear"
    weighted = True
    onnx_ops = ("Gemm", "MatMul")
    chain_input = chain_output = "flat"

    def chain_widths(self):
        return self.m, self.n

    def parameter_gradients(self, x, dy, xp):
        return {"W": x.T @ dy, "B": dy.sum(axis=0)}

    def native_fields(self):
        return {"inputs": self.m, "outputs": self.n}

    @classmethod
    def from_native(cls, f):
        m, n = f.size("inputs"), f.size("outputs")
        if m is None or n is None or m * n > f.max_elements:
            f.fail("Linear needs positive 'inputs'/'outputs'")
        return cls(f.param("W", (m, n)), f.param("B", (n,)))

    def __init__(self, W, B):
        super().__init__()
        W = np.asarray(W)
        B = np.asarray(B).reshape(-1)
        if W.ndim != 2 or B.shape != (W.shape[1],):
            raise ShapeError(f"Linear: weights {W.shape} and biases {B.shape} do not fit")
        self.W, self.B = W, B

    @property
    def m(self):
        return self.W.shape[0]

    @property
    def n(self):
        return self.W.shape[1]

    def weights(self):
        return self.W

    def device_bias(self, xp, dtype):
        return self._cached("b", xp, dtype,
                            lambda: xp.asarray(self.B, dtype=dtype))

    def output_shape(self, in_shape):
        if tuple(in_shape) != (self.m,):
            raise ShapeError(f"Linear {self.m}→{self.n} gets input of shape {tuple(in_shape)}, "
                             f"expects ({self.m},)")
        return (self.n,)

    def describe(self):
        return f"Linear {self.m}→{self.n}"

    def param_count(self):
        return self.W.size + self.B.size

    def fan_in(self):
        return self.m

    def colsum(self, w, xp):
        return w.sum(axis=0)

    def rows_of(self, x):
        return x if x.ndim == 2 else None

    def fmap(self, x, w, xp):
        return product(x, w, xp)

    def tmap(self, c, w, in_shape, xp):
        return product(c, w.T, xp)


def strided_view(x, shape, strides, xp):
    """A read-only-by-convention view of ``x`` with these shape and strides. numpy's
    ``as_strided`` costs ~4 µs a call; the array constructor over a contiguous buffer ~0.5,
    which a digit's explanation pays several times."""
    if xp is np and x.flags.c_contiguous:
        return np.ndarray(shape, x.dtype, x, 0, strides)
    return xp.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)


def _windows(x, h, w, s0, s1, xp):
    """Strided view (N, Ho, Wo, h, w, D) of every pooling/convolution window of NHWC ``x``."""
    N, H, W, D = x.shape
    Ho, Wo = (H - h) // s0 + 1, (W - w) // s1 + 1
    sN, sH, sW, sD = x.strides
    return strided_view(x, (N, Ho, Wo, h, w, D), (sN, s0 * sH, s1 * sW, sH, sW, sD), xp)


def _check_nhwc(layer, in_shape, h, w, depth=None):
    if len(in_shape) != 3:
        raise ShapeError(f"{layer.describe()} needs H×W×D inputs, gets shape {tuple(in_shape)}")
    H, W, D = in_shape
    if H < h or W < w:
        raise ShapeError(f"{layer.describe()}: input {H}×{W} is smaller than the {h}×{w} window")
    if depth is not None and D != depth:
        raise ShapeError(f"{layer.describe()}: input has {D} channels, filters expect {depth}")


@register_layer
class Convolution(LinearMap):
    """Valid (unpadded), unflipped 2-D convolution; filters h × w × d × n, inputs NHWC."""

    kind = "Convolution"
    weighted = True
    convolution = True
    beta_only_stabilizer = +1e-16  # the toolbox's Convolution differs from its Linear here
    onnx_ops = ("Conv",)
    chain_input = chain_output = "image"

    def chain_widths(self):
        return int(self.W.shape[2]), int(self.W.shape[3])

    def parameter_gradients(self, x, dy, xp):
        h, w, d, n = self.W.shape
        cols = _windows(x, h, w, *self.stride, xp).reshape(-1, h * w * d)
        dz = dy.reshape(-1, n)
        return {"W": (cols.T @ dz).reshape(h, w, d, n), "B": dz.sum(axis=0)}

    def native_fields(self):
        return {"filters": list(self.W.shape), "stride": list(self.stride)}

    @classmethod
    def from_native(cls, f):
        filters = f.ints("filters", 4)
        return cls(f.param("W", filters), f.param("B", (filters[3],)), f.ints("stride", 2))

    def __init__(self, W, B, stride=(1, 1)):
        super().__init__()
        W = np.asarray(W)
        B = np.asarray(B).reshape(-1)
        if W.ndim != 4 or B.shape != (W.shape[3],):
            raise ShapeError(f"Convolution: filters {W.shape} and biases {B.shape} do not fit")
        self.W, self.B = W, B
        self.stride = (int(stride[0]), int(stride[1]))

    def weights(self):
        return self.W

    def variant(self, key, xp, dtype, make=None):
        # im2col form: (h·w·d) × n
        make = make or VARIANTS[key]
        n = self.W.shape[3]
        return self._cached(("w", key), xp, dtype,
                            lambda: xp.asarray(make(variant_input(self.W, dtype)).reshape(-1, n),
                                               dtype=dtype))

    def device_bias(self, xp, dtype):
        return self._cached("b", xp, dtype,
                            lambda: xp.asarray(self.B, dtype=dtype))

    def output_shape(self, in_shape):
        h, w, d, n = self.W.shape
        _check_nhwc(self, in_shape, h, w, d)
        H, W, _ = in_shape
        return ((H - h) // self.stride[0] + 1, (W - w) // self.stride[1] + 1, n)

    @property
    def kernel(self) -> tuple:
        """h × w × d × n of the filters as the model defines them (what ``describe`` shows:
        a dilated convolution's taps, not the span its zeros fill)."""
        return self.W.shape

    def describe(self):
        h, w, d, n = self.kernel
        s = self.stride
        return f"Convolution {h}×{w}×{d}×{n} stride {s[0]},{s[1]}"

    def param_count(self):
        return self.W.size + self.B.size

    def fan_in(self):
        h, w, d, _ = self.W.shape
        return h * w * d

    def colsum(self, w, xp):
        return w.sum(axis=0)

    def _direct(self, N, Ho, Wo, xp) -> bool:
        """Whether this convolution of N samples runs as the GPU's direct kernels: small ones.
        A pointwise one (1×1, stride 1) is one matrix product anyway, and beyond a million
        multiply-adds cuBLAS runs it many times faster than a thread per output summing over
        hundreds of channels (that was most of EfficientNet-Lite0's GPU time); LeNet-5's
        small 1×1 layer stays a kernel, so its pass calls no cuBLAS (CUDA graph capture)."""
        if not has_kernels(xp):  # numpy: asked ~170 times per photograph, so ask this first
            return False
        macs = N * Ho * Wo * math.prod(self.W.shape)
        if self._pointwise() and macs > POINTWISE_DIRECT_MACS:
            return False
        return direct_conv_fits(xp, macs)

    def _pointwise(self) -> bool:
        return self.W.shape[:2] == (1, 1) and self.stride == (1, 1)

    def rows_per_sample(self, in_shape):
        Ho, Wo, _ = self.output_shape(in_shape)
        return Ho * Wo if self._pointwise() or self._windowed(in_shape[2], Ho, Wo) else None

    def rows_of(self, x):
        return x.reshape(-1, x.shape[3]) if self._pointwise() and x.ndim == 4 else None

    def through_rows(self, x, R, fn):
        N, Ho, Wo, n = R.shape
        if self._pointwise():  # a row per pixel
            return fn(x.reshape(-1, x.shape[3]), R.reshape(-1, n), Ho * Wo).reshape(x.shape)
        h, ww = self.W.shape[:2]  # a row per window, added back onto the input
        parts = [compiled().add_windows(
            fn(compiled().windows(x[a:b], h, ww, *self.stride), R[a:b].reshape(-1, n), Ho * Wo),
            x.shape[1:], h, ww, *self.stride) for a, b in self._window_chunks(N, Ho, Wo)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _windowed(self, D, Ho, Wo) -> bool:
        """Whether this convolution (D input channels) runs on the CPU as window matrices
        (im2col: ``cpu_kernels.windows``) and one matrix product each way per chunk of
        samples: when one sample's matrix is large enough for compiled kernels (a
        photograph's stem, whose row layout below spent 3× longer scattering rows back than
        in its products; the ResNet's larger layers on a digit), or in a graph model
        (``small_windows``) of at least SMALL_WINDOW_MACS multiply-adds (the ResNet's other
        layers: a digit's explanation 12 % faster), and at most WINDOW_CPU_VALUES (it is h·w
        times the input). Decided per sample, so that a sample gets the same bits alone as
        in any batch. LeNet-5's layers keep the row layout, one input channel planar copies
        (faster for it)."""
        h, ww = self.W.shape[:2]
        values = Ho * Wo * h * ww * D
        large = values >= CPU_KERNEL_SIZE or (
            self.small_windows and values * self.W.shape[3] >= SMALL_WINDOW_MACS)
        return D > 1 and large and values <= WINDOW_CPU_VALUES

    def _window_chunks(self, N, Ho, Wo):
        h, ww, d, _ = self.W.shape
        return _sample_chunks(N, Ho * Wo * h * ww * d, WINDOW_CPU_VALUES)

    def _window_fmap(self, x, w, Ho, Wo, xp):
        h, ww = self.W.shape[:2]
        parts = [product(compiled().windows(x[a:b], h, ww, *self.stride), w, xp)
                 for a, b in self._window_chunks(x.shape[0], Ho, Wo)]
        z = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return z.reshape(x.shape[0], Ho, Wo, w.shape[1])

    def _window_tmap(self, c, w, in_shape, times=None):
        """The transposed map by window rows, times ``times`` (input-side) when given."""
        N, Ho, Wo, n = c.shape
        h, ww = self.W.shape[:2]
        parts = [compiled().add_windows(product(c[a:b].reshape(-1, n), w.T, np), in_shape, h,
                                        ww, *self.stride,
                                        times=None if times is None else times[a:b])
                 for a, b in self._window_chunks(N, Ho, Wo)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def input_share(self, c, w, x, xp):
        N, Ho, Wo, _ = c.shape
        if xp is np and x.shape[:1] == (N,) and x.dtype == c.dtype \
                and not self._pointwise() and self._windowed(x.shape[3], Ho, Wo):
            return self._window_tmap(c, w, x.shape[1:], times=x)
        return super().input_share(c, w, x, xp)

    def forward(self, x, xp):
        if has_kernels(xp):  # a GPU's small convolution: the bias in the same launch
            h, ww, d, n = self.W.shape
            Ho, Wo, _ = self.output_shape(x.shape[1:])
            if self._direct(x.shape[0], Ho, Wo, xp):
                return conv_direct(x, self.variant("w", xp, x.dtype), h, ww, *self.stride, xp,
                                   bias=self.device_bias(xp, x.dtype))
        return super().forward(x, xp)

    def fmap(self, x, w, xp):
        h, ww, d, n = self.W.shape
        N = x.shape[0]
        Ho, Wo, _ = self.output_shape(x.shape[1:])
        if self._direct(N, Ho, Wo, xp):
            return conv_direct(x, w, h, ww, *self.stride, xp)
        if self._pointwise():
            return product(x.reshape(-1, d), w, xp).reshape(N, Ho, Wo, n)
        if few_launches(xp):
            return _window_conv(x, w, h, ww, *self.stride, xp)
        if self._windowed(d, Ho, Wo):
            return self._window_fmap(x, w, Ho, Wo, xp)
        if d > 1:
            return _row_conv(x, w.reshape(h, ww * d, n), h, ww, *self.stride, xp)
        cols = _planar_windows(x, h, ww, *self.stride, xp)  # (h·w·d) × (N·Ho·Wo)
        return (cols.T @ w).reshape(N, Ho, Wo, n)  # BLAS reads the transposed view directly

    def tmap(self, c, w, in_shape, xp):
        h, ww, d, n = self.W.shape
        N, Ho, Wo, _ = c.shape
        if self._direct(N, Ho, Wo, xp):
            return conv_transpose_direct(c, w, in_shape, h, ww, *self.stride, xp)
        if self._pointwise():
            return product(c.reshape(-1, n), w.T, xp).reshape((N,) + tuple(in_shape))
        if few_launches(xp):
            return _window_conv_transpose(c, w, in_shape, h, ww, *self.stride, xp)
        if self._windowed(d, Ho, Wo):
            return self._window_tmap(c, w, in_shape)
        if d > 1:
            return _row_conv_transpose(c, w.reshape(h, ww * d, n), in_shape, h, ww, *self.stride,
                                       xp)
        g = w @ c.reshape(-1, n).T  # (h·w·d) × (N·Ho·Wo), rows contiguous
        return _planar_scatter(g.reshape(h, ww, d, N, Ho, Wo), in_shape, *self.stride, xp)


POINTWISE_DIRECT_MACS = 1 << 20
WINDOW_CPU_VALUES = 2**19  # 2 MB of float32, 4 of float64
SMALL_WINDOW_MACS = 1 << 16


def few_launches(xp) -> bool:
    """Whether array operations are kernel launches (a GPU): each costs microseconds however
    small, so one large copy beats many small ones. numpy pays for memory traffic instead."""
    return xp is not np


# On a GPU a convolution is one window copy and one matrix product each way; the memory the
# window matrix takes is bounded by cutting the batch (WINDOW_BYTES).
WINDOW_BYTES = 512 * 2**20


def _window_conv(x, w, h, ww, s0, s1, xp):
    """Textbook im2col: the (N·Ho·Wo) × (h·w·d) window matrix times the filters."""
    N, H, W, _ = x.shape
    Ho, Wo = (H - h) // s0 + 1, (W - ww) // s1 + 1
    parts = []
    for a, b in _sample_chunks(N, Ho * Wo * w.size * x.itemsize // w.shape[1]):
        win = _windows(x[a:b], h, ww, s0, s1, xp)  # (b − a) × Ho × Wo × h × w × d
        parts.append((xp.ascontiguousarray(win).reshape(-1, w.shape[0]) @ w)
                     .reshape(b - a, Ho, Wo, w.shape[1]))
    return parts[0] if len(parts) == 1 else xp.concatenate(parts)


def _window_conv_transpose(c, w, in_shape, h, ww, s0, s1, xp):
    """Transpose of ``_window_conv`` as a correlation: spread c by the stride, pad it by the
    kernel size − 1, and correlate with the flipped filters, channels swapped."""
    N, Ho, Wo, n = c.shape
    H, W, D = in_shape
    flipped = w.reshape(h, ww, D, n)[::-1, ::-1].transpose(0, 1, 3, 2).reshape(h * ww * n, D)
    parts = []
    for a, b in _sample_chunks(N, H * W * h * ww * n * c.itemsize):
        spread = xp.zeros((b - a, H + h - 1, W + ww - 1, n), dtype=c.dtype)
        spread[:, h - 1:h - 1 + s0 * (Ho - 1) + 1:s0, ww - 1:ww - 1 + s1 * (Wo - 1) + 1:s1] = \
            c[a:b]
        win = _windows(spread, h, ww, 1, 1, xp)  # (b − a) × H × W × h × w × n
        parts.append((xp.ascontiguousarray(win).reshape(-1, h * ww * n) @ flipped)
                     .reshape(b - a, H, W, D))
    return parts[0] if len(parts) == 1 else xp.concatenate(parts)


def _sample_chunks(n, per_sample, limit=None):
    """(start, stop) slices of a batch whose window matrices stay within ``limit`` (default
    WINDOW_BYTES) at ``per_sample`` each."""
    step = max(1, (WINDOW_BYTES if limit is None else limit) // max(1, per_sample))
    return [(a, min(n, a + step)) for a in range(0, n, step)]


# Two im2col layouts serve convolutions on the CPU. With one input channel (a digit's first
# layer) whole shifted planes are copied ("planar"). With several channels, only the w windows
# along each row are unrolled ("row": w× the input instead of h·w×) and the h kernel rows become
# h matrix products on contiguous slices; both were measured faster than the textbook
# N×Ho×Wo×(h·w·d) matrix, whose size makes these small layers memory-bound on the CPU.


def _row_conv(x, w_rows, h, w, s0, s1, xp):
    """Convolution with filter rows ``w_rows`` (h × (w·d) × n): Σ_a rows(a) @ w_rows[a]."""
    N, H, W, D = x.shape
    Ho, Wo = (H - h) // s0 + 1, (W - w) // s1 + 1
    n = w_rows.shape[2]
    xt = xp.ascontiguousarray(x.transpose(1, 0, 2, 3))  # H × N × W × D
    sH, sN, sW, sD = xt.strides
    rows = strided_view(xt, (H, N, Wo, w, D), (sH, sN, s1 * sW, sW, sD), xp
                        ).reshape(H, N * Wo, w * D)
    def row(a):
        return rows[a:a + s0 * (Ho - 1) + 1:s0].reshape(-1, w * D)

    z = product(row(0), w_rows[0], xp)
    for a in range(1, h):
        z += product(row(a), w_rows[a], xp)
    return xp.ascontiguousarray(z.reshape(Ho, N, Wo, n).transpose(1, 0, 2, 3))


def _row_conv_transpose(c, w_rows, in_shape, h, w, s0, s1, xp):
    """Transpose of ``_row_conv``: the input gradient for output gradient ``c``."""
    N, Ho, Wo, n = c.shape
    H, W, D = in_shape
    ct = xp.ascontiguousarray(c.transpose(1, 0, 2, 3)).reshape(-1, n)  # (Ho·N·Wo) × n
    g = xp.zeros((H, N * Wo, w * D), dtype=c.dtype)
    for a in range(h):
        g[a:a + s0 * (Ho - 1) + 1:s0] += product(ct, w_rows[a].T, xp).reshape(Ho, N * Wo, w * D)
    out = _scatter_row_windows(g.reshape(H, N, Wo, w * D), W, D, s1, xp)
    return xp.ascontiguousarray(out.transpose(1, 0, 2, 3))


_OP_SECONDS, _RUN_SECONDS = 2e-6, 7e-9  # numpy's strided add: per call, per contiguous run


def _scatter_by_window(rows, Wo, w) -> bool:
    """Whether adding ``Wo`` windows (one run each per row) is cheaper than adding ``w``
    kernel columns (``Wo`` runs each per row), for ``rows`` image rows."""
    runs = rows * Wo * w
    return Wo * _OP_SECONDS + runs / w * _RUN_SECONDS <= w * _OP_SECONDS + runs * _RUN_SECONDS


def _scatter_row_windows(g, W, D, s1, xp, by_window=None):
    """Add every row window g (H, N, Wo, w·D) back onto its input row: an H × N × W × D array.

    Window j covers the input columns j·s1 … j·s1 + w − 1, i.e. the w·D contiguous values
    from j·s1·D. Adding window by window moves runs of w·D values; adding kernel column by
    kernel column moves runs of D. numpy's cost per operation and per run (measured here)
    picks the order unless ``by_window`` does. (A GPU takes ``_window_conv_transpose``.)
    """
    H, N, Wo, wD = g.shape
    w = wD // D
    out = xp.zeros((H, N, W * D), dtype=g.dtype)
    if by_window is None:
        by_window = _scatter_by_window(H * N, Wo, w)
    if by_window:
        for j in range(Wo):
            out[:, :, j * s1 * D:j * s1 * D + wD] += g[:, :, j, :]
    else:
        g = g.reshape(H, N, Wo, w, D)
        out = out.reshape(H, N, W, D)
        for b in range(w):
            out[:, :, b:b + s1 * (Wo - 1) + 1:s1, :] += g[:, :, :, b, :]
    return out.reshape(H, N, W, D)


def _planar_windows(x, h, w, s0, s1, xp):
    """im2col in planar layout: row (a, b, c) holds x[:, a + s0·i, b + s1·j, c] for all n, i, j.

    Whole shifted planes, copied in one strided copy, keep memory access contiguous, which is
    several times faster than gathering window after window when channels are few (a digit's
    first layer has one).
    """
    N, H, W, D = x.shape
    Ho, Wo = (H - h) // s0 + 1, (W - w) // s1 + 1
    planes = xp.ascontiguousarray(x.transpose(3, 0, 1, 2))  # D × N × H × W
    sD, sN, sH, sW = planes.strides
    cols = strided_view(planes, (h, w, D, N, Ho, Wo), (sH, sW, sD, sN, s0 * sH, s1 * sW), xp)
    return xp.ascontiguousarray(cols).reshape(h * w * D, N * Ho * Wo)


def _planar_scatter(g, in_shape, s0, s1, xp):
    """Transpose of ``_planar_windows``: g (h, w, D, N, Ho, Wo) added back into N × H × W × D.

    Separably: the w kernel columns onto each input row for all h kernel rows at once, then
    the h rows onto the image: h + w additions instead of h·w (a digit's first layer: 10
    instead of 25, each of which costs numpy microseconds)."""
    h, w, D, N, Ho, Wo = g.shape
    H, W, _ = in_shape
    rows = xp.zeros((h, D, N, Ho, W), dtype=g.dtype)
    for b in range(w):
        rows[..., b:b + s1 * (Wo - 1) + 1:s1] += g[:, b]
    out = xp.zeros((D, N, H, W), dtype=g.dtype)
    for a in range(h):
        out[:, :, a:a + s0 * (Ho - 1) + 1:s0] += rows[a]
    return xp.ascontiguousarray(out.transpose(1, 2, 3, 0))


def four_pads(kind, pads) -> tuple:
    """(top, bottom, left, right) of a padding layer ``kind``, checked."""
    pads = tuple(int(p) for p in pads)
    if len(pads) != 4 or any(p < 0 for p in pads):
        raise ShapeError(f"{kind}: pads must be four whole numbers ≥ 0, got {pads}")
    return pads


def padded_shape(layer, in_shape) -> tuple:
    """The H×W×D shape a padding ``layer`` (``pads``: top, bottom, left, right) makes."""
    if len(in_shape) != 3:
        raise ShapeError(f"{layer.describe()} needs H×W×D inputs, gets shape {tuple(in_shape)}")
    t, b, left, r = layer.pads
    H, W, D = in_shape
    return (H + t + b, W + left + r, D)


@register_layer
class Pad(Layer):
    """Constant padding of an NHWC image (the padding of a convolution, as a layer of its own).

    Relevance (and gradient) of the padded border is dropped on the way back: the border is a
    constant, not part of the input. ``pads`` are (top, bottom, left, right).
    """

    kind = "Pad"
    rematerialize = True  # cheaper to rerun in the backward pass than to keep
    role = "reshape"
    onnx_ops = ("Pad",)  # and the pads of Conv, MaxPool and AveragePool
    chain_input = chain_output = "image"

    def added_pixels(self):
        top, bottom, left, right = (int(p) for p in self.pads)
        return top + bottom, left + right

    def gradient(self, x, y, g, xp, dtype):
        return self.crop(g)

    def native_fields(self):
        return {"pads": list(self.pads), "value": self.value}

    @classmethod
    def from_native(cls, f):
        return f.pad_layer()

    def __init__(self, pads=(1, 1, 1, 1), value=0.0):
        super().__init__()
        value = float(value)
        if not math.isfinite(value):
            raise ShapeError(f"Pad: the padding value must be finite, got {value}")
        self.pads, self.value = four_pads("Pad", pads), value

    def output_shape(self, in_shape):
        return padded_shape(self, in_shape)

    def describe(self):
        t, b, left, r = self.pads
        return f"Pad {t},{b},{left},{r} with {self.value:g}"

    def absorbs(self, before) -> bool:
        return getattr(before, "clamp", None) is not None

    def forward(self, x, xp, clamped_by=None):
        """``x`` padded; with ``clamped_by`` (a layer with a ``clamp``), ``x`` clamped by it
        first: in the same pass on the CPU's compiled kernels, else by its own forward."""
        if cpu_kernels_fit(xp, x):
            low, high = (None, None) if clamped_by is None else clamped_by.clamp
            return compiled().pad(x, self.pads, self.value, low, high)
        if clamped_by is not None:
            x = clamped_by.forward(x, xp)
        t, b, left, r = self.pads
        N, H, W, D = x.shape
        out = xp.full((N, H + t + b, W + left + r, D), self.value, dtype=x.dtype)
        out[:, t:t + H, left:left + W, :] = x
        return out

    def inside(self, in_shape, xp, dtype):
        """1 over the input, 0 over the border: a (1, H', W', D) mask of this layer's output.

        Rules that replace inputs by ones (flat, w²) or by bounds (zB) use it so that the
        border, a constant, takes no share: as in a convolution with its own zero padding.
        """
        t, b, left, r = self.pads
        H, W, D = in_shape
        mask = xp.zeros((1, H + t + b, W + left + r, D), dtype=dtype)
        mask[:, t:t + H, left:left + W, :] = 1
        return mask

    def embed(self, mask, xp):
        """``mask`` (over this layer's input) as it lies in the output: 0 on the border."""
        t, _, left, _ = self.pads
        out = self.inside(tuple(mask.shape[1:]), xp, mask.dtype)
        out[:, t:t + mask.shape[1], left:left + mask.shape[2], :] = mask
        return out

    def relevance_back(self, R, x, xp):
        return self.crop(R)  # the constant border holds no input

    def crop(self, R):
        """The part of R (shaped like this layer's output) that lies over the input."""
        t, b, left, r = self.pads
        H, W = R.shape[1] - t - b, R.shape[2] - left - r
        return R[:, t:t + H, left:left + W, :].copy()


class _Pool(Layer):
    chain_input = chain_output = "image"

    def native_fields(self):
        return {"pool": list(self.pool), "stride": list(self.stride)}

    @classmethod
    def from_native(cls, f):
        return cls(f.ints("pool", 2), f.ints("stride", 2))

    def __init__(self, pool=(2, 2), stride=(2, 2)):
        super().__init__()
        self.pool = (int(pool[0]), int(pool[1]))
        self.stride = (int(stride[0]), int(stride[1]))

    def output_shape(self, in_shape):
        h, w = self.pool
        _check_nhwc(self, in_shape, h, w)
        H, W, D = in_shape
        return ((H - h) // self.stride[0] + 1, (W - w) // self.stride[1] + 1, D)

    def describe(self):
        return f"{self.kind} {self.pool[0]}×{self.pool[1]} stride {self.stride[0]},{self.stride[1]}"

    def slices(self, in_shape):
        """Index of position (a, b) of every window, one strided slice per position.

        Working slice by slice keeps every operation a plain strided array op: several times
        faster than reducing a 6-D window view.
        """
        h, w = self.pool
        s0, s1 = self.stride
        Ho, Wo, _ = self.output_shape(in_shape)
        return [(slice(None), slice(a, a + s0 * (Ho - 1) + 1, s0),
                 slice(b, b + s1 * (Wo - 1) + 1, s1)) for a in range(h) for b in range(w)]

    def tiles(self, x, xp):
        """On a GPU, for windows that do not overlap (stride = pool): the windowed part of x as
        (N, Ho, h, Wo, w, D), a window's positions on axes 2 and 4, so that one reduction or
        one broadcast serves all positions; else None (the CPU works slice by slice)."""
        if not few_launches(xp) or self.stride != self.pool:
            return None
        (h, w), (N, H, W, D) = self.pool, x.shape
        Ho, Wo = H // h, W // w
        return x[:, :Ho * h, :Wo * w].reshape(N, Ho, h, Wo, w, D)

    def untile(self, t, in_shape, xp):
        """Values over the windowed part (N, Ho·h, Wo·w, D) in the layout of the whole input
        (zeros where the input does not divide by the pool)."""
        N, Hw, Ww, _ = t.shape
        if (Hw, Ww) == tuple(in_shape[:2]):
            return t
        out = xp.zeros((N,) + tuple(in_shape), dtype=t.dtype)
        out[:, :Hw, :Ww] = t
        return out

    def reduce_windows(self, x, xp, how):
        """Each window (N, Ho, Wo, D) reduced by ``how`` ("sum" or "max"): one reduction of the
        tiles on a GPU, else position by position, in the toolbox's order (row by row)."""
        t = self.tiles(x, xp)
        if t is not None:
            return getattr(t, how)(axis=(2, 4))
        combine = xp.add if how == "sum" else xp.maximum
        first, *rest = self.slices(x.shape[1:])
        out = x[first].copy()
        for index in rest:
            combine(out, x[index], out=out)
        return out

    def window_sum(self, x, xp):
        """Σ over each window (N, Ho, Wo, D)."""
        return self.reduce_windows(x, xp, "sum")

    def spread(self, c, in_shape, xp):
        """Send every window's value c (N, Ho, Wo, D) to each of its positions, summed."""
        overlapping = self.stride[0] < self.pool[0] or self.stride[1] < self.pool[1]
        Ho, Wo, _ = c.shape[1:]
        tiled = (not overlapping and self.stride == self.pool
                 and (Ho * self.pool[0], Wo * self.pool[1]) == tuple(in_shape[:2]))
        if tiled:  # every input position lies in exactly one window
            return self._tile(c, xp)
        if few_launches(xp) and self.stride == self.pool:
            return self.untile(self._tile(c, xp), in_shape, xp)
        out = xp.zeros((c.shape[0],) + tuple(in_shape), dtype=c.dtype)
        for index in self.slices(in_shape):
            if overlapping:
                out[index] += c
            else:
                out[index] = c
        return out

    def _tile(self, c, xp):
        """Each window's value copied to all its positions, for windows that tile the input.

        The first row of every window is filled by one broadcast copy, the other rows copy
        it whole: long contiguous runs instead of one short run per position.
        """
        N, Ho, Wo, D = c.shape
        h, w = self.pool
        out = xp.empty((N, Ho, h, Wo, w, D), dtype=c.dtype)
        out[:, :, 0] = c[:, :, :, None, :]
        for a in range(1, h):
            out[:, :, a] = out[:, :, 0]
        return out.reshape(N, Ho * h, Wo * w, D)


@register_layer
class SumPool(_Pool, LinearMap):
    """Sum pooling scaled by 1/sqrt(h·w), as in the toolbox.

    For LRP it is a linear map whose weights are all 1 (the raw window sum): the toolbox divides
    the output by the normaliser before applying its rules, so the normaliser cancels.
    The weight "tensor" is therefore the scalar 1, and weight variants are scalars too.
    """

    kind = "SumPool"
    simple_stabilizer = 1e-12
    beta_only_stabilizer = -1e-16
    has_negative_weights = False

    def __init__(self, pool=(2, 2), stride=(2, 2)):
        _Pool.__init__(self, pool, stride)

    @property
    def norm(self):
        return 1.0 / math.sqrt(self.pool[0] * self.pool[1])

    def weights(self):
        return np.float64(1.0)

    def variant(self, key, xp, dtype, make=None):
        make = make or VARIANTS[key]
        return float(make(np.float64(1.0)))

    def forward(self, x, xp):
        out = self.window_sum(x, xp)
        out *= self.norm
        return out

    @property
    def lrp_divisor(self):
        return self.norm

    def fan_in(self):
        return self.pool[0] * self.pool[1]

    def colsum(self, w, xp):
        return w * self.fan_in()

    def fmap(self, x, w, xp):
        if w == 0:
            N, (Ho, Wo, D) = x.shape[0], self.output_shape(x.shape[1:])
            return xp.zeros((N, Ho, Wo, D), dtype=x.dtype)
        s = self.window_sum(x, xp)
        return s if w == 1 else s * w

    def tmap(self, c, w, in_shape, xp):
        if w == 0:
            return xp.zeros((c.shape[0],) + tuple(in_shape), dtype=c.dtype)
        out = self.spread(c, in_shape, xp)
        return out if w == 1 else out * w

    def input_share(self, c, w, x, xp):
        t = self.tiles(x, xp)
        if t is None or t.size != x.size:  # the CPU, or windows that leave inputs over
            return super().input_share(c, w, x, xp)
        # on a GPU one broadcast product, instead of spreading c and multiplying
        share = t * c[:, :, None, :, None, :]
        if w != 1:
            share *= w
        return share.reshape(x.shape)


@register_layer
class MaxPool(_Pool):
    """Max pooling; LRP sends relevance to the window's maximum, splitting ties equally."""

    kind = "MaxPool"
    role = "maxpool"
    onnx_ops = ("MaxPool", "GlobalMaxPool", "ReduceMax")
    # how a window's relevance goes to equal maxima: "split" equally (the toolbox), or all to
    # the "first" in row-major order, as PyTorch's max_pool2d gradient and so zennit do (the
    # ONNX importer's pools: an MNIST digit's black background ties whole windows)
    TIES = ("split", "first")
    ties = "split"

    def native_fields(self):
        fields = super().native_fields()
        if self.ties != "split":
            fields["ties"] = self.ties
        return fields

    @classmethod
    def from_native(cls, f):
        return cls(f.ints("pool", 2), f.ints("stride", 2)).with_ties(f)

    def with_ties(self, f):
        """This pool with the native field ``ties`` (absent: split)."""
        ties = f.spec.get("ties", "split")
        if ties not in self.TIES:
            f.fail(f"'ties' must be one of {', '.join(self.TIES)}")
        self.ties = ties
        return self

    def gradient(self, x, y, g, xp, dtype):
        return self.winner_relevance(x, y, g, xp)

    def forward(self, x, xp):
        return self.reduce_windows(x, xp, "max")

    def winner_relevance(self, x, y, R, xp):
        in_shape = x.shape[1:]
        if self.ties == "first":
            out = xp.zeros(x.shape, dtype=R.dtype)
            taken = xp.zeros(y.shape, dtype=bool)
            for index in self.slices(in_shape):  # row-major over each window
                hit = (x[index] == y) & ~taken
                out[index] += hit * R
                taken |= hit
            return out
        t = self.tiles(x, xp)
        if t is not None:
            mask = t == y[:, :, None, :, None, :]
            share = R / mask.sum(axis=(2, 4), dtype=R.dtype)  # ≥ 1 winner per window
            spread = mask * share[:, :, None, :, None, :]
            N, Ho, h, Wo, w, D = spread.shape
            return self.untile(spread.reshape(N, Ho * h, Wo * w, D), in_shape, xp)
        masks = [x[index] == y for index in self.slices(in_shape)]
        count = xp.zeros(y.shape, dtype=R.dtype)
        for mask in masks:
            count += mask
        share = R / count  # every window has at least one winner: its maximum
        out = xp.zeros(x.shape, dtype=R.dtype)
        for index, mask in zip(self.slices(in_shape), masks, strict=True):
            out[index] += mask * share
        return out

    def uniform_relevance(self, x, R, xp, inside=None):
        """R shared equally by the positions of each window; with ``inside`` (a mask of the
        real inputs when this pool follows a Pad) by its real positions only, as the flat
        rule does for a padded convolution."""
        if inside is None:
            return self.spread(R / (self.pool[0] * self.pool[1]), x.shape[1:], xp)
        count = self.window_sum(inside, xp)
        out = self.spread(R / xp.where(count > 0, count, 1), x.shape[1:], xp)
        out *= inside
        return out


def mark_functional(layer) -> bool:
    """Mark ``layer`` as a functional call of a PyTorch model's ``forward`` (``F.relu``,
    ``torch.sigmoid``, ``F.adaptive_avg_pool2d``, ``x.mean([2, 3])``), where zennit hooks no
    module and its autograd takes the gradient: an activation's role becomes ``gradient``
    (relevance times f′(x)), an average pool's default rule the gradient (an equal share per
    window entry) instead of zennit's Norm for pooling modules. Other layers are left as they
    are (False)."""
    if getattr(layer, "norm_role", False):
        layer.functional = True
        return True
    if layer.role == "pass" and not getattr(layer, "output_activation", False):
        layer.functional = True
        layer.role = "gradient"
        return True
    return False


PASS_THROUGH = (Rect, Tanh, SoftMax, Flatten)
