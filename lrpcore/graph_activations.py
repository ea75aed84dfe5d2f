"""Element-wise activations of ONNX exports beyond ReLU, Tanh, Clip and LeakyReLU.

zennit's composites pass relevance through every activation module (its ``Activation`` type:
ELU, SELU, Sigmoid, SiLU, Hardsigmoid, Hardswish, PReLU, ...), so each kind here
has the role ``pass``; the class gives the forward pass and the gradient (baselines, training).
``pass_through`` (a Pad's border stays zero through it) is set only where f(0) = 0.
"""

from __future__ import annotations

import numpy as np

from .errors import ShapeError
from .layers import Activation, Layer, register_layer

SELU_ALPHA = 1.67326319217681884765625  # ONNX's defaults, as PyTorch's SELU
SELU_GAMMA = 1.05070102214813232421875


def _sigmoid(x, xp):
    """1/(1 + e^−x) from e^−|x|, which never overflows: the plain formula printed numpy's
    overflow warning (its source line included) on the terminal for inputs below −89 in
    float32, −710 in float64."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1, e) / (1 + e)


@register_layer
class Sigmoid(Activation):
    kind = "Sigmoid"
    onnx_ops = ("Sigmoid",)
    pass_through = False  # sigmoid(0) = 1/2: a zero border does not stay zero

    def forward(self, x, xp):
        return _sigmoid(x, xp)

    def gradient(self, x, y, g, xp, dtype):
        return g * y * (1 - y)


@register_layer
class Silu(Activation):
    """x · sigmoid(x) (SiLU, Swish): exported as a Sigmoid and a Mul of the same tensor, which
    the importer reads as this one activation (zennit passes relevance through ``nn.SiLU``)."""

    kind = "Silu"
    onnx_ops = ("Mul",)  # of a tensor and its own Sigmoid

    def forward(self, x, xp):
        return x * _sigmoid(x, xp)

    def gradient(self, x, y, g, xp, dtype):
        s = _sigmoid(x, xp)
        return g * (s + x * s * (1 - s))


@register_layer
class Elu(Activation):
    """x for x > 0, α(eˣ − 1) otherwise; SELU scales it by γ (``scale``)."""

    kind = "Elu"
    onnx_ops = ("Elu", "Selu")

    def __init__(self, alpha=1.0, scale=1.0):
        super().__init__()
        self.alpha, self.scale = float(alpha), float(scale)

    def native_fields(self):
        return {"alpha": self.alpha, "scale": self.scale}

    @classmethod
    def from_native(cls, f):
        return cls(f.number("alpha", 1.0), f.number("scale", 1.0))

    def forward(self, x, xp):
        return self.scale * xp.where(x > 0, x, self.alpha * xp.expm1(xp.minimum(x, 0)))

    def gradient(self, x, y, g, xp, dtype):
        return g * self.scale * xp.where(x > 0, 1, self.alpha * xp.exp(xp.minimum(x, 0)))

    def describe(self):
        return f"Elu α {self.alpha:g}" + (f" scale {self.scale:g}" if self.scale != 1 else "")


@register_layer
class HardSigmoid(Activation):
    """max(0, min(1, αx + β)); ``swish`` multiplies it by x (HardSwish: α = 1/6, β = 1/2)."""

    kind = "HardSigmoid"
    onnx_ops = ("HardSigmoid", "HardSwish", "Clip")  # Clip: Keras's ReLU6(x + 3) / 6

    def __init__(self, alpha=0.2, beta=0.5, swish=False):
        super().__init__()
        self.alpha, self.beta, self.swish = float(alpha), float(beta), bool(swish)
        self.pass_through = self.swish  # hardsigmoid(0) = β, hardswish(0) = 0

    def native_fields(self):
        return {"alpha": self.alpha, "beta": self.beta, "swish": int(self.swish)}

    @classmethod
    def from_native(cls, f):
        return cls(f.number("alpha"), f.number("beta"), f.flag("swish"))  # all written

    def forward(self, x, xp):
        with np.errstate(over="ignore"):  # αx = ±inf clips to 0 or 1, as it should
            h = xp.clip(self.alpha * x + self.beta, 0, 1)
        return x * h if self.swish else h

    def gradient(self, x, y, g, xp, dtype):
        with np.errstate(over="ignore"):  # an overflowed αx lies outside (0, 1)
            t = self.alpha * x + self.beta
            inside = (t > 0) & (t < 1)
            if not self.swish:
                return g * self.alpha * inside
            return g * (xp.clip(t, 0, 1) + xp.where(inside, x * self.alpha, 0))

    def describe(self):
        return ("HardSwish" if self.swish else "HardSigmoid") + \
            f" α {self.alpha:g} β {self.beta:g}"


@register_layer
class PRelu(Activation):
    """max(x, 0) + slope·min(x, 0) with one learnt slope, or one per channel (the last axis)."""

    kind = "PRelu"
    onnx_ops = ("PRelu",)

    def __init__(self, slope):
        super().__init__()
        self.slope = np.asarray(slope, dtype=np.float64).reshape(-1)
        if self.slope.size == 0:
            raise ShapeError("PRelu needs at least one slope")

    def native_fields(self):
        return {"channels": int(self.slope.size)}

    def native_params(self):
        return self.slope, np.zeros(0)

    @classmethod
    def from_native(cls, f):
        channels = f.size("channels")
        if channels is None:
            f.fail("PRelu needs a positive 'channels'")
        return cls(f.param("W", (channels,)))

    def output_shape(self, in_shape):
        if self.slope.size != 1 and (not in_shape or in_shape[-1] != self.slope.size):
            raise ShapeError(f"{self.describe()} gets input of shape {tuple(in_shape)}")
        return tuple(in_shape)

    def _slope(self, xp, dtype):
        return self._cached("s", xp, dtype,
                            lambda: xp.asarray(self.slope, dtype=dtype))

    def forward(self, x, xp):
        return xp.where(x >= 0, x, self._slope(xp, x.dtype) * x)

    def gradient(self, x, y, g, xp, dtype):
        return xp.where(x >= 0, g, self._slope(xp, g.dtype) * g)

    def param_count(self):
        return self.slope.size

    def describe(self):
        return f"PRelu ({self.slope.size} slope{'s' if self.slope.size > 1 else ''})"


def _flat_features(layer, in_shape) -> tuple:
    """The shape a (log) softmax over the last axis keeps: a flat tensor's features, or a
    map's channels (H×W×K, channels last: a segmentation network's softmax per pixel);
    other tensors are refused."""
    if len(in_shape) not in (1, 3):
        raise ShapeError(f"{layer.kind} over a tensor of shape {tuple(in_shape)}: only over "
                         "the features of a flat tensor or the channels of a map")
    return tuple(in_shape)


@register_layer
class Softmax(Layer):
    """softmax over a flat tensor's features, as an ONNX export's output (``nn.Softmax``,
    ``F.softmax``, Keras's ``activation="softmax"``). It is kept: the model's outputs are its
    probabilities, the predicted class's probability is explained, and relevance goes back as
    its gradient does, R_j = p_j (R_j − Σ_i R_i p_i), what zennit's autograd computes (zennit
    has no rule for ``nn.Softmax``). Toolbox chains keep the toolbox's SoftMax, dropped before
    explaining."""

    kind = "Softmax"
    role = "gradient"
    onnx_ops = ("Softmax",)

    def output_shape(self, in_shape):
        return _flat_features(self, in_shape)

    def forward(self, x, xp):
        e = xp.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def gradient(self, x, y, g, xp, dtype):
        return y * (g - (g * y).sum(axis=-1, keepdims=True))


@register_layer
class LogSoftmax(Layer):
    """log softmax over a flat tensor's features (PyTorch's ``F.log_softmax`` at the end of a
    classifier, e.g. its MNIST example). zennit has no rule for it: relevance goes back as its
    gradient does, R_j = Σ_i R_i (δ_ij − softmax(x)_j), what zennit's autograd computes."""

    kind = "LogSoftmax"
    role = "gradient"
    onnx_ops = ("LogSoftmax",)

    def output_shape(self, in_shape):
        return _flat_features(self, in_shape)

    def forward(self, x, xp):
        shifted = x - x.max(axis=-1, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))

    def gradient(self, x, y, g, xp, dtype):
        return g - xp.exp(y) * g.sum(axis=-1, keepdims=True)
