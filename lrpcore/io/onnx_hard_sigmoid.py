"""Keras's hard sigmoid, written as arithmetic, read back as the one activation it is.

Keras's MobileNetV3 computes its squeeze-and-excitation gates and hard-swish activations with
``ReLU(6.0)(x + 3.0) * (1.0 / 6.0)``, which tf2onnx exports as Add, Clip(0, 6) and Mul. Read
operator by operator, the Add of 3 folded into the convolution before it changed that layer's
relevance (its z gained 3), and the Mul of 1/6 left the hard swish x · hard_sigmoid(x) a
product of two signals, refused. The three operators are exactly ONNX's HardSigmoid
(α = 1/6, β = 1/2), PyTorch's ``nn.Hardsigmoid``: rewritten to one HardSigmoid node before
the import reads the graph, a Keras MobileNetV3 loads as PyTorch's does (HardSigmoid, its
hard swish, its gates) and explains as zennit explains torchvision's.

PyTorch's exports are left as written: there ``F.relu6(x + 3) / 6`` is arithmetic in
``forward``, where zennit takes the gradient, not the Pass it gives ``nn.Hardsigmoid``.
"""

from __future__ import annotations

import numpy as np

MATCH = 1e-6  # the Mul's constant is 1/m rounded to float32: m · c within this of 1


def _scalar(onnx, name, consts, constant_nodes):
    """The value of a one-element constant named ``name`` (an initializer or a Constant
    node's), else None."""
    value = consts.get(name)
    if value is None and name in constant_nodes:
        attrs = {a.name: a for a in constant_nodes[name].attribute}
        if "value" in attrs and np.prod(attrs["value"].t.dims) == 1:
            try:  # a malformed one is the import's to refuse, named, when it reaches it
                value = onnx.numpy_helper.to_array(attrs["value"].t)
            except (ValueError, TypeError, KeyError):
                return None
    if value is None or np.size(value) != 1 or np.asarray(value).dtype.kind != "f":
        return None
    value = float(np.asarray(value).reshape(-1)[0])
    return value if np.isfinite(value) else None


def _data_and_constant(onnx, node, consts, constant_nodes):
    """(the data input, the scalar constant) of a two-input Add or Mul, else None."""
    if len(node.input) != 2:
        return None
    for data, const in (node.input, node.input[::-1]):
        value = _scalar(onnx, const, consts, constant_nodes)
        if value is not None and data not in consts and data not in constant_nodes:
            return data, value
    return None


def _clip_bounds(onnx, node, consts, constant_nodes, opset):
    """A Clip's (min, max), None for either that is absent or no plain number."""
    if opset < 11:
        attrs = {a.name: a for a in node.attribute if a.type == onnx.AttributeProto.FLOAT}
        return tuple(float(attrs[k].f) if k in attrs else None for k in ("min", "max"))
    bounds = [_scalar(onnx, n, consts, constant_nodes) if n else None for n in node.input[1:3]]
    return tuple(bounds + [None] * (2 - len(bounds)))


def fuse(onnx, nodes, consts, outputs, opset):
    """``nodes`` with each Add(x, a) → Clip(0, m) → Mul(1/m) (or Div(m)) whose two inner
    tensors nothing else reads replaced by one HardSigmoid(α = 1/m, β = a/m) node named as
    the Clip (the ReLU6 layer), writing the Mul's output; other nodes as they were."""
    constant_nodes = {n.output[0]: n for n in nodes if n.op_type == "Constant" and n.output}
    readers: dict = {}
    for k, n in enumerate(nodes):
        for name in n.input:
            readers.setdefault(name, []).append(k)
    outputs = set(outputs)

    def sole_reader(node, ops):
        """The index of the one node reading ``node``'s one output, when it is of ``ops``."""
        ks = readers.get(node.output[0], []) if len(node.output) == 1 else []
        if len(ks) == 1 and node.output[0] not in outputs and nodes[ks[0]].op_type in ops:
            return ks[0]
        return None

    drop, replace = set(), {}
    for k, add in enumerate(nodes):
        if add.op_type != "Add":
            continue
        operands = _data_and_constant(onnx, add, consts, constant_nodes)
        c = sole_reader(add, ("Clip",))
        if operands is None or c is None or nodes[c].input[0] != add.output[0]:
            continue
        low, high = _clip_bounds(onnx, nodes[c], consts, constant_nodes, opset)
        m = sole_reader(nodes[c], ("Mul", "Div"))
        if low != 0 or high is None or not high > 0 or m is None or len(nodes[m].output) != 1:
            continue
        scaled = _data_and_constant(onnx, nodes[m], consts, constant_nodes)
        if scaled is None or scaled[0] != nodes[c].output[0]:
            continue
        if nodes[m].op_type == "Div" and (nodes[m].input[0] != scaled[0] or scaled[1] != high):
            continue
        if nodes[m].op_type == "Mul" and abs(scaled[1] * high - 1) > MATCH:
            continue
        x, shift = operands
        with np.errstate(over="ignore"):
            params = np.float32([1 / high, shift / high])  # an ONNX attribute is a float32
        if not np.all(np.isfinite(params)):  # Clip(0, 1e-30) after Add(1e10): left as written
            continue
        replace[m] = onnx.helper.make_node(
            "HardSigmoid", [x], [nodes[m].output[0]], name=nodes[c].name,
            alpha=1 / high, beta=shift / high)
        drop.update((k, c))
    if not replace:
        return nodes
    return [replace.get(k, n) for k, n in enumerate(nodes) if k not in drop]
