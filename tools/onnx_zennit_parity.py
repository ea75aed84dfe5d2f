"""Check LRP Explorer against zennit on an ONNX classifier of static operators, with your inputs.

Issue 12's held-back models and inputs are checked the way the shared references were made:
zennit 0.5.1's composites in float64, target the predicted class, BatchNorm folded exactly, each
skip addition through zennit's ``Sum``, each padded convolution one module (padded entries take
no part in flat and zB). This rebuilds such a PyTorch twin from the ONNX file itself — one
module per node, run in the file's order, so zennit's first-layer rules find the first
convolution — explains with six presets and compares with ``lrpcore`` run through ``--python``,
per sample: max|R − R_zennit| / max|R_zennit|, outputs absolutely. Run by hand in a scratch
environment with torch, zennit and onnx::

    /tmp/zvenv/bin/python tools/onnx_zennit_parity.py MODEL.onnx X.npy --python python3 \
        [--low 0 --high 1]

X.npy: the input as the model takes it (N×C×H×W, normalised). ``--low/--high``: the raw
range before the file's normalisation is unknown here, so zB's bounds are given directly,
per channel or one value (default: X's own minimum and maximum per channel).
Operators: Conv, Gemm, Relu, LeakyReLU, Clip, Add of two tensors, Concat, MaxPool,
AveragePool, GlobalAveragePool, Flatten, BatchNormalization (folded into a Conv it follows),
Constant, Identity;
for Pad subgraphs computed from shapes (EfficientNet-Lite0) see ``lite0_zennit_parity.py``.
Not part of the test suite: PyTorch is never a dependency of this project.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn
from zennit.attribution import Gradient

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_zoo_fixtures import Merge, composites  # noqa: E402 (the zoo's references' own)

PRESETS = ("epsilon_0p01", "EpsilonPlus", "EpsilonPlusFlat", "EpsilonAlpha2Beta1",
           "EpsilonAlpha2Beta1Flat", "EpsilonGammaBox")
SPECS = {"epsilon_0p01": "epsilon:0.01"}  # lrpcore's spec where the name is no preset

LRPCORE_PART = """
import sys, numpy as np, lrpcore
from dataclasses import replace
data = dict(np.load(sys.argv[1]))
model = lrpcore.load_model(sys.argv[2])
low, high = data["low"], data["high"]
# zB's bounds per channel, as an input specification whose raw range [0, 1] maps onto them
model.input_spec = replace(model.input_spec, mean=tuple(map(float, -low / (high - low))),
                           std=tuple(map(float, 1 / (high - low))))
fw = lrpcore.Explainer(model, dtype="float64").forward(data["x"], raw=True)
out = {"Y": fw.outputs()}
specs = dict(arg.split("=", 1) for arg in sys.argv[4:])
for name, spec in specs.items():
    out["R__" + name] = fw.relevance(spec)
