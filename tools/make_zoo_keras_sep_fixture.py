"""Make the Keras separable-convolution zoo fixture (run as ``make_zoo_keras_fixture.py``)::

    /tmp/zvenv/bin/python tools/make_zoo_keras_sep_fixture.py tests/data/zoo

The network (N×H×W×C): Conv2D with stride 2 and "same" padding (TensorFlow pads only the
bottom and right) → ReLU → SeparableConv2D (tf2onnx: a depthwise Conv without bias and a 1×1
Conv) → ReLU → DepthwiseConv2D with ``depth_multiplier=2`` and stride 2, "same" (a grouped
Conv, two filters per channel) → ReLU → GlobalMaxPooling2D (GlobalMaxPool and Squeeze) → Dense
→ BatchNormalization (after a Dense: tf2onnx's Mul and Add, which the importer folds into the
Dense) → ReLU → Dense. Writes ``keras_sep_tf2onnx.onnx`` and ``keras_sep.npz``.

The zennit reference runs on a PyTorch twin whose numbers are read from the exported file:
"same" padding inside the convolution modules, the BatchNormalization folded exactly into the
first Dense (as zennit's canonizers merge a BatchNorm into the linear layer before it), the
global max pool as ``nn.AdaptiveMaxPool2d(1)``. Its outputs are checked against Keras's.
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
    from make_zoo_keras_fixture import exported_graph, write_fixture
    from torch import nn


def keras_part(out_dir, handover):
    """In a process without torch (TensorFlow and PyTorch crash in one process)."""
    import keras
    from keras import layers
    from make_zoo_keras_fixture import export_centred, finish_keras_part

    keras.utils.set_random_seed(3)
    inp = keras.Input(SHAPE, name="input")
    x = layers.Conv2D(6, 3, strides=2, padding="same", name="stem")(inp)
    x = layers.ReLU()(x)
    x = layers.SeparableConv2D(8, 3, padding="same", name="sep")(x)
    x = layers.ReLU()(x)
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", strides=2,
                               name="dw2")(x)
    x = layers.ReLU()(x)
    x = layers.GlobalMaxPooling2D()(x)
    x = layers.Dense(10, name="fc1")(x)
    x = layers.BatchNormalization(name="bn_fc")(x)
    x = layers.ReLU()(x)
    out = layers.Dense(CLASSES, name="fc2")(x)
    path = os.path.join(out_dir, "keras_sep_tf2onnx.onnx")
    finish_keras_part(inp, out, 3, handover,  # randomised: SeparableConv2D's bias is 3rd
                      lambda model, x: export_centred(model, x, "fc2", path))


def twin_from_onnx(path):
    """The twin, its numbers read from the file tf2onnx wrote (nodes in graph order)."""
    nodes, inits = exported_graph(path)
    const = lambda node: next(inits[i] for i in node.input if i in inits)  # noqa: E731
    convs = [n for n in nodes if n.op_type == "Conv"]
    matmuls = [n for n in nodes if n.op_type == "MatMul"]

    def after(node, op):  # the node of type op reading node's output
        return next(n for n in nodes if n.op_type == op and node.output[0] in n.input)

    class SameConv(nn.Conv2d):
        """TensorFlow's "same" padding of a strided convolution, inside the module."""

        def forward(self, x):
            return super().forward(nn.functional.pad(x, (0, 1, 0, 1)))

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem, self.relu1 = SameConv(3, 6, 3, 2), nn.ReLU()
            self.sep_dw = nn.Conv2d(6, 6, 3, 1, 1, groups=6, bias=False)
            self.sep_pw, self.relu2 = nn.Conv2d(6, 8, 1), nn.ReLU()
            self.dw2, self.relu3 = SameConv(8, 16, 3, 2, groups=8), nn.ReLU()
            self.pool = nn.AdaptiveMaxPool2d(1)
            self.fc1, self.relu4 = nn.Linear(16, 10), nn.ReLU()
            self.fc2 = nn.Linear(10, CLASSES)

        def forward(self, x):
            x = self.relu1(self.stem(x.permute(0, 3, 1, 2)))
            x = self.relu3(self.dw2(self.relu2(self.sep_pw(self.sep_dw(x)))))
            return self.fc2(self.relu4(self.fc1(torch.flatten(self.pool(x), 1))))

    twin = Twin().eval().double()
    t = lambda a: torch.as_tensor(np.ascontiguousarray(a))  # noqa: E731
    for module, node in zip((twin.stem, twin.sep_dw, twin.sep_pw, twin.dw2), convs,
                            strict=True):
        module.weight.data = t(inits[node.input[1]])
        if module.bias is not None:
            module.bias.data = t(inits[node.input[2]])
    for module, mm in zip((twin.fc1, twin.fc2), matmuls, strict=True):
        module.weight.data = t(inits[mm.input[1]].T)
        module.bias.data = t(const(after(mm, "Add")).reshape(-1))
    bias_add = after(matmuls[0], "Add")  # BatchNormalization: Mul and Add, folded exactly
    scale = const(after(bias_add, "Mul")).reshape(-1)
    shift = const(after(after(bias_add, "Mul"), "Add")).reshape(-1)
    twin.fc1.weight.data = twin.fc1.weight.data * t(scale)[:, None]
    twin.fc1.bias.data = twin.fc1.bias.data * t(scale) + t(shift)
    return twin


def main(out_dir):
    write_fixture(__file__, out_dir, "keras_sep", lambda _, path: twin_from_onnx(path))


if __name__ == "__main__":
    script_main(keras_part, main)
