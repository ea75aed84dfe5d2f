"""ConvNeXt's building blocks that are not convolutions: layer normalisation over the channels
of each position (ONNX ``LayerNormalization`` over the last axis: ``LayerNorm2d``) and a dense
layer applied at every position of a channels-last map (``nn.Linear`` after a permute); and
group and instance normalisation (``nn.GroupNorm``, ``nn.InstanceNorm2d``).

A normalisation divides by the sample's own statistics, a quotient of two signals, for which
LRP has no rule; zennit's composites hook no module there and its autograd takes the
gradient, so relevance passes through it as the gradient of the normalisation does. The
engine does the same (role "gradient"), which is what makes such a model agree with zennit;
like zennit's, the result need not conserve relevance there (the diagnosis says so).
"""

from __future__ import annotations

import numpy as np

from .errors import ShapeError
from .layers import Convolution, Layer, register_layer


@register_layer
class PositionwiseDense(Convolution):
    """``nn.Linear`` applied to the channels at every position of an N×H×W×C map (ConvNeXt's
    pointwise layers, exported as a MatMul after a Transpose): computed as the 1×1
    convolution it is, but a dense layer to the rules, as zennit's composites see the
    ``nn.Linear`` module (EpsilonPlus: ε there, not z⁺)."""

    kind = "PositionwiseDense"
    convolution = False
    dense = True
    onnx_ops = ("MatMul",)  # of an N×H×W×C map

    def __init__(self, W, B):
        W = np.asarray(W)
        if W.ndim != 2:
            raise ShapeError(f"PositionwiseDense: weights of shape {W.shape} are not C × D")
        super().__init__(W.reshape(1, 1, *W.shape), B)

    def native_fields(self):
        return {"weights": list(self.W.shape[2:])}

    @classmethod
    def from_native(cls, f):
        shape = f.ints("weights", 2)
        return cls(f.param("W", (1, 1, *shape)).reshape(shape), f.param("B", (shape[1],)))

    def describe(self):
        return f"Dense {self.W.shape[2]}→{self.W.shape[3]} at every position"