np.savez(sys.argv[3], **out)
"""


class PaddedConv(nn.Conv2d):
    """A convolution whose ONNX pads (any four) are applied inside it: zennit's rule modifies
    the unpadded input, so padded entries take no part in flat and zB (the shared references'
    convention)."""

    def __init__(self, *args, pads=(0, 0, 0, 0), **kwargs):
        super().__init__(*args, **kwargs)
        top, left, bottom, right = pads
        self.pads = (left, right, top, bottom)

    def forward(self, x):
        return super().forward(nn.functional.pad(x, self.pads))


class PaddedMaxPool(nn.MaxPool2d):
    def __init__(self, *args, pads=(0, 0, 0, 0), **kwargs):
        super().__init__(*args, **kwargs)
        top, left, bottom, right = pads
        self.pads = (left, right, top, bottom)

    def forward(self, x):
        return super().forward(nn.functional.pad(x, self.pads, value=-np.inf))


class Graph(nn.Module):
    """The nodes as submodules (``layers``, in file order) run in file order (``steps``)."""

    def __init__(self, input_name, output_name):
        super().__init__()
        self.names = (input_name, output_name)
        self.layers = nn.ModuleDict()
        self.steps = []  # (layer name, inputs, output)

    def add(self, name, module, inputs, output):
        self.layers[name] = module
        self.steps.append((name, inputs, output))

    def forward(self, x):
        env = {self.names[0]: x}
        for name, inputs, output in self.steps:
            env[output] = self.layers[name](*(env[i] for i in inputs))
        return env[self.names[1]]


class Cat(nn.Module):
    def __init__(self, axis):
        super().__init__()
        self.axis = axis

    def forward(self, *parts):
        return torch.cat(parts, self.axis)


def twin(path):
    """The ONNX graph as a torch module of one submodule per node (zennit's rules attach to
    them), each BatchNorm folded exactly into the convolution before it."""
    proto = onnx.load(path)
    consts = {t.name: numpy_helper.to_array(t).astype(np.float64)
              for t in proto.graph.initializer}
    nodes = list(proto.graph.node)
    g = Graph(proto.graph.input[0].name, proto.graph.output[0].name)
    renamed = {}  # a folded BatchNorm's output: the convolution's
    for k, node in enumerate(nodes):
        a = {att.name: helper.get_attribute_value(att) for att in node.attribute}
        op, name = node.op_type, f"n{k}"
        data = [renamed.get(i, i) for i in node.input if i and i not in consts]
        out = node.output[0]
        if op == "Constant":
            consts[out] = numpy_helper.to_array(a["value"]).astype(np.float64)
        elif op == "Identity":  # TorchScript's copies of shared weights, or of data
            if node.input[0] in consts:
                consts[out] = consts[node.input[0]]
            else:
                renamed[out] = renamed.get(node.input[0], node.input[0])
        elif op == "Conv":
            W = consts[node.input[1]]
            B = consts[node.input[2]] if len(node.input) > 2 else np.zeros(W.shape[0])
            after = [m for m in nodes if out in m.input]
            if len(after) == 1 and after[0].op_type == "BatchNormalization":
                s, b, mean, var = (consts[i] for i in after[0].input[1:5])
                eps = next((att.f for att in after[0].attribute if att.name == "epsilon"),
                           1e-5)
                scale = s / np.sqrt(var + eps)
                W, B = W * scale[:, None, None, None], (B - mean) * scale + b
                renamed[after[0].output[0]] = out
            groups = a.get("group", 1)
            conv = PaddedConv(W.shape[1] * groups, W.shape[0], tuple(W.shape[2:]),
                              stride=tuple(a.get("strides", (1, 1))),
                              dilation=tuple(a.get("dilations", (1, 1))), groups=groups,
                              pads=tuple(a.get("pads", (0, 0, 0, 0))))
            conv.weight.data, conv.bias.data = torch.tensor(W), torch.tensor(B)
            g.add(name, conv, data, out)
        elif op == "BatchNormalization" and out in renamed:
            continue
        elif op == "Gemm":
            W, B = consts[node.input[1]], consts[node.input[2]]
            W = W if a.get("transB", 0) else W.T
            linear = nn.Linear(W.shape[1], W.shape[0])
            linear.weight.data, linear.bias.data = torch.tensor(W), torch.tensor(B)
            g.add(name, linear, data, out)
        elif op == "Add" and len(data) == 2:
            g.add(name, Merge(), data, out)  # zennit's Sum in zennit_side
        elif op == "Concat":
            g.add(name, Cat(a["axis"]), data, out)
        elif functional(node):  # no module: zennit leaves it to autograd
            g.add(name, Functional(_simple(path, node, a, consts)), data[:1], out)
        else:
            g.add(name, _simple(path, node, a, consts), data[:1], out)
    return g.double().eval()


def functional(node):
    """A PyTorch export names a module's node by its module path (``/avgpool/...``); a call
    in ``forward`` (torchvision MobileNetV2's ``F.adaptive_avg_pool2d``) sits at the top
    (``/GlobalAveragePool``). zennit's rules attach to modules only."""
    return node.op_type not in ("Flatten",) and node.name.count("/") == 1


class Functional(nn.Module):
    """A module zennit has no rule for, so relevance passes it as autograd's gradient."""

    def __init__(self, inner):
        super().__init__()
        self.__dict__["inner"] = inner  # not a submodule: no rule may attach to it

    def forward(self, x):
        return self.inner(x)


def _simple(path, node, a, consts):
    op = node.op_type
    if op == "Relu":
        return nn.ReLU()
    if op == "LeakyReLU":
        return nn.LeakyReLU(a.get("alpha", 0.01))
    if op == "Clip":
        low = consts[node.input[1]] if len(node.input) > 1 else a["min"]
        high = consts[node.input[2]] if len(node.input) > 2 else a["max"]
        low, high = float(low), float(high)
        return nn.ReLU6() if (low, high) == (0.0, 6.0) else nn.Hardtanh(low, high)
    if op == "GlobalAveragePool":
        return nn.AdaptiveAvgPool2d(1)
    if op == "Flatten":
        return nn.Flatten(a.get("axis", 1))
    if op in ("MaxPool", "AveragePool"):
        pads = tuple(a.get("pads", (0, 0, 0, 0)))
        kernel, stride = tuple(a["kernel_shape"]), tuple(a.get("strides", (1, 1)))
        ceil = bool(a.get("ceil_mode", 0))
        if op == "MaxPool":
            return PaddedMaxPool(kernel, stride, ceil_mode=ceil, pads=pads)
        if pads[:2] != pads[2:]:
            raise SystemExit(f"{path}: node {node.name!r}: asymmetric average pool pads")
        return nn.AvgPool2d(kernel, stride, padding=pads[:2], ceil_mode=ceil,
                            count_include_pad=bool(a.get("count_include_pad", 0)))
    raise SystemExit(f"{path}: node {node.name!r} ({op}) is not handled by this tool")


def zennit_side(model, x, low, high):
    """zennit's outputs and relevance under the zoo's composites, float64, target the
    predicted class; zB's bounds per channel as given."""
    xt = torch.tensor(x, dtype=torch.float64)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    lo = torch.tensor(low).reshape(shape).expand_as(xt).contiguous()
    hi = torch.tensor(high).reshape(shape).expand_as(xt).contiguous()
    with torch.no_grad():
        Y = model(xt)
    onehot = torch.nn.functional.one_hot(Y.argmax(1), Y.shape[1]).double()
    out = {"Y": Y.numpy()}
    Merge.zennit = True  # each Add through zennit's Sum (Norm rule)
    try:
        for name, composite in composites(lo, hi).items():
            with Gradient(model, composite) as attributor:
                _, R = attributor(xt, lambda y: y * onehot)
            out["R__" + name] = R.numpy()
    finally:
        Merge.zennit = False
    return out


def lrpcore_side(python, path, x, low, high):
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "x.npz"), os.path.join(tmp, "R.npz")
        np.savez(inp, x=x, low=low, high=high)
        specs = [f"{name}={SPECS.get(name, name)}" for name in PRESETS]
        subprocess.run([python, "-c", LRPCORE_PART, inp, path, out, *specs], check=True)
        with np.load(out) as data:
            return {k: data[k] for k in data.files}


