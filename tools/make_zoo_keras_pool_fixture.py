"""Make the Keras pooling zoo fixture (run as ``make_zoo_keras_fixture.py``)::

    /tmp/zvenv/bin/python tools/make_zoo_keras_pool_fixture.py tests/data/zoo

The network takes a non-square N×13×11×3: ZeroPadding2D ((1, 0), (2, 1)) → Conv2D 3×5 with
strides (1, 2), "valid", ELU → MaxPooling2D 3, stride 2, "same" (TensorFlow pads the bottom and
right more) → Conv2D 3×3 "same", swish (tf2onnx: Sigmoid and Mul) → AveragePooling2D 3, stride
2, "same" (TensorFlow divides by the entries inside the input only: ONNX's
``count_include_pad=0``) → Conv2D 1×3 "same", tanh → GlobalAveragePooling2D → Dense. Writes
``keras_pool_tf2onnx.onnx`` and ``keras_pool.npz``.

The zennit reference runs on a PyTorch twin whose numbers are read from the exported file:
the zero padding inside the first convolution's module (the engine takes a Pad as part of the
convolution after it), the max pool's "same" border of −∞ and the average pool's inside their
modules, the average divided by the entries it counts (an ``nn.AvgPool2d`` subclass, so zennit
applies its Norm rule there), activations as modules (``Pass``).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from make_zoo_keras_fixture import script_main  # noqa: E402

SHAPE = (13, 11, 3)
CLASSES = 4

if "--keras-part" not in sys.argv:
    import torch
    from make_zoo_keras_fixture import exported_graph, write_fixture
    from torch import nn


def keras_part(out_dir, handover):
    """In a process without torch (TensorFlow and PyTorch crash in one process)."""
    import keras
    from keras import layers
    from make_zoo_keras_fixture import export_centred, finish_keras_part

    keras.utils.set_random_seed(5)
    inp = keras.Input(SHAPE, name="input")
    x = layers.ZeroPadding2D(((1, 0), (2, 1)))(inp)
    x = layers.Conv2D(6, (3, 5), strides=(1, 2), activation="elu", name="c1")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = layers.Conv2D(8, 3, padding="same", activation="swish", name="c2")(x)
    x = layers.AveragePooling2D(3, strides=2, padding="same")(x)
    x = layers.Conv2D(8, (1, 3), padding="same", activation="tanh", name="c3")(x)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(CLASSES, name="fc")(x)
    path = os.path.join(out_dir, "keras_pool_tf2onnx.onnx")
    finish_keras_part(inp, out, 5, handover,
                      lambda model, x: export_centred(model, x, "fc", path))


def twin_from_onnx(path):
    """The twin, its numbers read from the file tf2onnx wrote (nodes in graph order)."""
    nodes, inits = exported_graph(path)
    convs = [n for n in nodes if n.op_type == "Conv"]
    matmul = next(n for n in nodes if n.op_type == "MatMul")
    bias = next(n for n in nodes if n.op_type == "Add" and matmul.output[0] in n.input)

    class PaddedConv(nn.Conv2d):
        """ZeroPadding2D before the convolution, inside its module."""

        def forward(self, x):
            return super().forward(nn.functional.pad(x, (2, 1, 1, 0)))

    class SameMaxPool(nn.MaxPool2d):
        """TensorFlow's "same" max pool: a border of −∞, bottom and right first."""

        def __init__(self, pads):
            super().__init__(3, 2)
            self.pads = pads

        def forward(self, x):
            return super().forward(nn.functional.pad(x, self.pads, value=-float("inf")))

    class SameAvgPool(nn.AvgPool2d):
        """TensorFlow's "same" average pool: the mean of the entries inside the input."""

        def __init__(self, pads, shape):
            super().__init__(3, 2)
            self.pads = pads
            ones = nn.functional.pad(torch.ones((1, 1) + shape, dtype=torch.float64), pads)
            self.register_buffer("scale", 1 / nn.functional.avg_pool2d(ones, 3, 2))  # 9/count

        def forward(self, x):
            return super().forward(nn.functional.pad(x, self.pads)) * self.scale

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.elu = PaddedConv(3, 6, (3, 5), (1, 2)), nn.ELU()
            self.maxpool = SameMaxPool((1, 1, 0, 1))  # 12×5 → 6×3
            self.c2, self.swish = nn.Conv2d(6, 8, 3, 1, 1), nn.SiLU()
            self.avgpool = SameAvgPool((1, 1, 0, 1), (6, 3))  # 6×3 → 3×2
            self.c3, self.tanh = nn.Conv2d(8, 8, (1, 3), 1, (0, 1)), nn.Tanh()
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(8, CLASSES)

        def forward(self, x):
            x = self.maxpool(self.elu(self.c1(x.permute(0, 3, 1, 2))))
            x = self.tanh(self.c3(self.avgpool(self.swish(self.c2(x)))))
            return self.fc(torch.flatten(self.pool(x), 1))

    twin = Twin().eval().double()
    t = lambda a: torch.as_tensor(np.ascontiguousarray(a))  # noqa: E731
    for module, node in zip((twin.c1, twin.c2, twin.c3), convs, strict=True):
        module.weight.data = t(inits[node.input[1]])
        module.bias.data = t(inits[node.input[2]])
    twin.fc.weight.data = t(inits[matmul.input[1]].T)
    twin.fc.bias.data = t(next(inits[i] for i in bias.input if i in inits).reshape(-1))
    return twin


def main(out_dir):
    write_fixture(__file__, out_dir, "keras_pool", lambda _, path: twin_from_onnx(path))


if __name__ == "__main__":
    script_main(keras_part, main)
