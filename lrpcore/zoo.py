"""Graph architectures built in code: the shapes of the networks users explain, for benchmarks
(random weights: speed depends on shape only) and for building models from state dicts.

``efficientnet_lite0(weights)`` takes PyTorch-named parameters (``_conv_stem.weight``, ...,
BatchNorm statistics folded here), or draws random ones; ``mnist_resnet()`` has the shape of
the shared MNIST ResNet (three torchvision BasicBlocks).
"""

from __future__ import annotations

import numpy as np

from .graph import GraphModel, Node
from .graph_layers import Add, Clip, GroupedConvolution, MeanPool, ToChannelsLast
from .layers import Convolution, Flatten, Linear, Pad, Rect
from .spec import InputSpec

# EfficientNet-Lite0 stages: (expansion, kernel, stride, output channels, repeats)
LITE0_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
IMAGENET_MEAN = (0.498, 0.498, 0.498)  # EfficientNet-Lite's (x/255 − 0.498)/0.502
IMAGENET_STD = (0.502, 0.502, 0.502)


class _Graph:
    """Collects nodes; names follow PyTorch's module paths so per-layer rules read alike."""

    def __init__(self, params, seed):
        self.nodes, self.params = [], params
        self.rng = np.random.default_rng(seed)
        self.current = "input"

    def add(self, name, layer, inputs=None):
        inputs = [self.current] if inputs is None else inputs
        out = f"{name}:out"
        self.nodes.append(Node(name, layer, tuple(inputs), out))
        self.current = out
        return out

    def conv_weights(self, name, bn, shape, bn_eps):
        """(HWCN filters, bias) of a convolution, its BatchNorm folded in."""
        n, cg, kh, kw = shape
        if self.params is None:
            W = self.rng.normal(size=shape) * np.sqrt(2.0 / (cg * kh * kw))
            B = self.rng.normal(size=n) * 0.01
        else:
            W = np.asarray(self.params[f"{name}.weight"], dtype=np.float64)
            if W.shape != shape:
                raise ValueError(f"{name}.weight has shape {W.shape}, the architecture "
                                 f"needs {shape}")
            B = np.zeros(n)
            if bn is not None:
                g, b, mean, var = (self._vector(f"{bn}.{k}", n) for k in (
                    "weight", "bias", "running_mean", "running_var"))
                if np.any(var + bn_eps <= 0):  # NaN weights were written, exit 0
                    raise ValueError(f"{bn}.running_var holds values ≤ −eps; a variance "
                                     "must be positive")
                s = g / np.sqrt(var + bn_eps)
                W = W * s[:, None, None, None]
                B = b - mean * s
        return np.ascontiguousarray(W.transpose(2, 3, 1, 0)), B

    def _vector(self, name, n) -> np.ndarray:
        v = np.asarray(self.params[name], dtype=np.float64)
        if v.shape != (n,):  # a numpy broadcasting error named no tensor
            raise ValueError(f"{name} has shape {v.shape}, the architecture needs ({n},)")
        return v

    def same_pad(self, name, size, k, s):
        total = max(0, (-(-size // s) - 1) * s + k - size)
        if total:
            self.add(f"{name}/pad", Pad((total // 2, total - total // 2,
                                         total // 2, total - total // 2)))
        return -(-size // s)


def efficientnet_lite0(weights=None, seed=0, size=224, bn_eps=1e-3) -> GraphModel:
    """EfficientNet-Lite0 (ImageNet, 1000 classes): MBConv blocks without squeeze-excitation,
    ReLU6, "same" padding, global average pooling. ``weights``: a PyTorch state dict
    (names of the ``efficientnet-lite-pytorch`` package), or None for random weights."""
    g = _Graph(weights, seed)
    g.add("input/to_channels_last", ToChannelsLast())
    side = g.same_pad("_conv_stem", size, 3, 2)
    W, B = g.conv_weights("_conv_stem", "_bn0", (32, 3, 3, 3), bn_eps)
    g.add("_conv_stem", Convolution(W, B, (2, 2)))
    g.add("_relu", Clip(0.0, 6.0))
    channels, block = 32, 0
    for expand, k, stride, out_ch, repeats in LITE0_STAGES:
        for r in range(repeats):
            s = stride if r == 0 else 1
            name = f"_blocks.{block}"
            start = g.current
            hidden = channels * expand
            if expand != 1:
                W, B = g.conv_weights(f"{name}._expand_conv", f"{name}._bn0",
                                      (hidden, channels, 1, 1), bn_eps)
                g.add(f"{name}._expand_conv", Convolution(W, B))
                g.add(f"{name}._relu0", Clip(0.0, 6.0))
            new_side = g.same_pad(f"{name}._depthwise_conv", side, k, s)
            W, B = g.conv_weights(f"{name}._depthwise_conv", f"{name}._bn1",
                                  (hidden, 1, k, k), bn_eps)
            g.add(f"{name}._depthwise_conv", GroupedConvolution(W, B, (s, s), groups=hidden))
            g.add(f"{name}._relu1", Clip(0.0, 6.0))
            W, B = g.conv_weights(f"{name}._project_conv", f"{name}._bn2",
                                  (out_ch, hidden, 1, 1), bn_eps)
            g.add(f"{name}._project_conv", Convolution(W, B))
            if s == 1 and channels == out_ch:
                g.add(f"{name}/add", Add(), [g.current, start])
            channels, side, block = out_ch, new_side, block + 1
    W, B = g.conv_weights("_conv_head", "_bn1", (1280, channels, 1, 1), bn_eps)
    g.add("_conv_head", Convolution(W, B))
    g.add("_relu_head", Clip(0.0, 6.0))
    g.add("_avg_pooling", MeanPool((side, side), (side, side)))
    g.add("_flatten", Flatten())
    if weights is None:
        fc_w, fc_b = g.rng.normal(size=(1000, 1280)) / np.sqrt(1280), np.zeros(1000)
    else:
        fc_w, fc_b = np.asarray(weights["_fc.weight"], dtype=np.float64), g._vector("_fc.bias",
                                                                                  1000)
        if fc_w.shape != (1000, 1280):  # a model no input fitted was written, exit 0
            raise ValueError(f"_fc.weight has shape {fc_w.shape}, the architecture needs "
                             "(1000, 1280)")
    g.add("_fc", Linear(fc_w.T.copy(), fc_b))
    spec = InputSpec(shape=(3, size, size), raw_shape=(size, size, 3), layout="NCHW",
                     divide=255.0, offset=0.0, value_range=(-1.0, 1.0), raw_range=(0.0, 255.0),
                     mean=IMAGENET_MEAN, std=IMAGENET_STD, source="architecture",
                     extra={"resize": 256, "crop": size})
    spec = _with_range(spec)
    return GraphModel(g.nodes, "input", g.current, spec,
                      {"architecture": "efficientnet-lite0"})


def mnist_resnet(seed=0) -> GraphModel:
    """The shape of the shared MNIST ResNet: a 3×3 stem and three BasicBlocks (16, 32, 64
    channels, the last two with stride 2 and a 1×1 downsample), average pooling, 64→10."""
    g = _Graph(None, seed)
    g.add("input/to_channels_last", ToChannelsLast())

    def conv(name, n, c, k, s):
        W, B = g.conv_weights(name, None, (n, c, k, k), 0.0)
        if k == 3:
            g.add(f"{name}/pad", Pad((1, 1, 1, 1)))
        return g.add(name, Convolution(W, B, (s, s)))

    conv("conv1", 16, 1, 3, 1)
    g.add("relu", Rect())
    channels = 16
    for i, (out_ch, s) in enumerate(((16, 1), (32, 2), (64, 2)), start=1):
        start = g.current
        conv(f"layer{i}.conv1", out_ch, channels, 3, s)
        g.add(f"layer{i}.relu", Rect())
        main = conv(f"layer{i}.conv2", out_ch, out_ch, 3, 1)
        skip = start
        if s != 1 or channels != out_ch:
            g.current = start
            skip = conv(f"layer{i}.downsample.0", out_ch, channels, 1, s)
        g.add(f"layer{i}.add", Add(), [main, skip])
        g.add(f"layer{i}.relu_1", Rect())
        channels = out_ch
    g.add("avgpool", MeanPool((7, 7), (7, 7)))
    g.add("flatten", Flatten())
    g.add("fc", Linear(g.rng.normal(size=(64, 10)) / 8.0, np.zeros(10)))
    spec = InputSpec(shape=(1, 28, 28), raw_shape=(28, 28, 1), layout="NCHW", divide=255.0,
                     offset=0.0, value_range=(0.0, 1.0), source="architecture")
    return GraphModel(g.nodes, "input", g.current, spec, {"architecture": "mnist-resnet"})


def _with_range(spec):
    from dataclasses import replace

    return replace(spec, value_range=spec.mapped_range())


ARCHITECTURES = {"efficientnet-lite0": efficientnet_lite0}
