"""Make the Keras BatchNorm zoo fixture: BatchNormalization where tf2onnx cannot fold it.

Run by hand as ``make_zoo_keras_fixture.py`` (same scratch environment)::

    /tmp/zvenv/bin/python tools/make_zoo_keras_bn_fixture.py tests/data/zoo

The network (N×H×W×C): Conv2D "same" → ReLU → BatchNormalization (after an activation: tf2onnx
writes it as a Mul and an Add of per-channel constants) → DepthwiseConv2D → ReLU → Conv2D 1×1 →
BatchNormalization (Mul and Add too; the importer folds them into that convolution, the twin
folds them exactly) → Add with the first
BatchNormalization's output → BatchNormalization (after the Add) → ReLU →
GlobalAveragePooling2D (tf2onnx: GlobalAveragePool and a Squeeze) → Dense with softmax.
Writes ``keras_bn_tf2onnx.onnx`` and ``keras_bn.npz`` as the other fixtures.

The zennit reference runs on a PyTorch twin whose weights are read from the exported file (the
scales and shifts tf2onnx computed in float32, so both sides hold the same numbers): each
unfolded BatchNormalization is an ``nn.BatchNorm2d`` with mean 0, variance 1, eps 0 and those
scales and shifts — zennit's composites give it ``Pass`` — the addition goes through zennit's
``Sum``, and the softmax is ``nn.Softmax`` (zennit takes its gradient; ``Y`` holds the
probabilities, as Keras's model gives them, and the predicted class's probability is
explained). The twin's outputs are checked against Keras's own.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from make_zoo_keras_fixture import script_main  # noqa: E402

SHAPE = (12, 12, 3)
CLASSES = 4

if "--keras-part" not in sys.argv:
    import torch
    from make_zoo_fixtures import Merge
    from make_zoo_keras_fixture import exported_graph, write_fixture
    from torch import nn


def keras_part(out_dir, handover):
    """In a process without torch (TensorFlow and PyTorch crash in one process)."""
    import keras
    from keras import layers
    from make_zoo_keras_fixture import finish_keras_part

    keras.utils.set_random_seed(11)
    inp = keras.Input(SHAPE, name="input")
    x = layers.Conv2D(6, 3, padding="same", name="stem")(inp)
    x = layers.ReLU()(x)
    a = layers.BatchNormalization(name="bn_after_relu")(x)
    y = layers.DepthwiseConv2D(3, padding="same", name="dw")(a)
    y = layers.ReLU()(y)
    y = layers.Conv2D(6, 1, name="pw")(y)
    y = layers.BatchNormalization(name="bn_after_conv")(y)
    x = layers.Add()([a, y])
    x = layers.BatchNormalization(name="bn_after_add")(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(CLASSES, activation="softmax", name="fc")(x)

    def export(model, x):  # centre the logits (before the softmax) on noise: several win
        fc = model.get_layer("fc")
        kernel, bias = fc.get_weights()
        feats = keras.Model(inp, model.layers[-2].output)(x.astype(np.float32)).numpy()
        fc.set_weights([kernel, bias - (feats @ kernel + bias).mean(0)])
        model(x[:1].astype(np.float32))  # Keras exports only a model that has been called
        model.export(os.path.join(out_dir, "keras_bn_tf2onnx.onnx"), format="onnx")

    finish_keras_part(inp, out, 11, handover, export)


def twin_from_onnx(path):
    """The twin, its numbers read from the file tf2onnx wrote (nodes in graph order)."""
    nodes, inits = exported_graph(path)
    const = lambda node: next(inits[i] for i in node.input if i in inits)  # noqa: E731
    convs = [n for n in nodes if n.op_type == "Conv"]

    def affine(layer):  # tf2onnx's Mul and Add of one BatchNormalization
        mul, add = (next(n for n in nodes if n.op_type == op and f"/{layer}_" in n.name)
                    for op in ("Mul", "Add"))
        return const(mul).reshape(-1), const(add).reshape(-1)

    gemm = next(n for n in nodes if n.op_type in ("MatMul", "Gemm"))
    bias = next((n for n in nodes
                 if n.op_type == "Add" and n.input[0] == gemm.output[0]), None)

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 6, 3, padding=1)
            self.relu1, self.relu2, self.relu3 = nn.ReLU(), nn.ReLU(), nn.ReLU()
            self.bn1, self.bn3 = nn.BatchNorm2d(6, eps=0.0), nn.BatchNorm2d(6, eps=0.0)
            self.dw = nn.Conv2d(6, 6, 3, padding=1, groups=6)
            self.pw = nn.Conv2d(6, 6, 1)
            self.merge = Merge()
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(6, CLASSES)
            self.softmax = nn.Softmax(dim=1)

        def forward(self, x):
            a = self.bn1(self.relu1(self.stem(x.permute(0, 3, 1, 2))))
            y = self.pw(self.relu2(self.dw(a)))
            x = self.relu3(self.bn3(self.merge(a, y)))
            return self.softmax(self.fc(torch.flatten(self.pool(x), 1)))

    twin = Twin().eval()
    t = lambda a: torch.as_tensor(np.ascontiguousarray(a))  # noqa: E731
    for module, node in zip((twin.stem, twin.dw, twin.pw), convs, strict=True):
        module.weight.data = t(inits[node.input[1]])
        module.bias.data = t(inits[node.input[2]])
    for bn, layer in ((twin.bn1, "bn_after_relu"), (twin.bn3, "bn_after_add")):
        scale, shift = affine(layer)
        bn.weight.data, bn.bias.data = t(scale), t(shift)
        bn.running_mean.data, bn.running_var.data = torch.zeros(6), torch.ones(6)
    scale, shift = affine("bn_after_conv")  # folded exactly into the 1×1 convolution
    twin.pw.weight.data = twin.pw.weight.data * t(scale)[:, None, None, None]
    twin.pw.bias.data = twin.pw.bias.data * t(scale) + t(shift)
    twin.fc.weight.data = t(inits[gemm.input[1]].T)
    twin.fc.bias.data = t(const(bias).reshape(-1)) if bias is not None else torch.zeros(CLASSES)
    return twin.double()


def main(out_dir):
    write_fixture(__file__, out_dir, "keras_bn", lambda _, path: twin_from_onnx(path),
                  tolerance=lambda _: 1e-5)


if __name__ == "__main__":
    script_main(keras_part, main)