def report(ours, theirs, title="LRP Explorer vs zennit"):
    """Per sample and preset (those both hold): max|ΔR| / max|R|, as issue 12 measures."""
    n = len(theirs["Y"])
    print(f"{title}: outputs within {np.abs(ours['Y'] - theirs['Y']).max():.1e}; predicted "
          f"{theirs['Y'].argmax(1).tolist()}; relevance per sample, max|ΔR| / max|R|:")
    for name in (p for p in PRESETS if "R__" + p in ours and "R__" + p in theirs):
        a, b = ours["R__" + name].reshape(n, -1), theirs["R__" + name].reshape(n, -1)
        scale = np.abs(b).max(axis=1)  # an all-zero map (a black input): the absolute error
        errors = np.abs(a - b).max(axis=1) / np.where(scale > 0, scale, 1)
        print(f"  {name:24s} " + " ".join(f"{e:.1e}" for e in errors))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("inputs", help="N×C×H×W .npy, as the model takes it")
    p.add_argument("--python", default="python3", help="an interpreter that has lrpcore")
    p.add_argument("--low", type=float, nargs="+", help="zB's lower bound per channel")
    p.add_argument("--high", type=float, nargs="+", help="zB's upper bound per channel")
    args = p.parse_args(argv)
    x = np.load(args.inputs).astype(np.float64)
    axes = (0,) + tuple(range(2, x.ndim))
    low = np.broadcast_to(args.low if args.low else x.min(axis=axes), x.shape[1:2]).copy()
    high = np.broadcast_to(args.high if args.high else x.max(axis=axes), x.shape[1:2]).copy()
    report(lrpcore_side(args.python, os.path.abspath(args.model), x, low, high),
           zennit_side(twin(args.model), x, low, high))


if __name__ == "__main__":
    sys.exit(main())
