"""Keras's LayerNormalization and GroupNormalization, written as arithmetic, read back as the
normalisations they are.

tf2onnx exports both as TensorFlow computes them (``keras.ops.layer_normalization`` and
``GroupNormalization._apply_normalization``): the moments, then ``x · inv + (−mean · inv +
beta)`` with ``inv = gamma / sqrt(var + eps)``:

    mean = ReduceMean(x)          var = ReduceMean(Mul(d, d)), d = Sub(x, mean)
    inv = Mul(Reciprocal(Sqrt(Add(var, eps))), gamma)          (no Mul: scale=False)
    y = Add(Mul(x, inv), Add(Mul(Neg(mean), inv), beta))        (no Add: center=False)

Read operator by operator, the first ReduceMean was refused. The whole pattern, each inner
tensor read only by the next step, is one :class:`~lrpcore.graph_norms.ChannelNorm` (over the
channels: the last axis of an N×H×W×C map or of a dense layer's features, or axis 1 where
tf2onnx moved its Transposes past the normalisation, an N×C×H×W model input's included; axes
may count from the end, gamma and beta may be in any shape that broadcasts one value per
channel) or, after a Reshape of an N×H×W×C map to
N×H×W×groups×(C/groups) with the statistics over axes 1, 2, 4, one
:class:`~lrpcore.graph_norms.GroupNorm` (its Reshape back is read as for ``nn.GroupNorm``).
Relevance passes them as their gradient, as zennit's autograd passes PyTorch's twins
(``nn.GroupNorm``, ``nn.LayerNorm`` over the channels).

The pattern is found before the import reads the graph (:func:`fuse`): its nodes are replaced by
one placeholder node, which :func:`read` turns into the layer once the input's shape is known.
Anything else (``rms_scaling``, statistics over other axes, a gamma per position) stays
arithmetic and is refused at its first ReduceMean, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph_norms import ChannelNorm, GroupNorm
from ..text import brief
from . import onnx_norms as norms


@dataclass
class Moments:
    """A matched normalisation: input ``x`` (the map before a grouping Reshape), output
    ``out``, the statistics' ``axes``, ``eps``, gamma and beta as written (None: absent),
    the grouping Reshape's target and the Reshape of the mean tf2onnx may add (None: none)."""

    x: str
    out: str
    axes: tuple
    eps: float
    scale: np.ndarray | None
    shift: np.ndarray | None
    grouping: np.ndarray | None
    mean_shape: np.ndarray | None


# the inputs each operator of the pattern takes (ReduceMean: its axes as an input, opset 18)
_ARITY = {"ReduceMean": (1, 2), "Neg": (1,), "Sub": (2,), "Mul": (2,), "Add": (2,),
          "Sqrt": (1,), "Reciprocal": (1,), "Reshape": (2,)}


def _plain(node) -> bool:
    """A node of the pattern's operators with their inputs and one output. A malformed one (a
    Mul of one input) stopped the import in IndexError, an internal error; it stays the
    import's to refuse, naming it."""
    return len(node.output) == 1 and len(node.input) in _ARITY.get(node.op_type, ())


