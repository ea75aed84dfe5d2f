"""Make the Keras normalisation zoo fixture (run as ``make_zoo_keras_fixture.py``)::

    /tmp/zvenv/bin/python tools/make_zoo_keras_norm_fixture.py tests/data/zoo

The network (N×H×W×C, 8×8×3): Conv2D "same" → GroupNormalization(groups=2) → ReLU → Conv2D →
LayerNormalization (over the channels; tf2onnx moves its Transposes past it: statistics over
axis 1 of N×C×H×W) → ReLU → Conv2D 1×1 → LayerNormalization(center=False) →
GroupNormalization(groups=8, scale=False: an instance norm) → ReLU → GlobalAveragePooling2D →
Dense → LayerNormalization (over the features) → ReLU → Dense of 4 classes. tf2onnx writes each
normalisation as its arithmetic (ReduceMean, Sub, Mul, ReduceMean, Add ε, Sqrt, Reciprocal,
Mul γ, Mul, Neg, Mul, Add β, Add; the group norms between a Reshape to N×H×W×g×(C/g) and one
back). Writes ``keras_norm_tf2onnx.onnx`` and ``keras_norm.npz`` as the other fixtures.

The zennit reference runs on a PyTorch twin with Keras's weights: ``nn.GroupNorm`` and
``nn.LayerNorm`` (over the channels of the permuted map, as torchvision's ``LayerNorm2d``), which
zennit's composites hook no rule to (its autograd takes their gradient). Its outputs are checked
against Keras's.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from make_zoo_keras_fixture import script_main  # noqa: E402

SHAPE = (8, 8, 3)
CLASSES = 4
EPS = 1e-3  # Keras's default for both normalisations
NORMS = ("gn", "ln", "ln_nocenter", "gn_inst", "ln_dense")
WEIGHTED = ("c1", "c2", "c3", "d", "fc") + NORMS

if "--keras-part" not in sys.argv:
    import torch
    from make_zoo_keras_fixture import write_fixture
    from torch import nn


def keras_part(out_dir, handover):
    """In a process without torch (TensorFlow and PyTorch crash in one process)."""
    import keras
    from keras import layers
    from make_zoo_keras_fixture import export_centred, randomise

    keras.utils.set_random_seed(13)
    inp = keras.Input(SHAPE, name="input")
    x = layers.Conv2D(8, 3, padding="same", name="c1")(inp)
    x = layers.GroupNormalization(groups=2, name="gn")(x)
    x = layers.ReLU()(x)
    x = layers.Conv2D(8, 3, padding="same", name="c2")(x)
    x = layers.LayerNormalization(name="ln")(x)
    x = layers.ReLU()(x)
    x = layers.Conv2D(8, 1, name="c3")(x)
    x = layers.LayerNormalization(center=False, name="ln_nocenter")(x)
    x = layers.GroupNormalization(groups=8, scale=False, name="gn_inst")(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(6, name="d")(x)
    x = layers.LayerNormalization(name="ln_dense")(x)
    x = layers.ReLU()(x)
    out = layers.Dense(CLASSES, name="fc")(x)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(13)
    randomise(model, rng)  # random betas (a layer's last weight)
    for name in NORMS:  # and gammas
        layer = model.get_layer(name)
        weights = layer.get_weights()
        if layer.scale:
            weights[0] = (0.5 + rng.random(weights[0].shape)).astype(np.float32)
        layer.set_weights(weights)
    x = rng.random((64,) + SHAPE)
    model(x[:1].astype(np.float32))  # Keras exports only a model that has been called
    export_centred(model, x, "fc", os.path.join(out_dir, "keras_norm_tf2onnx.onnx"))
    weights = {f"{name}/{k}": w for name in WEIGHTED
               for k, w in enumerate(model.get_layer(name).get_weights())}
    np.savez(handover, x=x, keras_y=model(x.astype(np.float32)).numpy(), **weights)


def twin_of(weights, onnx_path):
    class ChannelLayerNorm(nn.LayerNorm):
        """LayerNorm over the channels of an N×C×H×W map (torchvision's LayerNorm2d)."""

        def forward(self, x):
            return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1)
            self.c3 = nn.Conv2d(8, 8, 1)
            self.gn, self.gn_inst = nn.GroupNorm(2, 8, eps=EPS), nn.GroupNorm(8, 8, eps=EPS)
            self.ln = ChannelLayerNorm(8, eps=EPS)
            self.ln_nocenter = ChannelLayerNorm(8, eps=EPS)
            self.relu1, self.relu2, self.relu3, self.relu4 = (nn.ReLU() for _ in range(4))
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.d, self.ln_dense = nn.Linear(8, 6), nn.LayerNorm(6, eps=EPS)
            self.fc = nn.Linear(6, CLASSES)

        def forward(self, x):
            x = self.relu1(self.gn(self.c1(x.permute(0, 3, 1, 2))))
            x = self.relu2(self.ln(self.c2(x)))
            x = self.relu3(self.gn_inst(self.ln_nocenter(self.c3(x))))
            x = self.relu4(self.ln_dense(self.d(torch.flatten(self.pool(x), 1))))
            return self.fc(x)

    twin = Twin().eval()
    t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32))  # noqa: E731
    for name in ("c1", "c2", "c3"):
        conv = getattr(twin, name)
        conv.weight.data = t(weights[f"{name}/0"]).permute(3, 2, 0, 1)
        conv.bias.data = t(weights[f"{name}/1"])
    for name in ("d", "fc"):
        dense = getattr(twin, name)
        dense.weight.data, dense.bias.data = t(weights[f"{name}/0"]).T, t(weights[f"{name}/1"])
    params = {"gn": ("gamma", "beta"), "ln": ("gamma", "beta"), "ln_nocenter": ("gamma",),
              "gn_inst": ("beta",), "ln_dense": ("gamma", "beta")}
    for name, kinds in params.items():
        norm = getattr(twin, name)
        norm.weight.data, norm.bias.data = torch.ones(norm.weight.shape), torch.zeros(
            norm.bias.shape)
        for k, kind in enumerate(kinds):
            target = norm.weight if kind == "gamma" else norm.bias
            target.data = t(weights[f"{name}/{k}"])
    return twin


def main(out_dir):
    write_fixture(__file__, out_dir, "keras_norm", twin_of)


if __name__ == "__main__":
    script_main(keras_part, main)
