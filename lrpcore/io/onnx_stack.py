"""zennit's ``Sum`` layer as PyTorch exports it: one merge of the tensors it stacks.

zennit routes an addition through its ``Sum`` module to give it the Norm rule, as its own
canonizers rewrite torchvision's blocks: ``self.sum(torch.stack([out, identity], dim=-1))``,
which sums over that new last axis. A model written so (or exported with a canonizer attached)
reaches ONNX as ``Unsqueeze`` of each summand along a new last axis, ``Concat`` along it and
``ReduceSum`` over it with ``keepdims`` 0; the stacked tensors are never computed: they are
recorded as pending (storage ``stacked``, the summands kept), which only that Concat and that
ReduceSum accept, and the three operators become one ``Add`` of the summands, whose Norm rule
is zennit's at ``Sum`` (``x + a + b`` stacked as three: one three-way split).
"""

from __future__ import annotations

import numpy as np

from ..graph_layers import Add
from ..text import brief, short

STACKED = "stacked"


def _stack(name, members, origin):
    """A stack of ``members`` (never computed), made by node ``origin``."""
    from .onnx_graph import _Tensor

    first = members[0]
    t = _Tensor(name, first.shape, STACKED, first.seq)
    t.members, t.origin = tuple(members), origin
    return t


def refuse_other_use(b, where, op, t):
    """Any operator but Concat and ReduceSum reading a stack: refused naming the node that
    made it (an ``x.unsqueeze(-1)`` that no sum follows is no relabelling either)."""
    b.fail(where, f"{short(op, 40)} of the output of '{short(t.origin)}' (Unsqueeze of data "
                  "along a new last axis, as torch.stack writes it) is not supported; only its "
                  "sum over that axis (zennit's Sum layer)")


def _new_last_axis(axes, t) -> bool:
    """Whether ``axes`` (Unsqueeze's, as the file gives them) add one axis after ``t``'s last."""
    from .onnx_graph import _rank

    return axes is not None and len(axes) == 1 and int(axes[0]) in (-1, _rank(t))


def unsqueeze(b, node, t, axes) -> bool:
    """``Unsqueeze`` of a summand along a new last axis: recorded as a stack of one."""
    if t.storage == STACKED or not _new_last_axis(np.atleast_1d(axes), t):
        return False
    b.data[node.output[0]] = _stack(node.output[0], [t], node.name)
    return True


def concat(b, node, where, data_in, axis) -> bool:
    """``Concat`` of stacks along their last axis: one stack of all their summands."""
    if not any(d.storage == STACKED for d in data_in):
        return False
    from .onnx_graph import _rank

    if not all(d.storage == STACKED for d in data_in) or axis not in (-1, _rank(data_in[0])):
        b.fail(where, "Concat of stacked tensors (torch.stack) is supported only along the "
                      "stacking axis, of stacked tensors alone (zennit's Sum layer)")
    members = [m for d in data_in for m in d.members]
    shapes = {m.shape for m in members}
    if len(shapes) != 1:
        b.fail(where, f"torch.stack of tensors of different shapes {sorted(shapes)}")
    b.data[node.output[0]] = _stack(node.output[0], members, node.name)
    return True


def reduce_sum(b, node, attrs, where, t, data_in):
    """``ReduceSum`` of a stack over its stacking axis (``keepdims`` 0): an ``Add`` of the
    summands; any other sum is refused."""
    from .onnx_graph import _alias, _optional_input, _rank, _Tensor

    axes = attrs.get("axes")
    if axes is None and _optional_input(node, 1):
        axes = b.indices(node.input[1], where, "ReduceSum's axes")
    axes = None if axes is None else [int(a) for a in np.atleast_1d(axes)]
    if t.storage != STACKED or axes is None or len(axes) != 1 \
            or axes[0] not in (-1, _rank(t)) or int(attrs.get("keepdims", 1)):
        b.fail(where, f"ReduceSum over {brief(axes)} is supported only as zennit's Sum layer "
                      "writes it: over the last axis of torch.stack([...], dim=-1), keepdims 0")
    members = list(t.members)
    if len(members) == 1:
        _alias(b, node, members[0])
        return
    if len({m.storage for m in members}) > 1:
        members = [b.channels_last(m, where) for m in members]
    out = node.output[0]
    b.data[b.add(node.name, Add(), [m.name for m in members], out)] = _Tensor(
        out, members[0].shape, members[0].storage, members[0].seq)