class _Graph:
    """Who reads and who writes each tensor, and the constants (initializers and Constant
    nodes' values) of the nodes being matched."""

    def __init__(self, onnx, nodes, consts, outputs):
        self.nodes, self.consts, self.outputs = nodes, consts, set(outputs)
        self.readers, self.producer, self.constant = {}, {}, {}
        for k, n in enumerate(nodes):
            for name in dict.fromkeys(n.input):  # Mul(d, d) is one reader of d
                self.readers.setdefault(name, []).append(k)
            for name in n.output:
                self.producer[name] = k
            if n.op_type == "Constant" and len(n.output) == 1:
                attrs = {a.name: a for a in n.attribute}
                if "value" in attrs:
                    try:  # a malformed one is the import's to refuse, named
                        self.constant[n.output[0]] = onnx.numpy_helper.to_array(
                            attrs["value"].t)
                    except (ValueError, TypeError, KeyError):
                        pass

    def value(self, name):
        v = self.consts.get(name, self.constant.get(name))
        return None if v is None else np.asarray(v)

    def inner(self, name, ops):
        """The one node reading ``name`` (an inner tensor: no graph output), if of ``ops``."""
        ks = self.readers.get(name, [])
        if len(ks) == 1 and name not in self.outputs and self.nodes[ks[0]].op_type in ops \
                and _plain(self.nodes[ks[0]]):
            return ks[0]
        return None

    def with_constant(self, k, op):
        """(data input, constant value) of node ``k`` when it is a two-input ``op`` of one
        data tensor and one constant, else None."""
        n = self.nodes[k]
        if n.op_type != op or len(n.input) != 2 or len(n.output) != 1:
            return None
        for data, const in (n.input, n.input[::-1]):
            v = self.value(const)
            if v is not None and self.value(data) is None and v.dtype.kind == "f":
                return data, v
        return None


def _reduce_axes(g, k, opset):
    """A ReduceMean's axes (sorted) when it keeps its dimensions, else None."""
    n = g.nodes[k]
    attrs = {a.name: a for a in n.attribute}
    if "keepdims" in attrs and attrs["keepdims"].i != 1:
        return None
    if "axes" in attrs:  # and an input beside (which runtimes refuse): not read as these
        return None if len(n.input) > 1 and n.input[1] else tuple(sorted(int(a) for a in
                                                                         attrs["axes"].ints))
    if opset >= 18 and len(n.input) > 1 and n.input[1]:
        v = g.value(n.input[1])
        return None if v is None or v.dtype.kind != "i" else tuple(sorted(int(a) for a in
                                                                           v.reshape(-1)))
    return None


