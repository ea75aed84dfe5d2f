"""Sequences (ONNX's N×C×L, PyTorch's ``Conv1d``/``MaxPool1d``/``AvgPool1d`` models) as
C×1×L maps, so that every 2-D layer kind, rule and kernel serves them unchanged: a 1-D
convolution of kernel k is a 1×k convolution of that map."""

from __future__ import annotations

from .errors import ShapeError
from .layers import Layer, register_layer


@register_layer
class SequenceToChannelsLast(Layer):
    """C×L samples (PyTorch's; L×C with ``channels_first`` false: Keras's, which tf2onnx
    unsqueezes to N×1×L×C) to the engine's 1×L×C; relevance goes back to the input's layout,
    so the model takes and explains arrays in its own layout."""

    kind = "SequenceToChannelsLast"
    role = "reshape"  # added by the importer for an N×C×L input; for N×L×C, an Unsqueeze's
    onnx_ops = ("Unsqueeze", "Transpose")

    def __init__(self, channels_first=True):
        super().__init__()
        self.channels_first = bool(channels_first)

    @property
    def sequence_layout(self) -> str:
        """The input's layout: what ``lrp info`` and the model summary call it (its spec says
        "flat", yet it is no flat vector)."""
        return "C×L" if self.channels_first else "L×C"

    def native_fields(self):
        return {} if self.channels_first else {"channels_first": 0}

    @classmethod
    def from_native(cls, f):
        return cls(f.flag("channels_first", True))  # written only when 0

    def forward(self, x, xp):
        if not self.channels_first:
            return x[:, None]
        return xp.ascontiguousarray(x.transpose(0, 2, 1))[:, None]

    def output_shape(self, in_shape):
        if len(in_shape) != 2:
            raise ShapeError(f"a sequence input must be C×L or L×C, got {tuple(in_shape)}")
        return (1,) + (tuple(in_shape) if not self.channels_first else tuple(in_shape[::-1]))

    def relevance_back(self, R, x, xp):
        if not self.channels_first:
            return R[:, 0]
        return xp.ascontiguousarray(R[:, 0].transpose(0, 2, 1))

    def gradient(self, x, y, g, xp, dtype):
        return self.relevance_back(g, x, xp)
