"""Read groups of ONNX element-wise operators computed from one tensor as one activation.

GELU exported by the TorchScript exporter is ``x · (erf(x/√2) + 1) · 0.5``: a Div, an Erf, an
Add and two Muls, one of them a product of two tensors, which on its own this engine refuses
(no LRP rule for a product of two signals). Both factors are functions of the same ``x``, so
the product is an element-wise function of ``x``: an activation, which zennit passes relevance
through. Each operator here extends a :class:`~lrpcore.graph_elementwise.Elementwise` node's
program; a product, sum or ``Where`` of tensors becomes one when every operand is computed from
one common tensor through nodes read by nothing else (so no other branch loses a tensor it
reads). Gates computed from another tensor (squeeze-and-excitation, attention) have no common
tensor and stay refused.
"""

from __future__ import annotations

import math

import numpy as np

from ..graph_activations import Sigmoid
from ..graph_elementwise import MAX_STEPS, Elementwise
from ..graph_layers import Affine, Scale
from ..layers import Rect, Tanh

# ONNX operator of one data input → its program over "x" (attributes → numbers)
_SQRT_HALF = 1 / math.sqrt(2)


def _gelu(attrs):
    approx = str(attrs.get("approximate", "none"))  # text: onnx_graph._attrs decodes it
    if approx == "tanh":
        return [["pow", "x", 3.0], ["mul", 0, 0.044715], ["add", "x", 1],
                ["mul", 2, math.sqrt(2 / math.pi)], ["tanh", 3], ["add", 4, 1.0],
                ["mul", "x", 5], ["mul", 6, 0.5]]
    if approx != "none":
        return None
    return [["mul", "x", _SQRT_HALF], ["erf", 0], ["add", 1, 1.0], ["mul", "x", 2],
            ["mul", 3, 0.5]]


UNARY = {
    "Erf": lambda a: [["erf", "x"]],
    "Abs": lambda a: [["abs", "x"]],
    "Exp": lambda a: [["exp", "x"]],
    "Log": lambda a: [["log", "x"]],
    "Sqrt": lambda a: [["sqrt", "x"]],
    "Neg": lambda a: [["neg", "x"]],
    "Reciprocal": lambda a: [["reciprocal", "x"]],
    "Softplus": lambda a: [["softplus", "x"]],
    "Softsign": lambda a: [["abs", "x"], ["add", 0, 1.0], ["div", "x", 1]],
    "Celu": lambda a: [["celu", "x", float(a.get("alpha", 1.0))]],
    "Gelu": _gelu,
    # these build their own layer kinds on plain data; after an Elementwise, a step of it
    "Tanh": lambda a: [["tanh", "x"]],
    "Sigmoid": lambda a: [["sigmoid", "x"]],
}
BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow",
          "Greater": "gt", "Less": "lt", "Where": "where"}


def _step_of(layer):
    """The program over "x" of a single-input element-wise layer the fusion may look
    through, or None."""
    if isinstance(layer, Elementwise):
        return [list(s) for s in layer.program]
    if isinstance(layer, Sigmoid):
        return [["sigmoid", "x"]]
    if isinstance(layer, Tanh):
        return [["tanh", "x"]]
    if isinstance(layer, Rect):
        return [["relu", "x"]]
    if isinstance(layer, Affine) and np.ptp(layer.scale) == 0 and np.ptp(layer.shift) == 0:
        return [["mul", "x", float(layer.scale[0])], ["add", 0, float(layer.shift[0])]]
    return None


def _shift(program, by):
    """Steps appended after ``by`` others: earlier-step indices move, "x" stays."""
    return [[s[0]] + [o + by if isinstance(o, int) else o for o in s[1:]] for s in program]


def _compose(inner, outer):
    """``outer`` applied to ``inner``'s output."""
    if not inner:
        return [list(s) for s in outer]
    last, base = len(inner) - 1, len(inner)
    return [list(s) for s in inner] + [
        [s[0]] + [last if o == "x" else o + base if isinstance(o, int) else o for o in s[1:]]
        for s in outer]


def _tensor_of(b, engine_name):
    for name in b.data.aliases(engine_name):
        t = b.data[name]
        if t.name == engine_name:
            return t
    return None


def _lineage(b, t):
    """[(tensor, program from it to ``t``, whether that passes an Elementwise node)], nearest
    first: ``t`` itself, then back through element-wise nodes whose output only the next
    one reads, as far as a program may reach (MAX_STEPS): an Erf after 4,000 Relus composed
    programs of every length back to the input (5 s and 1 GB to load a 0.3-MB file;
    quadratic in the chain), though none over MAX_STEPS can be used."""
    from .onnx_graph import _sole_reader

    out = [(t, [], False)]
    cur, prog, deep = t, [], False
    while _sole_reader(b, cur) and len(prog) < MAX_STEPS:
        k = b.producer.get(cur.name)
        if k is None or len(b.nodes[k].inputs) != 1:
            break
        step = _step_of(b.nodes[k].layer)
        before = _tensor_of(b, b.nodes[k].inputs[0])
        if step is None or before is None or before.shape != t.shape:
            break
        deep = deep or isinstance(b.nodes[k].layer, Elementwise)
        prog = _compose(step, prog)
        cur = before
        out.append((cur, prog, deep))
    return out


def _mish(x):
    return x * np.tanh(np.logaddexp(0, x))


# element-wise functions zennit 0.5.1 does not pass relevance through: it has no rule for their
# modules (``nn.Mish`` is not one of its ``Activation`` types) and takes the gradient there
GRADIENT_IN_ZENNIT = {"Mish": _mish}
_PROBE = np.linspace(-4, 4, 33)