def _match(g, k, opset):
    """The normalisation whose first ReduceMean is node ``k``: (Moments, indices of its
    nodes), else None."""
    nodes = g.nodes
    x, mean = nodes[k].input[0], nodes[k].output[0]
    axes = _reduce_axes(g, k, opset)
    readers = g.readers.get(mean, [])
    if axes is None or len(readers) != 2 or mean in g.outputs \
            or not all(_plain(nodes[j]) for j in (k, *readers)):
        return None
    by_op = {nodes[j].op_type: j for j in readers}
    if set(by_op) not in ({"Neg", "Sub"}, {"Neg", "Reshape"}):
        return None
    used, mean_shape, centred = [k, by_op["Neg"]], None, mean
    if "Reshape" in by_op:  # tf2onnx's Reshape of the mean to its own shape (checked later)
        r = by_op["Reshape"]
        mean_shape = g.value(nodes[r].input[1]) if len(nodes[r].input) == 2 else None
        sub = g.inner(nodes[r].output[0], ("Sub",))
        if mean_shape is None or sub is None:
            return None
        used.append(r)
        centred = nodes[r].output[0]
    else:
        sub = by_op["Sub"]
    if list(nodes[sub].input) != [x, centred]:
        return None
    sq = g.inner(nodes[sub].output[0], ("Mul",))
    if sq is None or nodes[sq].input[0] != nodes[sq].input[1]:
        return None
    var = g.inner(nodes[sq].output[0], ("ReduceMean",))
    if var is None or nodes[var].input[0] != nodes[sq].output[0] \
            or _reduce_axes(g, var, opset) != axes:
        return None
    add = g.inner(nodes[var].output[0], ("Add",))
    eps = g.with_constant(add, "Add") if add is not None else None
    if eps is None or eps[1].size != 1 or not (np.isfinite(eps[1]).all() and eps[1] > 0):
        return None
    sqrt = g.inner(nodes[add].output[0], ("Sqrt",))
    rec = g.inner(nodes[sqrt].output[0], ("Reciprocal",)) if sqrt is not None else None
    if rec is None:
        return None
    used += [sub, sq, var, add, sqrt, rec]
    inv, scale = nodes[rec].output[0], None
    gamma = g.inner(inv, ("Mul",))
    if gamma is not None:  # scale=True: inv · gamma
        found = g.with_constant(gamma, "Mul")
        if found is None:
            return None
        inv, scale = nodes[gamma].output[0], found[1]
        used.append(gamma)
    if inv in g.outputs or len(g.readers.get(inv, [])) != 2:
        return None
    muls = {tuple(sorted(nodes[j].input)): j for j in g.readers[inv]
            if nodes[j].op_type == "Mul" and _plain(nodes[j])}
    neg_out = nodes[by_op["Neg"]].output[0]
    times_x, times_neg = muls.get(tuple(sorted((x, inv)))), muls.get(tuple(sorted((neg_out,
                                                                                  inv))))
    if times_x is None or times_neg is None or g.inner(neg_out, ("Mul",)) != times_neg:
        return None
    res, shift = nodes[times_neg].output[0], None
    final = g.inner(res, ("Add",))
    if final is None:
        return None
    found = g.with_constant(final, "Add")
    if found is not None:  # center=True: + beta, then the sum
        shift, res = found[1], nodes[final].output[0]
        used.append(final)
        final = g.inner(res, ("Add",))
        if final is None:
            return None
    if sorted(nodes[final].input) != sorted((nodes[times_x].output[0], res)) \
            or g.inner(nodes[times_x].output[0], ("Add",)) != final:
        return None
    used += [times_x, times_neg, final]
    grouping = None
    r5 = g.producer.get(x)
    if r5 is not None and nodes[r5].op_type == "Reshape" and len(nodes[r5].input) == 2:
        target = g.value(nodes[r5].input[1])
        pattern_reads = {k, sub, times_x}
        if target is not None and target.size == 5 and _axes(axes, 5) == (1, 2, 4) \
                and set(g.readers.get(x, [])) == pattern_reads and x not in g.outputs:
            grouping, x = target.reshape(-1), nodes[r5].input[0]
            used.append(r5)
    return Moments(x, nodes[final].output[0], axes, float(eps[1].reshape(-1)[0]), scale,
                   shift, grouping, mean_shape), used


def fuse(onnx, nodes, consts, outputs, opset):
    """``nodes`` with each matched normalisation replaced by one placeholder node (named as
    its first node, in its place), and {id(placeholder): :class:`Moments`}: the importer
    reads a placeholder with :func:`read`, never a file's own node of that name."""
    g = _Graph(onnx, nodes, consts, outputs)
    first, drop, found = {}, set(), {}
    for k, n in enumerate(nodes):
        if n.op_type != "ReduceMean" or not n.input or k in drop:
            continue
        matched = _match(g, k, opset)
        if matched is None or drop.intersection(matched[1]):
            continue
        moments, used = matched
        start = min(used)
        op = "GroupNormalization" if moments.grouping is not None else "LayerNormalization"
        placeholder = onnx.helper.make_node(op, [moments.x], [moments.out],
                                            name=nodes[start].name)
        first[start] = placeholder
        found[id(placeholder)] = moments
        drop.update(used)
    if not found:
        return nodes, found
    out = [first.get(k, n) for k, n in enumerate(nodes) if k in first or k not in drop]
    return out, found


def _params(b, where, m, layout):
    """(scale, shift), one value per channel, from gamma and beta as written (ones and zeros
    where absent). ``layout`` is the input's shape with 1 on each axis but the channels' (the
    groups' and their channels' for a group norm): a constant that broadcasts to it (γ of
    C×1×1 for an N×C×H×W map, one γ per group) is one value per channel, exactly; anything
    else (a gamma per position, more axes than the input) is refused."""
    C = int(np.prod(layout))
    out = []
    for v, what, default in ((m.scale, "gamma", 1.0), (m.shift, "beta", 0.0)):
        if v is None:
            out.append(np.full(C, default))
            continue
        padded = (1,) * (len(layout) - v.ndim) + v.shape
        fits = v.ndim <= len(layout) and all(
            d in (1, want) for d, want in zip(padded, layout, strict=True))
        if not fits or not np.all(np.isfinite(v)):
            b.fail(where, f"the normalisation's {what} of shape {brief(list(v.shape))} does "
                          f"not hold one finite value per channel of the {C} channels")
        out.append(np.broadcast_to(np.asarray(v, dtype=np.float64).reshape(padded),
                                   layout).reshape(-1))
    return out


