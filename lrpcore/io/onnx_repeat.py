"""Repeats of a map's rows or columns written as Unsqueeze, Tile and Reshape, read as one
``NearestResize``.

Keras 3's nearest ``UpSampling2D`` is ``ops.repeat`` along height, then width, which
TensorFlow writes as ExpandDims (a new axis of size 1 after the repeated one), Tile of k
along it and a Reshape merging the two: each row (column) copied k times in place. tf2onnx
writes ONNX Unsqueeze, Tile and Reshape, sometimes with a Transpose between the Tile and the
Reshape (the NCHW ↔ NHWC transposes it moves through the graph); a new last axis is read as
``torch.stack``'s (onnx_stack) until a Tile reads it. The 5-D tensors in between
are never computed: they are recorded as pending (``REPEATING``; which axes of the map they
hold, in which order), and the Reshape that merges the copies into the axis they follow
becomes a ``NearestResize`` of that axis, whose relevance goes back summed over each
position's copies (its gradient, as zennit takes it at ``F.interpolate``).
"""

from __future__ import annotations

import numpy as np

from ..graph_upsampling import MAX_SIDE, NearestResize
from ..text import brief

REPEATING = "repeating"  # storage of the tensors between a repeat's Unsqueeze and Reshape
COPIES = -1  # the label of the axis the Unsqueeze added (the copies)
ACCEPTS = ("Tile", "Transpose", "Reshape", "Identity")  # what may read a pending repeat


def _tensor(name, shape, storage):
    from .onnx_graph import _Tensor  # noqa: PLC0415

    return _Tensor(name, shape, storage)


def _array_axes(t) -> list:
    """The engine array's axis (of H×W×C, batch left out) holding each of ``t``'s ONNX axes:
    a "cl" map's C, H, W are its last, first and second; a "same" tensor is stored as
    ONNX orders it."""
    return [2, 0, 1] if t.storage == "cl" else [0, 1, 2]


def _pending(b, out, base, labels, shape):
    t = _tensor(base.name, shape, REPEATING)
    b.repeats[t] = (base, labels)
    b.data[out] = t


def unsqueeze(b, node, t, axes) -> bool:
    """Unsqueeze of a map along one new axis after a data axis: a repeat's start, pending
    until its Reshape; returns whether it was one."""
    if t.storage not in ("cl", "same") or t.seq or len(t.shape) != 3:
        return False
    axes = [int(a) for a in np.atleast_1d(axes)]
    if len(axes) != 1 or not 2 <= axes[0] % 5 <= 4:
        return False
    at = axes[0] % 5 - 1  # among the axes after the batch's
    labels, shape = [0, 1, 2], list(t.shape)
    labels.insert(at, COPIES)
    shape.insert(at, 1)
    _pending(b, node.output[0], t, labels, shape)
    return True


def refuse_other_use(b, where, op, t):
    base, _ = b.repeats[t]
    b.fail(where, f"{op} of the {brief(list(t.shape))} tensor made by an Unsqueeze of a "
                  f"{brief(list(base.shape))} map is not supported; only the Tile and Reshape "
                  "that repeat its rows or columns (tf.repeat, Keras's nearest UpSampling2D)")


def _from_stack(b, t):
    """A map unsqueezed along a new last axis (recorded as a stack of one for zennit's
    ``Sum``, see onnx_stack) that a Tile reads instead: a repeat of its last axis."""
    from .onnx_stack import STACKED  # noqa: PLC0415

    if t.storage != STACKED or len(t.members) != 1:
        return t
    base = t.members[0]
    if base.storage not in ("cl", "same") or base.seq or len(base.shape) != 3:
        return t
    out = _tensor(base.name, base.shape + (1,), REPEATING)
    b.repeats[out] = (base, [0, 1, 2, COPIES])
    return out