def _add_node(b, node, where, root, program):
    from ..graph_elementwise import run_program
    from .onnx_graph import _Tensor

    for label, fn in GRADIENT_IN_ZENNIT.items():
        with np.errstate(all="ignore"):
            same = np.allclose(run_program(program, _PROBE, np), fn(_PROBE), rtol=1e-6,
                               atol=1e-9)
        if same:
            b.fail(where,
                   f"this computes {label}, which zennit does not pass relevance through "
                   "(it has no rule for it and takes the gradient there); not supported")

    name = node.op_type if len(program) == 1 or node.op_type in ("Gelu", "Mish",
                                                                 "Softsign") else None
    out = node.output[0]
    b.add(node.name, Elementwise(program, name), [root.name], out)
    b.data[out] = _Tensor(out, root.shape, root.storage, root.seq)


def unary(b, node, attrs, where, t, data_in):
    """An element-wise operator of one tensor: a step of the Elementwise node before it
    (when nothing else reads that node), else an Elementwise node of its own."""
    program = UNARY[node.op_type](attrs)
    if program is None:
        b.fail(where, f"{node.op_type} with these attributes is not supported")
    root, before = t, []
    lineage = _lineage(b, t)
    k = b.producer.get(t.name)
    scaled = k is not None and isinstance(b.nodes[k].layer, Scale)
    if len(lineage) > 1 and (lineage[1][2] or scaled):
        # t is the output of an Elementwise node, or of one scale (PyTorch's exporters write
        # nn.Softplus(beta) as Mul, Softplus, Div: one activation zennit passes, not a Scale
        # whose gradient multiplied relevance by beta)
        root, before = lineage[1][0], lineage[1][1]
    _add_node(b, node, where, root, _compose(before, program))


def fuse(b, node, where, operands) -> bool:
    """``node`` (Add, Mul, Where, ...) of ``operands`` (tensors, or numbers for scalar
    constants) as one Elementwise node when every tensor operand is computed from one common
    tensor, and the way from it passes an Elementwise node (an operator no other layer kind
    reads: Erf, Softplus, ...) or every operand is that tensor (x · x); returns whether it
    did. Otherwise an Add of two tensors stays a merge and ``x · relu(x)`` a product."""
    tensors = [o for o in operands if not isinstance(o, float)]
    if not tensors or len({o.shape for o in tensors}) != 1:
        return False
    lineages = [_lineage(b, o) for o in tensors]
    root = None
    for cand, _, _ in lineages[0]:
        if all(any(c.name == cand.name for c, _, _ in lin) for lin in lineages[1:]):
            root = cand
            break
    if root is None:
        return False
    program, refs, deep = [], [], False
    lin_iter = iter(lineages)
    for o in operands:
        if isinstance(o, float):
            refs.append(o)
            continue
        lin = next(lin_iter)
        _, prog, through = next(item for item in lin if item[0].name == root.name)
        deep = deep or through
        refs.append(len(program) + len(prog) - 1 if prog else "x")
        program += _shift(prog, len(program))
    if not deep and len({o.name for o in tensors}) > 1:
        return False
    if all(r == "x" or isinstance(r, float) for r in refs) and len(tensors) == 1:
        return False  # a constant op on plain data: the caller's own reading
    _add_node(b, node, where, root, program + [[BINARY[node.op_type], *refs]])
    return True


def scalar(b, name, where):
    """The constant ``name`` as a number when it holds one value, else None."""
    if name not in b.consts:
        return None
    c = np.asarray(b.consts[name])
    if c.size != 1 or c.dtype.kind not in "iuf" or not np.isfinite(c).all():
        return None
    return float(c.reshape(-1)[0])


def operands_of(b, node, where):
    """Each input of ``node`` as a tensor or a number (None: a constant that is not one)."""
    out = []
    for name in node.input:
        if name in b.data:
            out.append(b.data[name])
        else:
            out.append(scalar(b, name, where))
    return out


def extend(b, node, where) -> bool:
    """A scalar constant op (Add, Mul, Pow, ...) on the output of an Elementwise node that
    nothing else reads: one more step of it. Returns whether it was."""
    operands = operands_of(b, node, where)
    if None in operands or not any(not isinstance(o, float) for o in operands):
        return False
    tensors = [o for o in operands if not isinstance(o, float)]
    if len({o.name for o in tensors}) != 1:
        return False
    lineage = _lineage(b, tensors[0])
    if len(lineage) < 2 or not lineage[1][2]:
        return False
    root, prog = lineage[1][0], lineage[1][1]
    refs = [o if isinstance(o, float) else len(prog) - 1 for o in operands]
    _add_node(b, node, where, root, prog + [[BINARY[node.op_type], *refs]])
    return True


def binary(b, node, attrs, where, t, data_in):
    """Pow, Greater, Less and Where of tensors computed from one tensor and numbers: steps of
    an Elementwise node; anything else is refused naming what is missing."""
    operands = operands_of(b, node, where)
    if None not in operands and fuse(b, node, where, operands):
        return
    if None not in operands and len([o for o in operands if not isinstance(o, float)]) == 1:
        root = next(o for o in operands if not isinstance(o, float))
        refs = ["x" if o is root else o for o in operands]
        _add_node(b, node, where, root, [[BINARY[node.op_type], *refs]])
        return
    b.fail(where, f"{node.op_type} is supported as part of an element-wise activation (of "
                  "one tensor and numbers, or of tensors computed from one tensor)")
