"""Check LRP Explorer against zennit on the shared EfficientNet-Lite0 with inputs of your own.

The shared reference (``../shared/reference/efficientnet_lite0_dev.npz``) holds two photographs;
held-back inputs are checked the same way. This builds zennit's side from the ONNX file's own
weights (``bench_zennit.lite0``, BatchNorms already folded there, so none is left to fold and
zennit's ``SequentialMergeBatchNorm`` eps shift cannot enter), and compares it with ``lrpcore``
run through ``--python`` as ``onnx_zennit_parity.py`` does (its zennit side, lrpcore side and
report; that tool cannot rebuild the shape subgraphs of this file's Pad nodes). Run by hand in
a scratch environment with torch, zennit 0.5.1 and onnx::

    /tmp/zvenv/bin/python tools/lite0_zennit_parity.py --python python3 [IMAGES.npy]

IMAGES.npy: N×224×224×3 uint8 photographs; without it, five that stress the input-dependent
paths: black, white (every first-layer input of one sign), saturated red and blue halves, uniform
noise, a horizontal ramp. ``--check-reference`` first reproduces the shared reference (the
twin's own test). Not part of the test suite: PyTorch is never a dependency of this project.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import onnx_zennit_parity as parity  # noqa: E402

SHARED = os.path.join(HERE, "..", "..", "shared")
ONNX = os.path.join(SHARED, "models", "torch_onnx", "efficientnet_lite0.onnx")
REFERENCE = os.path.join(SHARED, "reference", "efficientnet_lite0_dev.npz")
MEAN, STD = 0.498, 0.502
# zB's bounds: the normalised images of pixels 0 and 255, per channel
LOW, HIGH = np.full(3, (0 - MEAN) / STD), np.full(3, (1 - MEAN) / STD)


def synthetic_images(size=224, seed=5):
    rng = np.random.default_rng(seed)
    half = size // 2
    halves = np.zeros((size, size, 3))
    halves[:, :half, 0] = 255
    halves[:, half:, 2] = 255
    ramp = np.broadcast_to(np.linspace(0, 255, size)[None, :, None], (size, size, 3))
    return np.stack([np.zeros((size, size, 3)), np.full((size, size, 3), 255.0), halves,
                     rng.integers(0, 256, (size, size, 3)), ramp]).astype(np.uint8)


def twin():
    """bench_zennit's Lite0 with the ONNX file's folded weights, the stem's "same" padding
    inside the convolution (as the shared reference: padded entries take no part in zB/flat)."""
    import onnx
    import torch
    from onnx import numpy_helper
    from torch import nn

    sys.path.insert(0, HERE)
    import bench_zennit

    class PaddedConv(nn.Conv2d):
        def forward(self, x):
            return super().forward(nn.functional.pad(x, (0, 1, 0, 1)))

    proto = onnx.load(ONNX)
    weights = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    linear = [n for n in proto.graph.node if n.op_type in ("Conv", "Gemm")]
    model = bench_zennit.lite0()
    assert isinstance(model[0], nn.ZeroPad2d) and tuple(model[0].padding) == (0, 1, 0, 1)
    model[0], model[1] = nn.Identity(), PaddedConv(3, 32, 3, 2, bias=False)
    _drop_batchnorms(model, nn)
    modules = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(modules) == len(linear)
    with torch.no_grad():
        for module, node in zip(modules, linear, strict=True):
            W, B = (torch.tensor(weights[n], dtype=torch.float64) for n in node.input[1:3])
            assert module.weight.shape == W.shape, (module, W.shape)
            module.weight = nn.Parameter(W)
            module.bias = nn.Parameter(B)
    return model.double().eval()


def _drop_batchnorms(parent, nn):
    for name, child in parent.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(parent, name, nn.Identity())
        else:
            _drop_batchnorms(child, nn)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("images", nargs="?", help="N×224×224×3 uint8 .npy (default: five synthetic)")
    p.add_argument("--python", default="python3", help="an interpreter that has lrpcore")
    p.add_argument("--check-reference", action="store_true",
                   help="first compare the twin with the shared reference's two photographs")
    args = p.parse_args(argv)
    model = twin()
    if args.check_reference:
        with np.load(REFERENCE) as data:
            ref = {k: data[k] for k in data.files}
        mine = parity.zennit_side(model, ref["x"].astype(np.float64), LOW, HIGH)
        parity.report(mine, ref, "twin vs the shared reference")
    pixels = synthetic_images() if args.images is None else np.load(args.images)
    x = (pixels.transpose(0, 3, 1, 2) / 255.0 - MEAN) / STD
    parity.report(parity.lrpcore_side(args.python, ONNX, x, LOW, HIGH),
                  parity.zennit_side(model, x, LOW, HIGH))


if __name__ == "__main__":
    sys.exit(main())
