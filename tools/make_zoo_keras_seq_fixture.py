"""Make the Keras sequence zoo fixture (run as ``make_zoo_keras_fixture.py``)::

    /tmp/zvenv/bin/python tools/make_zoo_keras_seq_fixture.py tests/data/zoo

A 1-D convolutional classifier on N×L×C input: Conv1D "same" → ReLU → MaxPooling1D →
dilated Conv1D → ReLU → AveragePooling1D → GlobalAveragePooling1D → Dense. tf2onnx writes each
1-D layer as its 2-D operator between an Unsqueeze and a Squeeze, the input first unsqueezed
to N×1×L×C and transposed. Writes ``keras_seq_tf2onnx.onnx`` and ``keras_seq.npz`` (``x``
N×L×C in [0, 1], ``Y``, ``R__<preset>`` N×L×C).

The zennit reference runs on a PyTorch twin of ``nn.Conv1d``/``nn.MaxPool1d``/
``nn.AvgPool1d``/``nn.AdaptiveAvgPool1d`` modules whose numbers are read from the exported
file; its outputs are checked against Keras's.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from make_zoo_keras_fixture import script_main  # noqa: E402

SHAPE = (32, 4)  # L, C
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
    x = layers.Conv1D(8, 5, padding="same", activation="relu", name="c1")(inp)
    x = layers.MaxPooling1D(2)(x)
    x = layers.Conv1D(8, 3, dilation_rate=2, activation="relu", name="c2")(x)
    x = layers.AveragePooling1D(2)(x)
    x = layers.GlobalAveragePooling1D()(x)
    out = layers.Dense(CLASSES, name="fc")(x)
    path = os.path.join(out_dir, "keras_seq_tf2onnx.onnx")
    finish_keras_part(inp, out, 5, handover,
                      lambda model, x: export_centred(model, x, "fc", path))


def twin_from_onnx(path):
    """The twin, its numbers read from the file tf2onnx wrote (nodes in graph order)."""
    nodes, inits = exported_graph(path)
    convs = [n for n in nodes if n.op_type == "Conv"]
    matmul = next(n for n in nodes if n.op_type == "MatMul")
    bias = next(n for n in nodes if n.op_type == "Add" and matmul.output[0] in n.input)

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.relu1, self.pool1 = nn.Conv1d(4, 8, 5, padding=2), nn.ReLU(), \
                nn.MaxPool1d(2)
            self.c2, self.relu2, self.pool2 = nn.Conv1d(8, 8, 3, dilation=2), nn.ReLU(), \
                nn.AvgPool1d(2)
            self.pool, self.fc = nn.AdaptiveAvgPool1d(1), nn.Linear(8, CLASSES)

        def forward(self, x):
            x = self.pool1(self.relu1(self.c1(x.permute(0, 2, 1))))
            x = self.pool2(self.relu2(self.c2(x)))
            return self.fc(torch.flatten(self.pool(x), 1))

    twin = Twin().eval().double()
    t = lambda a: torch.as_tensor(np.ascontiguousarray(a))  # noqa: E731
    for module, node in zip((twin.c1, twin.c2), convs, strict=True):
        module.weight.data = t(inits[node.input[1]][:, :, 0, :])  # O×C×1×k → O×C×k
        squeeze = next(n for n in nodes if node.output[0] in n.input)  # then the bias's Add
        add = next(n for n in nodes if n.op_type == "Add" and squeeze.output[0] in n.input)
        module.bias.data = t(next(inits[i] for i in add.input if i in inits).reshape(-1))
    twin.fc.weight.data = t(inits[matmul.input[1]].T)
    twin.fc.bias.data = t(next(inits[i] for i in bias.input if i in inits).reshape(-1))
    return twin


def main(out_dir):
    write_fixture(__file__, out_dir, "keras_seq", lambda _, path: twin_from_onnx(path))


if __name__ == "__main__":
    script_main(keras_part, main)
