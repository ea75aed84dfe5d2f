"""Make the Keras segmentation zoo fixture (run as ``make_zoo_keras_fixture.py``)::

    /tmp/zvenv/bin/python tools/make_zoo_keras_seg_fixture.py tests/data/zoo

A small U-Net in Keras (N×H×W×C, 16×16×3 in, a 16×16×4 map of logits out, no softmax): an
encoder (Conv2D "same", a stride-2 Conv2D, MaxPooling2D), a decoder of Conv2DTranspose
(k=3 s=2 "same": TensorFlow crops the bottom and right row of the full output; k=2 s=2) with
Concatenate skips, side outputs enlarged by UpSampling2D (bilinear ×2; nearest ×4, then
ZeroPadding2D and Cropping2D shifting it two columns right: tf2onnx leaves these N×H×W×C
after the nearest upsampling) and concatenated, and a 1×1 classifier. Writes
``keras_seg_tf2onnx.onnx`` (``model.export(..., format="onnx")``, tf2onnx) and
``keras_seg.npz``: ``x`` (two N×H×W×C samples in [0, 1) whose maps each predict three or
more classes, the class at the most pixels differing), ``keras_y`` (Keras's own float32
map, N×H×W×K), and, as ``make_zoo_fixtures.py`` writes segmentation references, ``Y``
(N×K×H×W), ``target``, ``second``, ``R__<preset>`` and ``Rsecond__<preset>`` (N×H×W×C) of
zennit 0.5.1, ``mean``/``std`` 0 and 1.

The zennit reference runs on a PyTorch twin with the Keras weights: "same" padding inside the
convolution modules, the transposed convolutions as ``nn.ConvTranspose2d`` (the k=3 one
unpadded, then its last row and column cut, as TensorFlow places it), ``F.interpolate``
(bilinear, ``align_corners=False``: TensorFlow's half-pixel centres; nearest), ``F.pad`` and
slicing, ``torch.cat``.
Its map is checked against Keras's before anything is written.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from make_zoo_keras_fixture import script_main, write_map_fixture  # noqa: E402

SHAPE = (16, 16, 3)
CLASSES = 4
CONVS = ("e1", "d1", "d2", "u2", "c2", "u1", "side_a", "side_b", "cls")

if "--keras-part" not in sys.argv:
    import torch
    from torch import nn


def keras_part(out_dir, handover):
    """In a process without torch (TensorFlow and PyTorch crash in one process)."""
    import keras
    from keras import layers
    from make_zoo_keras_fixture import finish_map_keras_part

    keras.utils.set_random_seed(13)
    inp = keras.Input(SHAPE, name="input")
    e1 = layers.Conv2D(8, 3, padding="same", activation="relu", name="e1")(inp)        # 16
    d1 = layers.Conv2D(12, 3, strides=2, padding="same", activation="relu", name="d1")(e1)  # 8
    d2 = layers.Conv2D(16, 3, padding="same", activation="relu", name="d2")(
        layers.MaxPooling2D(2)(d1))                                                     # 4
    u2 = layers.Conv2DTranspose(12, 3, strides=2, padding="same", activation="relu",
                                name="u2")(d2)                                          # 8
    c2 = layers.Conv2D(12, 3, padding="same", activation="relu", name="c2")(
        layers.Concatenate()([d1, u2]))
    u1 = layers.Conv2DTranspose(8, 2, strides=2, padding="same", activation="relu",
                                name="u1")(c2)                                          # 16
    side_a = layers.UpSampling2D(2, interpolation="bilinear")(
        layers.Conv2D(4, 1, name="side_a")(c2))
    side_b = layers.UpSampling2D(4)(layers.Conv2D(4, 1, name="side_b")(d2))
    side_b = layers.Cropping2D(((1, 1), (0, 2)))(layers.ZeroPadding2D(((1, 1), (2, 0)))(side_b))
    x = layers.Concatenate()([e1, u1, side_a, side_b])
    out = layers.Conv2D(CLASSES, 1, name="cls")(x)  # logits, no softmax
    model = keras.Model(inp, out)
    finish_map_keras_part(model, 13, SHAPE, CONVS, out_dir, "keras_seg", handover)


def make_twin():
    """The PyTorch twin (classes defined here: the Keras process has no torch)."""

    class SameConv(nn.Conv2d):
        """A convolution with TensorFlow's "same" padding done inside the module."""

        def __init__(self, cin, cout, k, stride=1, pads=None):
            super().__init__(cin, cout, k, stride)
            self.pads = pads if pads is not None else (k // 2,) * 4  # left, right, top, bottom

        def forward(self, x):
            return super().forward(nn.functional.pad(x, self.pads))

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.e1 = SameConv(3, 8, 3)
            self.d1 = SameConv(8, 12, 3, 2, pads=(0, 1, 0, 1))  # even input: bottom, right
            self.pool = nn.MaxPool2d(2)
            self.d2 = SameConv(12, 16, 3)
            self.u2 = nn.ConvTranspose2d(16, 12, 3, 2)  # 9×9, cut to 8×8 in forward
            self.c2 = SameConv(24, 12, 3)
            self.u1 = nn.ConvTranspose2d(12, 8, 2, 2)
            self.side_a, self.side_b = nn.Conv2d(12, 4, 1), nn.Conv2d(16, 4, 1)
            self.cls = nn.Conv2d(24, CLASSES, 1)
            self.relus = nn.ModuleList(nn.ReLU() for _ in range(6))

        def forward(self, x):
            r = iter(self.relus)
            e1 = next(r)(self.e1(x.permute(0, 3, 1, 2)))
            d1 = next(r)(self.d1(e1))
            d2 = next(r)(self.d2(self.pool(d1)))
            u2 = next(r)(self.u2(d2)[..., :-1, :-1])
            c2 = next(r)(self.c2(torch.cat([d1, u2], 1)))
            u1 = next(r)(self.u1(c2))
            side_a = nn.functional.interpolate(self.side_a(c2), scale_factor=2,
                                               mode="bilinear", align_corners=False)
            side_b = nn.functional.interpolate(self.side_b(d2), scale_factor=4, mode="nearest")
            side_b = nn.functional.pad(side_b, (2, 0, 1, 1))[..., 1:-1, :-2]  # 2 columns right
            return self.cls(torch.cat([e1, u1, side_a, side_b], 1))  # N×K×H×W

    return Twin().eval()


def main(out_dir):
    write_map_fixture(__file__, out_dir, "keras_seg", make_twin, CONVS)


if __name__ == "__main__":
    script_main(keras_part, main)
