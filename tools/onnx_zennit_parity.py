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
Operators: Conv, Gemm, MatMul (bias-free Linear), Relu, LeakyRelu, Clip, Sigmoid, Tanh,
Softmax, LogSoftmax, HardSigmoid, HardSwish, Add of two tensors, Mul of two tensors (a
squeeze-and-excitation gate in a forward: its gradient), Concat, MaxPool, AveragePool,
GlobalAveragePool, ReduceMean over height and width, Flatten (Reshape, Squeeze to N×features),
BatchNormalization (folded into a Conv it follows; else a BatchNorm module, which zennit
passes), Mul/Div/Add/Sub of a constant (arithmetic in a forward: its gradient), constant
zero Pads before a Conv (its padding), Constant, Identity, Dropout, Cast/CastLike (dropped),
zennit's stacked ``Sum`` (Unsqueeze, Concat, ReduceSum: one n-way Norm split), local
functions (``export_modules_as_functions=True``: inlined) and shape arithmetic of constants.
A call in ``forward`` is told from a module by the TorchScript node's scope or by dynamo's
``class_hierarchy`` (and stack trace, for subclasses of PyTorch's modules); inlined local
functions lose their scopes, so their calls read as modules here;
for Pad subgraphs computed from shapes (EfficientNet-Lite0) see ``lite0_zennit_parity.py``.
Not part of the test suite: PyTorch is never a dependency of this project.
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import tempfile
from fractions import Fraction

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn
from zennit.attribution import Gradient
from zennit.layer import Sum

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
        self.channels_last = False  # tf2onnx: N×H×W×C input, transposed first
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


class StackSum(nn.Module):
    """zennit's ``Sum`` over ``torch.stack(parts, dim=-1)``: how a model written with zennit's
    layer (or a canonizer) adds several tensors at once (exported as Unsqueeze along a new last
    axis, Concat along it and ReduceSum over it); its Norm rule splits among all parts."""

    def __init__(self):
        super().__init__()
        self.sum = Sum()

    def forward(self, *parts):
        return self.sum(torch.stack(parts, dim=-1))


class Product(nn.Module):
    """``scale * x`` of two signals (a squeeze-and-excitation gate, written in torchvision's
    ``forward``): no module zennit has a rule for, so relevance passes it as autograd's
    gradient."""

    def forward(self, a, b):
        return a * b


class HardSigmoid(nn.Hardsigmoid):
    """ONNX's ``HardSigmoid`` with its own alpha and beta: an ``nn.Hardsigmoid`` to zennit,
    which passes relevance through it."""

    def __init__(self, alpha, beta):
        super().__init__()
        self.alpha, self.beta = alpha, beta

    def forward(self, x):
        return torch.clamp(self.alpha * x + self.beta, 0.0, 1.0)


class Crop(nn.Module):
    """ONNX's Slice of constant starts, ends, axes and steps."""

    def __init__(self, starts, ends, axes=None, steps=None):
        super().__init__()
        n = len(starts)
        axes = range(n) if axes is None else axes
        steps = [1] * n if steps is None else steps
        self.cut = {int(ax): slice(int(b), None if e >= 2 ** 31 - 1 else int(e), int(st))
                    for ax, b, e, st in zip(axes, starts, ends, steps, strict=True)}

    def forward(self, x):
        return x[tuple(self.cut.get(k, slice(None)) for k in range(x.dim()))]


class Reshape4(nn.Module):
    """A Reshape to a 4-D shape of constants (the batch kept; 0 copies an axis)."""

    def __init__(self, shape):
        super().__init__()
        self.shape = [int(v) for v in shape]

    def forward(self, x):
        return x.reshape([x.shape[0]] + [x.shape[i] if v == 0 else v
                                         for i, v in enumerate(self.shape) if i > 0])


class Permute(nn.Module):
    def forward(self, x):
        return x.permute(0, 3, 1, 2)


class Affine(nn.BatchNorm2d):
    """x · s + b of constants (tf2onnx's BatchNormalization after no convolution, Keras's
    Rescaling): a BatchNorm to zennit's composites, which pass relevance through it."""

    def __init__(self, s, b):
        super().__init__(1)
        self.register_buffer("s", torch.tensor(s))
        self.register_buffer("b", torch.tensor(b))

    def forward(self, x):
        return x * self.s + self.b


class AnyBatchNorm(nn.BatchNorm2d):
    """A BatchNorm on a map or a flat tensor (zennit's composites pass both)."""

    def _check_input_dim(self, x):
        pass


class Arithmetic(nn.Module):
    """x · c, x / c, x + c or x − c (``(x − mean) / std`` or ``branch * 0.2`` in a forward): no
    module zennit has a rule for, so relevance passes it as autograd's gradient."""

    def __init__(self, op, c, data_first=True):
        super().__init__()
        self.op, self.data_first = op, data_first
        self.register_buffer("c", torch.tensor(c))

    def forward(self, x):
        a, b = (x, self.c) if self.data_first else (self.c, x)
        return {"Mul": torch.mul, "Div": torch.div, "Add": torch.add, "Sub": torch.sub}[
            self.op](a, b)


def twin(path):
    """The ONNX graph as a torch module of one submodule per node (zennit's rules attach to
    them), each BatchNorm folded exactly into the convolution before it."""
    proto = onnx.load(path)
    if proto.functions:  # export_modules_as_functions=True: the modules' operators inlined
        from onnx import inliner

        proto = inliner.inline_local_functions(proto)
    consts = {t.name: numpy_helper.to_array(t).astype(np.float64)
              for t in proto.graph.initializer}
    nodes = list(proto.graph.node)
    keras = proto.producer_name == "tf2onnx"  # Keras's layers of constants: folded or passed
    dynamo = any(p.key == "pkg.torch.onnx.class_hierarchy" for n in nodes
                 for p in n.metadata_props)
    g = Graph(proto.graph.input[0].name, proto.graph.output[0].name)
    renamed = {}  # a folded BatchNorm's output: the convolution's; a copy: its source
    padded = {}  # a constant Pad's output: (its input, its pads), for the Conv reading it
    stacked = {}  # torch.stack's parts: the Unsqueeze/Concat outputs → the tensors stacked
    skip = set()  # outputs of nodes read as part of an earlier one's module
    hard = {}  # a HardSigmoid's output (tf2onnx: Add, Clip, Mul of constants) → its input
    for k, node in enumerate(nodes):
        a = {att.name: helper.get_attribute_value(att) for att in node.attribute}
        op, name = node.op_type, f"n{k}"
        for o in node.output:  # named like an initializer (dynamo, optimize=False: 'mean')
            consts.pop(o, None)
        data = [renamed.get(i, i) for i in node.input if i and i not in consts]
        out = node.output[0]
        if out in skip:
            continue
        if op != "Conv":  # a zero Pad read by anything else: a ZeroPad2d module
            for d in (d for d in data if d in padded):
                top, left, bottom, right = padded.pop(d)[1]
                g.add(f"{name}_pad", nn.ZeroPad2d((left, right, top, bottom)),
                      [_source(padded, d, nodes, renamed)], d)
        gate = _sigmoid_gate(nodes, node, data, renamed) if op == "Mul" else None
        swish = next((x for x, h in (data, data[::-1]) if hard.get(h) == x), None) \
            if op == "Mul" and len(data) == 2 else None
        hsig = _keras_hard_sigmoid(nodes, out, consts) \
            if op == "Add" and len(data) == 1 else None
        if gate is not None:  # x · sigmoid(x): SiLU (a module zennit passes, or a call)
            silu = nn.SiLU() if not functional(node, dynamo) else Functional(nn.SiLU())
            g.add(name, silu, [gate], out)
        elif swish is not None:  # x · HardSigmoid(x): a hard swish (tf2onnx), passed
            g.add(name, nn.Hardswish(), [swish], out)
        elif hsig is not None:  # Keras's ReLU(6.0)(x + 3.0) * (1.0 / 6.0): passed
            (clip, mul), module = hsig
            skip.update((clip, mul))
            hard[mul] = data[0]
            g.add(name, module, data, mul)
        elif op == "CastLike" and node.input[0] in consts:  # a constant cast like the data
            consts[out] = consts[node.input[0]]
        elif op == "Shape":  # of data: read only by shape arithmetic for a flatten here
            consts[out] = np.ones(4)
        elif not data and op != "Constant":  # shape arithmetic: evaluated here
            consts[out] = _fold(op, a, [consts.get(i) for i in node.input if i], node)
        elif op == "Constant":
            consts[out] = numpy_helper.to_array(a["value"]).astype(np.float64) \
                if "value" in a else np.asarray(
                    a.get("value_float", a.get("value_floats", a.get("value_ints",
                                                                      a.get("value_int")))),
                    dtype=np.float64)
        elif op in ("Identity", "Dropout", "Cast", "CastLike"):  # copies of data
            renamed[out] = data[0]
        elif op == "Unsqueeze" and _last_new_axis(node, a, consts):
            stacked[out] = [data[0]]
        elif op == "Concat" and all(d in stacked for d in data):
            stacked[out] = [t for d in data for t in stacked[d]]
        elif op == "ReduceSum" and data[0] in stacked:
            g.add(name, StackSum(), stacked[data[0]], out)
        elif op == "Pad" and _zero_pad(node, a, consts) is not None:
            padded[out] = (data[0], _zero_pad(node, a, consts))
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
            elif keras:  # tf2onnx: Mul/Add of constants after it (BatchNormalization, a
                while len(after) == 1 and after[0].op_type in ("Mul", "Add") \
                        and sum(i in consts for i in after[0].input) == 1 \
                        and _keras_hard_sigmoid(nodes, after[0].output[0], consts) is None:
                    c = np.broadcast_to(next(consts[i] for i in after[0].input if i in consts)
                                        .reshape(-1), B.shape)
                    if after[0].op_type == "Mul":
                        W, B = W * c[:, None, None, None], B * c
                    else:
                        B = B + c
                    skip.add(after[0].output[0])  # layer's scale): folded, as the engine does
                    renamed[after[0].output[0]] = out
                    after = [m for m in nodes if after[0].output[0] in m.input]
            pads = np.array(a.get("pads", (0, 0, 0, 0)))
            while data[0] in padded:  # Pads before it (dynamo, optimize=False): its padding
                data[0], more = padded[data[0]]
                pads = pads + np.array(more)
            groups = a.get("group", 1)
            conv = PaddedConv(W.shape[1] * groups, W.shape[0], tuple(W.shape[2:]),
                              stride=tuple(a.get("strides", (1, 1))),
                              dilation=tuple(a.get("dilations", (1, 1))), groups=groups,
                              pads=tuple(int(p) for p in pads))
            conv.weight.data, conv.bias.data = torch.tensor(W), torch.tensor(B)
            g.add(name, conv, data, out)
        elif op == "BatchNormalization" and out in renamed:
            continue
        elif op == "BatchNormalization":  # after no convolution: zennit's composites pass it
            s, b, mean, var = (consts[i] for i in node.input[1:5])
            bn = AnyBatchNorm(len(s), eps=a.get("epsilon", 1e-5))
            for attr, v in (("weight", s), ("bias", b), ("running_mean", mean),
                            ("running_var", var)):
                getattr(bn, attr).data = torch.tensor(v)
            g.add(name, bn, data, out)
        elif op == "Gemm":
            W, B = consts[node.input[1]], consts[node.input[2]]
            W = W if a.get("transB", 0) else W.T
            linear = nn.Linear(W.shape[1], W.shape[0])
            linear.weight.data, linear.bias.data = torch.tensor(W), torch.tensor(B)
            g.add(name, linear, data, out)
        elif op == "MatMul" and node.input[1] in consts:  # a Linear (tf2onnx: + its bias)
            W = consts[node.input[1]].T
            bias = _constant_add(nodes, out, consts)
            linear = nn.Linear(W.shape[1], W.shape[0], bias=bias is not None)
            linear.weight.data = torch.tensor(W)
            if bias is not None:
                linear.bias.data = torch.tensor(consts[bias[1]].reshape(-1))
                renamed[bias[0]] = out
            g.add(name, linear, data, out)
        elif op == "Add" and out in renamed:  # a bias folded into its Linear or Affine
            continue
        elif op == "Reshape" and len(consts.get(node.input[1], ())) == 4:  # tf2onnx: a
            g.add(name, Reshape4(consts[node.input[1]]), data, out)  # pooled vector's 1×1 map
        elif op == "Transpose" and not g.channels_last and list(a["perm"]) == [0, 3, 1, 2]:
            g.channels_last = True  # tf2onnx's N×H×W×C input to N×C×H×W: gradient, exact
            g.add(name, Permute(), data, out)
        elif op == "Mul" and len(data) == 1 and _constant_add(nodes, out, consts) is not None:
            add, b = _constant_add(nodes, out, consts)  # tf2onnx's BatchNormalization or
            renamed[add] = out  # Rescaling: an Affine zennit's composites pass
            g.add(name, Affine(consts[node.input[1] if node.input[0] == data[0]
                                      else node.input[0]], consts[b]), data, out)
        elif op == "Add" and len(data) == 2:
            g.add(name, Merge(), data, out)  # zennit's Sum in zennit_side
        elif op == "Mul" and len(data) == 2:  # a gate: scale * x in a forward
            g.add(name, Product(), data, out)
        elif op in ("Mul", "Div", "Add", "Sub") and keras:  # Rescaling, Normalization, a
            first = node.input[0] not in consts  # BatchNormalization after no Conv: passed
            c = consts[node.input[1] if first else node.input[0]]
            s, b = {"Mul": (c, 0.0), "Div": (1 / c, 0.0), "Add": (1.0, c),
                    "Sub": (1.0, -c) if first else (-1.0, c)}[op]
            g.add(name, Affine(np.asarray(s, dtype=np.float64), np.asarray(b, dtype=np.float64)),
                  data, out)
        elif op in ("Mul", "Div", "Add", "Sub"):  # of a constant
            first = node.input[0] not in consts
            c = consts[node.input[1] if first else node.input[0]]
            g.add(name, Arithmetic(op, c, first), data, out)
        elif op == "Concat":
            g.add(name, Cat(a["axis"]), data, out)
        elif op == "Slice":  # a crop of constants (Keras's Cropping2D): its gradient, exact
            starts, ends, axes, steps = (consts.get(i) if i else None
                                         for i in (list(node.input[1:]) + [""] * 4)[:4])
            g.add(name, Crop(starts, ends, axes, steps), data, out)
        elif functional(node, dynamo):  # no module: zennit leaves it to autograd
            g.add(name, Functional(_simple(path, node, a, consts)), data[:1], out)
        else:
            g.add(name, _simple(path, node, a, consts), data[:1], out)
    return g.double().eval()


def _keras_hard_sigmoid(nodes, out, consts):
    """For the Add of x + a read only by a Clip(0, m) read only by a Mul of 1/m (Keras's
    ``ReLU(6.0)(x + 3.0) * (1.0 / 6.0)``): ((the Clip's output, the Mul's output), the
    HardSigmoid(1/m, a/m) module); else None."""
    clip = [m for m in nodes if out in m.input]
    if len(clip) != 1 or clip[0].op_type != "Clip" or len(clip[0].input) < 3:
        return None
    mul = [m for m in nodes if clip[0].output[0] in m.input]
    add = next(m for m in nodes if out in m.output)
    low, high = (consts.get(i) for i in clip[0].input[1:3])
    if len(mul) != 1 or mul[0].op_type != "Mul" or low is None or high is None \
            or float(low) != 0:
        return None
    c = next((consts[i] for i in mul[0].input if i in consts), None)
    a = next((consts[i] for i in add.input if i in consts), None)
    if c is None or a is None or c.size != 1 or a.size != 1 \
            or abs(_plain(c.item()) * float(high) - 1) > 1e-12:
        return None
    return ((clip[0].output[0], mul[0].output[0]),
            HardSigmoid(1 / float(high), a.item() / float(high)))


def _constant_add(nodes, out, consts):
    """(its output, the constant) for the one node reading ``out``, where that is an Add of
    a constant; else None."""
    readers = [m for m in nodes if out in m.input]
    if len(readers) != 1 or readers[0].op_type != "Add":
        return None
    other = [i for i in readers[0].input if i != out]
    return (readers[0].output[0], other[0]) if len(other) == 1 and other[0] in consts \
        else None


def _source(padded, name, nodes, renamed):
    """The tensor a Pad node with output ``name`` reads."""
    src = next(m for m in nodes if name in m.output)
    return renamed.get(src.input[0], src.input[0])


def _sigmoid_gate(nodes, node, data, renamed):
    """For a Mul of x and Sigmoid(x): x, else None."""
    if len(data) != 2:
        return None
    for x, gate in (data, data[::-1]):
        src = next((m for m in nodes if gate in m.output), None)
        if src is not None and src.op_type == "Sigmoid" \
                and renamed.get(src.input[0], src.input[0]) == x:
            return x
    return None


def _fold(op, a, ins, node):
    """A node of constants only (the exporters' shape arithmetic), evaluated."""
    x = ins[0] if ins else None
    if op in ("Cast", "CastLike", "Identity"):
        return x
    if op in ("Mul", "Div", "Add", "Sub"):
        return {"Mul": np.multiply, "Div": np.divide, "Add": np.add,
                "Sub": np.subtract}[op](ins[0], ins[1])
    if op == "Reshape":
        return np.reshape(x, [int(v) for v in ins[1]])
    if op == "Gather":
        return np.take(x, np.asarray(ins[1]).astype(int), axis=a.get("axis", 0))
    if op in ("Unsqueeze", "Squeeze"):
        axes = a.get("axes", ins[1] if len(ins) > 1 else None)
        if op == "Squeeze":
            return np.squeeze(x, axis=None if axes is None else tuple(int(v) for v in axes))
        for ax in sorted(int(v) for v in np.atleast_1d(axes)):
            x = np.expand_dims(x, ax)
        return x
    if op == "Concat":
        return np.concatenate([np.atleast_1d(v) for v in ins], axis=a["axis"])
    raise SystemExit(f"node {node.name!r} ({op}) of constants is not handled by this tool")


def _last_new_axis(node, a, consts):
    """Whether an Unsqueeze adds a new last axis to a map (torch.stack(..., dim=-1))."""
    axes = a.get("axes")
    if axes is None and len(node.input) > 1:
        axes = consts.get(node.input[1])
    axes = [int(v) for v in np.atleast_1d(axes)] if axes is not None else []
    return len(axes) == 1 and (axes[0] == -1 or axes[0] >= 4)


def _zero_pad(node, a, consts):
    """A constant Pad of zeros on height and width: (top, left, bottom, right), else None."""
    pads = a.get("pads")
    if pads is None and len(node.input) > 1:
        pads = consts.get(node.input[1])
    mode = a.get("mode", b"constant")
    value = consts.get(node.input[2]) if len(node.input) > 2 and node.input[2] else 0.0
    if pads is None or len(pads) != 8 or mode not in (b"constant", "constant") \
            or float(np.asarray(value).reshape(-1)[0]) != 0.0:
        return None
    pads = [int(p) for p in pads]
    return (pads[2], pads[3], pads[6], pads[7])


def functional(node, dynamo=False):
    """A PyTorch export names a module's node by its module path (``/avgpool/...``); a call
    in ``forward`` (torchvision MobileNetV2's ``F.adaptive_avg_pool2d``) sits at the top
    (``/GlobalAveragePool``). A ``dynamo=True`` export lists the module classes down to the
    operator (``pkg.torch.onnx.class_hierarchy``): a call where the class before the operator
    is none of PyTorch's own modules and its stack trace (when kept) does not end in one's
    forward (a subclass of ``nn.ReLU`` is hooked as its base). zennit's rules attach to
    modules only."""
    if node.op_type in ("Flatten", "Reshape", "Squeeze"):
        return False
    if not dynamo:
        return node.name.count("/") == 1
    props = {p.key: p.value for p in node.metadata_props}
    chain = ast.literal_eval(props.get("pkg.torch.onnx.class_hierarchy", "[]"))
    inner = chain[-2] if len(chain) >= 3 else ""
    trace = props.get("pkg.torch.onnx.stack_trace", "").replace("\\", "/")
    return not inner.startswith("torch.nn.modules.") and "torch/nn/modules/" not in \
        trace[trace.rfind('File "'):]


class Functional(nn.Module):
    """A module zennit has no rule for, so relevance passes it as autograd's gradient."""

    def __init__(self, inner):
        super().__init__()
        self.__dict__["inner"] = inner  # not a submodule: no rule may attach to it

    def forward(self, x):
        return self.inner(x)


def _plain(value):
    """A float32 attribute as the fraction the exporter rounded (PyTorch's 1/6), where one
    with a denominator up to 1,000 rounds to it."""
    fraction = float(Fraction(value).limit_denominator(1000))
    return fraction if np.float32(fraction) == np.float32(value) else value


def _simple(path, node, a, consts):
    op = node.op_type
    if op == "Relu":
        return nn.ReLU()
    if op == "LeakyRelu":
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
    if op in ("Reshape", "Squeeze"):  # to N×features: a flatten (a pooled map's 1×1 too)
        return nn.Flatten(1)
    if op == "ReduceMean":  # over height and width (dynamo's pooling), keepdims or not
        axes = a.get("axes", consts.get(node.input[1]) if len(node.input) > 1 else None)
        if sorted(int(v) % 4 for v in np.atleast_1d(axes)) != [2, 3]:
            raise SystemExit(f"{path}: node {node.name!r}: ReduceMean over {axes}")
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), *(() if a.get("keepdims", 1)
                                                        else (nn.Flatten(1),)))
    if op in ("Softmax", "LogSoftmax"):  # zennit has no rule: its gradient
        return (nn.Softmax if op == "Softmax" else nn.LogSoftmax)(a.get("axis", -1))
    if op in ("Sigmoid", "Tanh"):
        return nn.Sigmoid() if op == "Sigmoid" else nn.Tanh()
    if op == "HardSigmoid":
        return HardSigmoid(*(_plain(a.get(k, v)) for k, v in (("alpha", 0.2), ("beta", 0.5))))
    if op == "HardSwish":
        return nn.Hardswish()
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
    seen = xt.permute(0, 3, 1, 2) if model.channels_last else xt  # the first convolution's
    lo = torch.tensor(low).reshape(shape).expand_as(seen).contiguous()
    hi = torch.tensor(high).reshape(shape).expand_as(seen).contiguous()
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
    model = twin(args.model)
    channel = x.ndim - 1 if model.channels_last else 1
    axes = tuple(k for k in range(x.ndim) if k != channel)
    n = (x.shape[channel],)
    low = np.broadcast_to(args.low if args.low else x.min(axis=axes), n).copy()
    high = np.broadcast_to(args.high if args.high else x.max(axis=axes), n).copy()
    report(lrpcore_side(args.python, os.path.abspath(args.model), x, low, high),
           zennit_side(model, x, low, high))


if __name__ == "__main__":
    sys.exit(main())
