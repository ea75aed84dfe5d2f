"""Make the Keras squeeze-and-excitation zoo fixture (run as ``make_zoo_keras_fixture.py``)::

    /tmp/zvenv/bin/python tools/make_zoo_keras_se_fixture.py tests/data/zoo

The network (N×H×W×C, 16×16×3) is built from Keras's own application blocks, so that its
export is what tf2onnx writes for ``MobileNetV3Small`` and ``EfficientNetB0`` (whose files,
5–30 MB, are too large to keep): a stem Conv2D (stride 2, "same") with BatchNormalization and
MobileNetV3's hard swish, two MobileNetV3 inverted residual blocks
(``keras.src.applications.mobilenet_v3._inverted_res_block``: ReLU with a residual, then hard
swish with stride 2 and ZeroPadding2D; their gates GlobalAveragePooling2D(keepdims=True), 1×1
convolutions, ``ReLU(6.0)(x + 3.0) * (1.0 / 6.0)`` and Multiply), two EfficientNet blocks
(``keras.src.applications.efficientnet.block``: swish, the gate's GlobalAveragePooling2D and
Reshape((1, 1, C)), 1×1 convolutions with swish and sigmoid, ``multiply``; a residual, then
stride 2), GlobalAveragePooling2D and a Dense of 5 classes. Writes ``keras_se_tf2onnx.onnx``
and ``keras_se.npz`` (as the other fixtures, plus ``keras_y``: Keras's own float32 outputs).

The zennit reference runs on a PyTorch twin whose numbers are read from the exported file
(``twin_of``), written as torchvision writes these networks: ``nn.Hardswish``, ``nn.Hardsigmoid``,
``nn.SiLU``, ``nn.Sigmoid`` modules (zennit passes relevance through each), the squeeze as
``nn.AdaptiveAvgPool2d(1)``, the gate as ``x * scale`` in ``forward`` (zennit's autograd), the
residual additions through zennit's ``Sum``, "same" and ZeroPadding2D padding inside the
convolution module. Its outputs are checked against Keras's.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from make_zoo_keras_fixture import script_main  # noqa: E402

SHAPE = (16, 16, 3)
CLASSES = 5

if "--keras-part" not in sys.argv:
    import torch
    from make_zoo_fixtures import Merge
    from make_zoo_keras_fixture import exported_graph, write_fixture
    from torch import nn


def keras_part(out_dir, handover):
    """In a process without torch (TensorFlow and PyTorch crash in one process)."""
    import keras
    from keras import layers
    from keras.src.applications import efficientnet, mobilenet_v3
    from make_zoo_keras_fixture import export_centred, randomise

    keras.utils.set_random_seed(12)
    inp = keras.Input(SHAPE, name="input")
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="stem")(inp)
    x = layers.BatchNormalization(epsilon=1e-3, name="stem_bn")(x)
    x = mobilenet_v3.hard_swish(x)
    x = mobilenet_v3._inverted_res_block(x, 2, 8, 3, 1, 0.25, mobilenet_v3.relu, 1)
    x = mobilenet_v3._inverted_res_block(x, 2, 12, 3, 2, 0.25, mobilenet_v3.hard_swish, 2)
    x = efficientnet.block(x, "swish", 0.0, "block1a_", 12, 12, 3, 1, 2, 0.25)
    x = efficientnet.block(x, "swish", 0.0, "block2a_", 12, 16, 3, 2, 2, 0.25)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    out = layers.Dense(CLASSES, name="fc")(x)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(12)
    randomise(model, rng)
    # noise on a colour of its own per image, in [0, 1): noise alone averages out in the pools
    x = 0.6 * rng.random((64, 1, 1, 3)) + 0.4 * rng.random((64,) + SHAPE)
    calibrate(keras, model, x, rng)
    fc = model.get_layer("fc")  # logits spread over about ±1 on the inputs
    kernel, bias = fc.get_weights()
    y = model(x.astype(np.float32)).numpy()
    print("logits' spread before scaling", float((y - y.mean(0)).std()))
    fc.set_weights([kernel / (y - y.mean(0)).std(), bias])
    export_centred(model, x, "fc", os.path.join(out_dir, "keras_se_tf2onnx.onnx"))
    np.savez(handover, x=x, keras_y=model(x.astype(np.float32)).numpy())


def calibrate(keras, model, x, rng):
    """Each BatchNormalization's statistics near those of its input on ``x``, randomised
    (mean off by up to 0.2 standard deviations, variance times 0.5–1.5): statistics drawn
    without regard to the data left the logits 0.004 apart, the signal lost on the way."""
    from keras import layers

    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            seen = keras.Model(model.input, layer.input)(x.astype(np.float32)).numpy()
            mean, std = seen.mean(axis=(0, 1, 2)), seen.std(axis=(0, 1, 2)) + 1e-3
            gamma, beta, _, _ = layer.get_weights()
            n = len(mean)
            layer.set_weights([np.asarray(a, dtype=np.float32) for a in (
                gamma, beta, mean + 0.2 * std * rng.uniform(-1, 1, n),
                std ** 2 * (0.5 + rng.random(n)))])


def make_twin():
    """The PyTorch twin (classes defined here: the Keras process has no torch)."""

    class PaddedConv(nn.Conv2d):
        """A convolution whose zero padding (TensorFlow's "same", ZeroPadding2D) is done
        inside the module, so that it is one border for zennit's flat and zB rules."""

        def __init__(self, cin, cout, k, stride=1, groups=1, pads=None, bias=True):
            super().__init__(cin, cout, k, stride, groups=groups, bias=bias)
            self.pads = pads if pads is not None else (k // 2,) * 4  # left, right, top, bottom

        def forward(self, x):
            return super().forward(nn.functional.pad(x, self.pads))

    class Squeeze(nn.Module):
        """The gate: pooled, two 1×1 convolutions and their activations, times the map."""

        def __init__(self, channels, squeezed, inner, outer):
            super().__init__()
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.reduce, self.inner = nn.Conv2d(channels, squeezed, 1), inner()
            self.expand, self.outer = nn.Conv2d(squeezed, channels, 1), outer()

        def forward(self, x):
            return x * self.outer(self.expand(self.inner(self.reduce(self.pool(x)))))

    class Block(nn.Module):
        """An inverted residual block: expand, depthwise, gate, project (BatchNorms folded)."""

        def __init__(self, cin, mid, cout, stride, act, se, residual):
            super().__init__()
            pads = (0, 1, 0, 1) if stride == 2 else None  # even input: TensorFlow's pads
            self.expand, self.act1 = PaddedConv(cin, mid, 1), act()
            self.dw = PaddedConv(mid, mid, 3, stride, groups=mid, pads=pads)
            self.act2, self.se = act(), se
            self.project = PaddedConv(mid, cout, 1)
            self.merge = Merge() if residual else None

        def forward(self, x):
            y = self.project(self.se(self.act2(self.dw(self.act1(self.expand(x))))))
            return self.merge(x, y) if self.merge is not None else y

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = PaddedConv(3, 8, 3, 2, pads=(0, 1, 0, 1))
            self.stem_act = nn.Hardswish()
            self.mb1 = Block(8, 16, 8, 1, nn.ReLU, Squeeze(16, 8, nn.ReLU, nn.Hardsigmoid),
                             True)
            self.mb2 = Block(8, 16, 12, 2, nn.Hardswish,
                             Squeeze(16, 8, nn.ReLU, nn.Hardsigmoid), False)
            self.eb1 = Block(12, 24, 12, 1, nn.SiLU, Squeeze(24, 3, nn.SiLU, nn.Sigmoid), True)
            self.eb2 = Block(12, 24, 16, 2, nn.SiLU, Squeeze(24, 3, nn.SiLU, nn.Sigmoid), False)
            self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(16, CLASSES)

        def forward(self, x):
            x = self.stem_act(self.stem(x.permute(0, 3, 1, 2)))
            x = self.eb2(self.eb1(self.mb2(self.mb1(x))))
            return self.fc(torch.flatten(self.pool(x), 1))

    return Twin().eval()


def twin_of(_handed_over, onnx_path):
    """The twin with the numbers tf2onnx wrote (so that both sides hold the same float32
    weights): its 21 convolutions in graph order, a BatchNormalization tf2onnx left as a Mul
    and an Add of per-channel constants folded in float64 into the convolution before it, as
    zennit's canonizers fold it; the Dense as MatMul and Add."""
    nodes, inits = exported_graph(onnx_path)
    twin = make_twin().double()
    t = lambda a: torch.as_tensor(np.ascontiguousarray(a))  # noqa: E731

    def per_channel(node, op, n):  # the per-channel constant of the sole ``op`` reading node
        readers = [r for r in nodes if node.output[0] in r.input]
        if len(readers) != 1 or readers[0].op_type != op:
            return None, None
        value = next((inits[i] for i in readers[0].input if i in inits), None)
        return (readers[0], value.reshape(-1)) if value is not None and value.size == n \
            else (None, None)

    convs = [n for n in nodes if n.op_type == "Conv"]
    modules = [twin.stem]
    for block in (twin.mb1, twin.mb2, twin.eb1, twin.eb2):
        modules += [block.expand, block.dw, block.se.reduce, block.se.expand, block.project]
    for module, node in zip(modules, convs, strict=True):
        W = inits[node.input[1]]
        B = inits[node.input[2]] if len(node.input) > 2 else np.zeros(W.shape[0])
        mul, scale = per_channel(node, "Mul", W.shape[0])
        if mul is not None:  # BatchNormalization after the convolution: Mul, Add
            _, shift = per_channel(mul, "Add", W.shape[0])
            W, B = W * scale[:, None, None, None], B * scale + shift
        module.weight.data, module.bias.data = t(W), t(B)
    matmul = next(n for n in nodes if n.op_type == "MatMul")
    twin.fc.weight.data = t(inits[matmul.input[1]].T)
    twin.fc.bias.data = t(per_channel(matmul, "Add", CLASSES)[1])
    return twin


def main(out_dir):
    write_fixture(__file__, out_dir, "keras_se", twin_of, keep_keras=True)


if __name__ == "__main__":
    script_main(keras_part, main)
