"""Make the Keras attention-gate zoo fixture (run as ``make_zoo_keras_fixture.py``)::

    /tmp/zvenv/bin/python tools/make_zoo_keras_att_fixture.py tests/data/zoo

A small Attention U-Net in Keras (N×H×W×C, 16×16×3 in, a 16×16×4 map of logits out): an
encoder stage (Conv2D "same"), MaxPooling2D and a second stage, nearest UpSampling2D and a
Conv2D (the gating signal g), the attention gate α = sigmoid(ψ(relu(W_g g + W_x x))) on the
skip map x (1×1 Conv2Ds, ``Add``, ``Conv2D(1, 1, activation="sigmoid")``), ``Multiply`` of x
(N×H×W×8) and α (N×H×W×1), Concatenate with g and a 1×1 classifier. Writes
``keras_att_tf2onnx.onnx`` (``model.export(..., format="onnx")``, tf2onnx) and
``keras_att.npz`` as ``make_zoo_keras_seg_fixture.py`` writes ``keras_seg.npz``: ``x``,
``keras_y`` (Keras's own float32 map), and zennit 0.5.1's map references of a PyTorch twin
with the Keras weights (the addition through zennit's ``Sum``, α · x left to autograd).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from make_zoo_keras_fixture import script_main, write_map_fixture  # noqa: E402

SHAPE = (16, 16, 3)
CLASSES = 4
CONVS = ("e1", "d1", "g", "wg", "wx", "psi", "cls")

if "--keras-part" not in sys.argv:
    import torch
    from make_zoo_fixtures import Merge
    from torch import nn


def keras_part(out_dir, handover):
    """In a process without torch (TensorFlow and PyTorch crash in one process)."""
    import keras
    from keras import layers
    from make_zoo_keras_fixture import finish_map_keras_part

    keras.utils.set_random_seed(17)
    inp = keras.Input(SHAPE, name="input")
    e1 = layers.Conv2D(8, 3, padding="same", activation="relu", name="e1")(inp)         # 16
    d1 = layers.Conv2D(12, 3, padding="same", activation="relu", name="d1")(
        layers.MaxPooling2D(2)(e1))                                                      # 8
    g = layers.Conv2D(8, 3, padding="same", activation="relu", name="g")(
        layers.UpSampling2D(2)(d1))                                                      # 16
    a = layers.ReLU()(layers.Add()([layers.Conv2D(4, 1, name="wg")(g),
                                    layers.Conv2D(4, 1, name="wx")(e1)]))
    alpha = layers.Conv2D(1, 1, activation="sigmoid", name="psi")(a)
    gated = layers.Multiply()([e1, alpha])
    out = layers.Conv2D(CLASSES, 1, name="cls")(layers.Concatenate()([gated, g]))
    model = keras.Model(inp, out)
    finish_map_keras_part(model, 17, SHAPE, CONVS, out_dir, "keras_att", handover)


def make_twin():
    """The PyTorch twin (classes defined here: the Keras process has no torch)."""

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.e1, self.d1 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 12, 3, padding=1)
            self.pool, self.up = nn.MaxPool2d(2), nn.Upsample(scale_factor=2)
            self.g = nn.Conv2d(12, 8, 3, padding=1)
            self.wg, self.wx, self.psi = nn.Conv2d(8, 4, 1), nn.Conv2d(8, 4, 1), nn.Conv2d(4, 1, 1)
            self.merge, self.sigmoid = Merge(), nn.Sigmoid()
            self.cls = nn.Conv2d(16, CLASSES, 1)
            self.relus = nn.ModuleList(nn.ReLU() for _ in range(4))

        def forward(self, x):
            r = iter(self.relus)
            e1 = next(r)(self.e1(x.permute(0, 3, 1, 2)))
            d1 = next(r)(self.d1(self.pool(e1)))
            g = next(r)(self.g(self.up(d1)))
            alpha = self.sigmoid(self.psi(next(r)(self.merge(self.wg(g), self.wx(e1)))))
            return self.cls(torch.cat([e1 * alpha, g], 1))  # N×K×H×W

    return Twin().eval()


def main(out_dir):
    write_map_fixture(__file__, out_dir, "keras_att", make_twin, CONVS)


if __name__ == "__main__":
    script_main(keras_part, main)
