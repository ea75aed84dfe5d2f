"""ONNX group and instance normalisation as :class:`~lrpcore.graph_norms.GroupNorm`.

Both PyTorch exporters write ``nn.GroupNorm(g, C)`` as four nodes: a Reshape of the
N×C×H×W map to N×g×(C/g·H·W), an ``InstanceNormalization`` of that (scale 1, bias 0 per
group), a Reshape back to the map's shape, then the module's per-channel scale and shift as a
Mul and an Add (folded into the GroupNorm by the importer's arithmetic). The tensors between
the two Reshapes are never computed: they carry the map they came from (``Builder.grouped``)
and only the next step of the pattern may read them. ``nn.InstanceNorm2d`` is one
``InstanceNormalization`` of the map; ONNX's ``GroupNormalization`` (opset 18) one node.
"""

from __future__ import annotations

import math

import numpy as np

from ..graph_norms import GroupNorm
from ..text import brief, short

GROUPED = "grouped"  # N×g×(C/g·H·W): a map reshaped for its group normalisation
NORMALISED = "group-normalised"  # the same after its InstanceNormalization
STORAGES = (GROUPED, NORMALISED)
_NEXT_STEP = {GROUPED: "InstanceNormalization", NORMALISED: "Reshape"}


def refuse_other_reader(b, where, op, t):
    """Only the pattern's next step (or an Identity) reads the tensors between its Reshapes."""
    if op not in (_NEXT_STEP[t.storage], "Identity"):
        b.fail(where, f"{short(op, 40)} of the {brief(list(t.shape))} tensor a group "
                      "normalisation reshapes its map to is not supported; only the "
                      "normalisation itself (Reshape to N×groups×−1, InstanceNormalization, "
                      "Reshape back)")


def group_reshape(b, node, where, t, target) -> bool:
    """Reshape [N, g, −1] of a channels-first map or sequence, g dividing its channels: the
    first step of ``nn.GroupNorm``; False for any other Reshape."""
    from .onnx_graph import _is_sequence, _onnx_shape, _Tensor  # noqa: PLC0415

    image = t.storage == "cl" or t.storage == "same" and (len(t.shape) == 3
                                                          or _is_sequence(t))
    if not image or len(target) != 3:
        return False
    channels, size = t.shape[0], math.prod(_onnx_shape(t))
    groups = int(target[1])
    batch = (0, -1) if b.batch is None else (0, -1, b.batch)
    if target[0] not in batch or not (1 <= groups <= channels and channels % groups == 0) \
            or target[2] not in (-1, size // groups):
        return False
    t = b.channels_last(t, where)  # the model's input itself, N×C×H×W
    grouped = _Tensor(t.name, (groups, size // groups), GROUPED)
    b.grouped[grouped] = t
    b.data[node.output[0]] = grouped
    return True


def reshape_back(b, node, where, t, target):
    """The last Reshape of ``nn.GroupNorm`` (of its NORMALISED tensor): back to the map's own
    shape, which is the GroupNorm's output; any other shape is refused."""
    from .onnx_graph import _onnx_shape  # noqa: PLC0415

    normalised = b.grouped[t]  # a GROUPED tensor's Reshape is refused before (_node)
    batch = (0, -1) if b.batch is None else (0, -1, b.batch)
    if target[0] not in batch or [int(s) for s in target[1:]] != list(_onnx_shape(normalised)):
        b.fail(where, f"Reshape of a group normalisation's {brief(list(t.shape))} tensor to "
                      f"{brief(list(target))} is not supported; only back to its map's shape "
                      f"{brief(list(_onnx_shape(normalised)))}")
    b.data[node.output[0]] = normalised


def _epsilon(b, where, attrs, op):
    eps = attrs.get("epsilon", 1e-5)
    if not (isinstance(eps, float) and math.isfinite(eps) and eps > 0):
        b.fail(where, f"{op}'s epsilon {short(eps)!r} must be a positive number")
    return eps


def _per_group(b, node, where, k, count, what, unit):
    """Input ``k`` (scale or bias): ``count`` finite values, one per ``unit``."""
    from .onnx_graph import _optional_input  # noqa: PLC0415

    if not _optional_input(node, k):
        b.fail(where, f"{node.op_type} needs its {what}")
    v = np.asarray(b.weights(node.input[k], where, f"{node.op_type}'s {what}"),
                   dtype=np.float64)
    if v.shape != (count,) or not np.all(np.isfinite(v)):  # ONNX declares them 1-D (a 2×3
        # bias for 6 channels loaded as its values in a row)
        b.fail(where, f"{node.op_type}'s {what} must hold {count} finite numbers in one axis, "
                      f"one per {unit}; it holds {brief(list(v.shape))}")
    return v


def _add(b, node, source, layer):
    from .onnx_graph import _Tensor  # noqa: PLC0415

    out = b.add(node.name, layer, [source.name], node.output[0])
    return _Tensor(out, source.shape, source.storage, source.seq)


def instance_norm(b, node, attrs, where, t, data_in):
    """InstanceNormalization of a map (``nn.InstanceNorm2d``/``1d``: a group per channel), or
    of the grouped map of ``nn.GroupNorm`` (its scale and shift per group, given to each of
    the group's channels)."""
    eps = _epsilon(b, where, attrs, "InstanceNormalization")
    if t.storage == GROUPED:
        source, groups = b.grouped[t], t.shape[0]
        per = source.shape[0] // groups
        scale, shift = (np.repeat(_per_group(b, node, where, k, groups, what, "group"), per)
                        for k, what in ((1, "scale"), (2, "bias")))
        normalised = _add(b, node, source, GroupNorm(scale, shift, groups, eps))
        pending = type(t)(normalised.name, t.shape, NORMALISED)
        b.grouped[pending] = normalised
        b.data[node.output[0]] = pending
        return
    t = b.channels_last(t, where)
    C = t.shape[0]
    scale, shift = (_per_group(b, node, where, k, C, what, "channel")
                    for k, what in ((1, "scale"), (2, "bias")))
    b.data[node.output[0]] = _add(b, node, t, GroupNorm(scale, shift, C, eps))


def group_norm(b, node, attrs, where, t, data_in):
    """ONNX's GroupNormalization: scale and bias per group at opsets 18–20, per channel from
    opset 21 (the operator was redefined)."""
    eps = _epsilon(b, where, attrs, "GroupNormalization")
    t = b.channels_last(t, where)
    C, groups = t.shape[0], attrs.get("num_groups")
    if not (isinstance(groups, int) and 1 <= groups <= C and C % groups == 0):
        b.fail(where, f"GroupNormalization's num_groups {short(groups)!r} must divide the "
                      f"{C} channels")
    count, unit = (C, "channel") if b.opset >= 21 else (groups, "group")
    scale, shift = (np.repeat(_per_group(b, node, where, k, count, what, unit), C // count)
                    for k, what in ((1, "scale"), (2, "bias")))
    b.data[node.output[0]] = _add(b, node, t, GroupNorm(scale, shift, groups, eps))
