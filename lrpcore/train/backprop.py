"""Forward pass with cached activations, and the gradient of every layer type.

Written against ``xp`` (numpy or cupy), like the engine. Parameters are passed explicitly as
device arrays (``params[i] = {"W": ..., "B": ...}`` for weighted layers, in the layer's own
layout) so that training never goes through the layers' device caches. Input gradients of the
linear maps use the layers' own ``fmap``/``tmap`` (``tmap`` is the transpose of the map, i.e.
its input gradient), so training and LRP share one implementation of every map.

A trailing SoftMax is never differentiated on its own: :func:`forward_trace` stops before it and
the loss (:func:`lrpcore.train.losses.softmax_cross_entropy`) fuses it with cross-entropy.
"""

from __future__ import annotations

from ..errors import ShapeError
from ..graph_dilated import DilatedConvolution
from ..layers import Convolution, SoftMax


def trainable_layers(model) -> list:
    """The layers training differentiates: everything but a trailing SoftMax."""
    layers = list(model.layers)
    if layers and isinstance(layers[-1], SoftMax):
        layers = layers[:-1]
    for i, layer in enumerate(layers):
        if isinstance(layer, SoftMax):
            raise ShapeError(f"layer {i}: a SoftMax inside the network cannot be trained; "
                             "only a final SoftMax (fused with the loss) is supported")
    return layers


def _map_weights(layer, W):
    """The weight matrix ``fmap``/``tmap`` expect (im2col form (h·w·d) × n for convolutions,
    dilated ones too: their phases go through a plain convolution)."""
    return W.reshape(-1, W.shape[3]) if isinstance(layer, (Convolution, DilatedConvolution)) \
        else W


def layer_forward(layer, x, p, xp):
    """One layer's output, with trainable parameters ``p`` (None for parameter-free layers)."""
    if layer.weighted:
        return layer.fmap(x, _map_weights(layer, p["W"]), xp) + p["B"]
    return layer.forward(x, xp)


def forward_trace(layers, params, x, xp) -> list:
    """Activations: the input of every layer, then the output (the logits)."""
    acts = [x]
    for layer, p in zip(layers, params, strict=True):
        acts.append(layer_forward(layer, acts[-1], p, xp))
    return acts


def layer_backward(layer, x, y, dy, p, xp, need_dx=True):
    """Gradients of one layer: ``(dx, {"W": dW, "B": dB} or None)`` given dL/dy. Each layer
    class declares both: ``parameter_gradients`` and, for the input, ``tmap`` with the weights
    being trained (weighted layers) or its own ``gradient`` (the rest)."""
    if isinstance(layer, SoftMax):
        raise ShapeError("no gradient for layer type SoftMax; SoftMax is only trained as the "
                         "final layer, fused with the cross-entropy loss")
    if not layer.weighted:
        return (layer.gradient(x, y, dy, xp, dy.dtype) if need_dx else None), None
    grads = layer.parameter_gradients(x, dy, xp)
    dx = layer.tmap(dy, _map_weights(layer, p["W"]), x.shape[1:], xp) if need_dx else None
    return dx, grads


def backward(layers, params, acts, dout, xp) -> list:
    """Parameter gradients of every layer (None for parameter-free ones) from dL/d(output)."""
    grads = [None] * len(layers)
    dy = dout
    for i in range(len(layers) - 1, -1, -1):
        need_dx = i > 0
        dx, g = layer_backward(layers[i], acts[i], acts[i + 1], dy, params[i], xp, need_dx)
        grads[i] = g
        dy = dx
        if not need_dx:
            break
    return grads


def input_gradient(layers, params, acts, dout, xp):
    """dL/d(input): used by the finite-difference tests of every layer's backward pass."""
    dy = dout
    for i in range(len(layers) - 1, -1, -1):
        dy, _ = layer_backward(layers[i], acts[i], acts[i + 1], dy, params[i], xp, True)
    return dy