def _axes(axes, rank):
    """The axes as non-negative numbers (ONNX counts −1 as the last), sorted; None when one
    is out of range."""
    if not all(-rank <= a < rank for a in axes):
        return None
    return tuple(sorted(a % rank for a in axes))


def read(b, node, m, where):
    """The layer of a matched normalisation (a placeholder of :func:`fuse`)."""
    from .onnx_graph import _Tensor  # noqa: PLC0415

    t = b.data.get(m.x)
    if t is None:
        b.fail(where, "the normalisation of a constant is not supported")
    batch = (0, -1) if b.batch is None else (0, -1, b.batch)
    if m.grouping is not None:
        target = [int(v) for v in m.grouping]
        if m.mean_shape is not None:
            b.fail(where, "a Reshape of a group normalisation's mean is not supported")
        if t.storage != "same" or len(t.shape) != 3 or target[0] not in batch \
                or target[1:3] != list(t.shape[:2]) or min(target[3:]) < 1 \
                or target[3] * target[4] != t.shape[2]:
            b.fail(where, f"Reshape of the {brief(list(t.shape))} map to {brief(target)} "
                          "before its normalisation is not supported; only N×H×W×C to "
                          "N×H×W×groups×(C/groups) (Keras's GroupNormalization)")
        C, groups = t.shape[2], target[3]
        scale, shift = _params(b, where, m, (1, 1, 1, groups, C // groups))
        out = b.add(node.name, GroupNorm(scale, shift, groups, m.eps), [t.name],
                    f"{m.out}/map")
        normalised = _Tensor(out, t.shape, t.storage)
        pending = _Tensor(out, (t.shape[0], t.shape[1], groups, C // groups),
                          norms.NORMALISED)
        b.grouped[pending] = normalised
        b.data[m.out] = pending
        return
    rank = len(t.shape) + 1
    axes = _axes(m.axes, rank)
    if t.storage == "same" and not t.seq and len(t.shape) == 3 and axes == (1,):
        t = b.channels_last(t, where)  # a C×H×W model input: its channels as a map's
    if t.storage == "same" and not t.seq and axes == (rank - 1,):  # the last axis
        scale, shift = _params(b, where, m, (1,) * (rank - 1) + (t.shape[-1],))
        mean_dims = [*t.shape[:-1], 1]
    elif t.storage == "cl" and not t.seq and len(t.shape) == 3 and axes == (1,):
        # channels first as ONNX has it, last as the engine stores it
        scale, shift = _params(b, where, m, (1, t.shape[0], 1, 1))
        mean_dims = [1, *t.shape[1:]]
    else:
        b.fail(where, f"a normalisation over axes {brief(list(m.axes))} of a "
                      f"{brief(list(t.shape))} tensor is supported only over its channels "
                      "(Keras's LayerNormalization along the last axis) or over a map's groups "
                      "of channels (GroupNormalization)")
    if m.mean_shape is not None:  # tf2onnx's Reshape of the mean: only to its own shape
        target = [int(v) for v in m.mean_shape.reshape(-1)]
        if not target or target[0] not in batch or target[1:] != mean_dims:
            b.fail(where, f"Reshape of the normalisation's mean to {brief(target)} is not "
                          "supported; only to its own shape")
    out = b.add(node.name, ChannelNorm(scale, shift, m.eps), [t.name], m.out)
    b.data[out] = _Tensor(out, t.shape, t.storage, t.seq)