def tile(b, node, attrs, where, t, data_in):
    """Tile of a pending repeat along the axis its Unsqueeze added: k copies."""
    t = _from_stack(b, t)
    if t.storage != REPEATING:
        b.fail(where, "Tile of data is supported only along an axis an Unsqueeze added before "
                      "a Reshape merges it (tf.repeat, Keras's nearest UpSampling2D)")
    base, labels = b.repeats[t]
    reps = [int(r) for r in np.atleast_1d(b.indices(node.input[1], where, "Tile's repeats"))]
    at = labels.index(COPIES)
    if len(reps) != len(labels) + 1 or t.shape[at] != 1 or reps[at + 1] < 1 \
            or any(r != 1 for i, r in enumerate(reps) if i != at + 1):
        b.fail(where, f"Tile of a {brief(list(t.shape))} tensor by {brief(reps)}: only along "
                      "the axis of size 1 that an Unsqueeze added (tf.repeat)")
    shape = list(t.shape)
    shape[at] = reps[at + 1]
    _pending(b, node.output[0], base, labels, shape)


def transpose(b, node, where, t, perm) -> bool:
    """A Transpose of a pending repeat (the batch's axis kept first); returns whether it
    was one."""
    if t.storage != REPEATING:
        return False
    base, labels = b.repeats[t]
    if sorted(perm) != list(range(len(labels) + 1)) or perm[0] != 0:
        b.fail(where, f"Transpose {brief(perm)} of a repeat's {brief(list(t.shape))} tensor "
                      "must keep the batch axis first")
    _pending(b, node.output[0], base, [labels[p - 1] for p in perm[1:]],
             [t.shape[p - 1] for p in perm[1:]])
    return True


def reshape(b, node, where, t, target) -> bool:
    """The Reshape merging a repeat's copies into the axis before them: a ``NearestResize``
    of that axis of the map; returns whether the tensor was a pending repeat."""
    if t.storage != REPEATING:
        return False
    base, labels = b.repeats[t]
    at = labels.index(COPIES)
    k = t.shape[at]
    shape = list(t.shape[:at - 1]) + [t.shape[at - 1] * k] + list(t.shape[at + 1:]) \
        if at > 0 else None
    merged = labels[:at] + labels[at + 1:]
    batch = (0, -1) if b.batch is None else (0, -1, b.batch)
    axes = _array_axes(base)
    array = [axes[label] for label in merged]
    fits = shape is not None and len(target) == 4 and target[0] in batch \
        and all(want in (have, -1) for want, have in zip(target[1:], shape, strict=True)) \
        and (target[0] != -1 or -1 not in target[1:])
    repeated = axes[labels[at - 1]] if at > 0 else None
    if not fits or repeated not in (0, 1) or array not in ([2, 0, 1], [0, 1, 2]):
        b.fail(where, f"Reshape of a repeat's {brief(list(t.shape))} tensor to "
                      f"{brief(list(target))}: only merging the copies into the height or "
                      "width before them, back to a map (tf.repeat, Keras's nearest "
                      "UpSampling2D)")
    H, W = (base.shape[1], base.shape[2]) if base.storage == "cl" else base.shape[:2]
    if (H, W)[repeated] * k > MAX_SIDE:  # refused before np.repeat holds k copies' indices
        b.fail(where, f"a repeat of {brief(list(t.shape))} copies "
                      f"{'rows' if repeated == 0 else 'columns'} {k:,} times, a map of more "
                      f"than {MAX_SIDE} on a side")
    rows, cols = np.arange(H), np.arange(W)
    if repeated == 0:
        rows = np.repeat(rows, k)
    else:
        cols = np.repeat(cols, k)
    out = b.add(node.name, NearestResize(rows, cols, (H, W)), [base.name], node.output[0])
    b.data[out] = _tensor(out, shape, "cl" if array == [2, 0, 1] else "same")
    if array == [0, 1, 2]:
        b.nhwc.add(out)  # an N×H×W×C map (tf2onnx's, from Keras)
    return True
