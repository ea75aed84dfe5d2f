"""Sequences (ONNX's N×C×L, PyTorch's ``Conv1d``/``MaxPool1d``/``AvgPool1d`` models) as
C×1×L maps, so that every 2-D layer kind, rule and kernel serves them unchanged: a 1-D
convolution of kernel k is a 1×k convolution of that map."""

from __future__ import annotations

from .errors import ShapeError
from .layers import Layer, register_layer


@register_layer
class SequenceToChannelsLast(Layer):
    """C×L samples to the engine's 1×L×C; relevance goes back to C×L, so the model takes and
    explains arrays in its own N×C×L layout."""

    kind = "SequenceToChannelsLast"
    role = "reshape"  # added by the importer for an N×C×L input (no ONNX operator)

    def forward(self, x, xp):
        return xp.ascontiguousarray(x.transpose(0, 2, 1))[:, None]

    def output_shape(self, in_shape):
        if len(in_shape) != 2:
            raise ShapeError(f"a sequence input must be C×L, got {tuple(in_shape)}")
        C, L = in_shape
        return (1, L, C)

    def relevance_back(self, R, x, xp):
        return xp.ascontiguousarray(R[:, 0].transpose(0, 2, 1))

    def gradient(self, x, y, g, xp, dtype):
        return self.relevance_back(g, x, xp)