@register_layer
class ChannelNorm(Layer):
    """y = (x − mean) / sqrt(var + eps) · scale + shift, the statistics over the last axis
    (the channels, as the engine stores maps)."""

    kind = "ChannelNorm"
    role = "gradient"
    normalises = True  # the diagnosis says why it does not conserve (cause "normalisation")
    # over the last axis; Keras's LayerNormalization as tf2onnx's arithmetic (onnx_keras_norms)
    onnx_ops = ("LayerNormalization", "ReduceMean")

    def __init__(self, scale, shift, eps=1e-5):
        super().__init__()
        self.scale = np.asarray(scale, dtype=np.float64).reshape(-1)
        self.shift = np.asarray(shift, dtype=np.float64).reshape(-1)
        self.eps = float(eps)
        if self.scale.shape != self.shift.shape or not self.scale.size:
            raise ShapeError(f"ChannelNorm: scale {self.scale.shape} and shift "
                             f"{self.shift.shape} must be one value per channel each")
        if not (np.isfinite(self.eps) and self.eps > 0) or not (
                np.all(np.isfinite(self.scale)) and np.all(np.isfinite(self.shift))):
            raise ShapeError("ChannelNorm: eps must be positive and the parameters finite")

    def native_fields(self):
        return {"channels": int(self.scale.size), "eps": self.eps}

    def native_params(self):
        return self.scale, self.shift

    @classmethod
    def from_native(cls, f):
        n = f.size("channels")
        if n is None:
            f.fail("ChannelNorm needs 'channels' and a number 'eps'")
        # f.number: a finite float (float() of a 400-digit integer raised OverflowError)
        return cls(f.param("W", (n,)), f.param("B", (n,)), f.number("eps"))

    def param_count(self):
        return 2 * self.scale.size

    def output_shape(self, in_shape):
        if not in_shape or in_shape[-1] != self.scale.size:
            raise ShapeError(f"{self.describe()} gets input of shape {tuple(in_shape)}")
        return tuple(in_shape)

    def describe(self):
        return f"ChannelNorm over {self.scale.size} channels"

    def statistics(self) -> tuple[str, str]:
        """What it is called, and over what its statistics run (the diagnosis says both)."""
        return "a LayerNorm", "the channels of each position"

    def _params(self, xp, dtype):
        return self._cached("params", xp, dtype, lambda: (
            xp.asarray(self.scale, dtype=dtype), xp.asarray(self.shift, dtype=dtype)))

    def _eps_in(self, dtype):
        """eps as ``dtype`` holds it, never rounded to 0: an eps below float32's range (a
        float64 model's 1e-50) would leave 1/σ infinite on a constant set of values."""
        return max(self.eps, float(np.finfo(dtype).tiny))

    def _grouped(self, x):
        """``x`` shaped so that each set of values normalised together runs along the axes
        returned: here each position's channels (the last axis)."""
        return x, (-1,)

    def _normalised(self, x, xp):
        """x̂ (in the grouped shape) and 1/σ of each set."""
        v, axes = self._grouped(x)
        centred = v - v.mean(axis=axes, keepdims=True)
        inv = 1.0 / xp.sqrt((centred * centred).mean(axis=axes, keepdims=True)
                            + self._eps_in(x.dtype))
        return centred * inv, inv

    def forward(self, x, xp):
        scale, shift = self._params(xp, x.dtype)
        xhat, _ = self._normalised(x, xp)
        return xhat.reshape(x.shape) * scale + shift

    def gradient(self, x, y, g, xp, dtype):
        """J^T g: (ĝ − mean(ĝ) − x̂ · mean(ĝ x̂)) / σ with ĝ = g · scale, the means over each
        set normalised together."""
        scale, _ = self._params(xp, g.dtype)
        xhat, inv = self._normalised(x, xp)
        gs, axes = self._grouped(g * scale)
        back = inv * (gs - gs.mean(axis=axes, keepdims=True)
                      - xhat * (gs * xhat).mean(axis=axes, keepdims=True))
        return back.reshape(g.shape)


@register_layer
class GroupNorm(ChannelNorm):
    """``nn.GroupNorm`` and ``nn.InstanceNorm`` (groups = channels): the statistics over
    each group of consecutive channels at every position of a sample's map, one scale and
    shift per channel. Relevance passes as its gradient, as for :class:`ChannelNorm`."""

    kind = "GroupNorm"
    # and Keras's GroupNormalization as tf2onnx's arithmetic (onnx_keras_norms)
    onnx_ops = ("InstanceNormalization", "GroupNormalization", "ReduceMean")

    def __init__(self, scale, shift, groups, eps=1e-5):
        super().__init__(scale, shift, eps)
        self.groups = int(groups)
        if not (1 <= self.groups <= self.scale.size and self.scale.size % self.groups == 0):
            raise ShapeError(f"GroupNorm: {self.groups} groups do not divide "
                             f"{self.scale.size} channels")

    def native_fields(self):
        return {**super().native_fields(), "groups": self.groups}

    @classmethod
    def from_native(cls, f):
        n, groups = f.size("channels"), f.size("groups")
        if n is None or groups is None:
            f.fail("GroupNorm needs 'channels', 'groups' and a number 'eps'")
        return cls(f.param("W", (n,)), f.param("B", (n,)), groups, f.number("eps"))

    def output_shape(self, in_shape):
        if len(in_shape) != 3:
            raise ShapeError(f"{self.describe()} gets input of shape {tuple(in_shape)}, "
                             "not a map")
        return super().output_shape(in_shape)

    def describe(self):
        if self.groups == self.scale.size:
            return f"InstanceNorm over {self.groups} channels"
        return f"GroupNorm {self.scale.size} channels, {self.groups} groups"

    def statistics(self) -> tuple[str, str]:
        if self.groups == self.scale.size:
            return "an InstanceNorm", "each channel's map"
        return "a GroupNorm", "each group of channels, over the whole map"

    def _grouped(self, x):
        n = x.shape[0]
        return x.reshape(n, -1, self.groups, self.scale.size // self.groups), (1, 3)
