"""Channel slices and channel shuffles of data (ShuffleNet), read as layers.

GoogLeNet's and Inception-v3's ``transform_input`` takes each channel as
``torch.unsqueeze(x[:, c], 1)``: ``Gather`` of one index along axis 1, then ``Unsqueeze`` back;
the N×H×W tensor between is recorded as pending ("picked") and the two become one
``ChannelSlice``.

``x.chunk(2, dim=1)`` reaches ONNX as ``Slice`` along axis 1 (the TorchScript exporter, its
bounds computed by shape arithmetic) or ``Split`` (dynamo); the channel shuffle as Reshape to
N×g×(C/g)×H×W, Transpose [0, 2, 1, 3, 4] and Reshape back to N×C×H×W. The two 5-D tensors in
between are never computed: they are recorded as a pending shuffle, which only that Transpose
and that last Reshape accept, and the three operators become one ``ChannelPermute``.
"""

from __future__ import annotations

import numpy as np

from ..graph_channels import ChannelPermute, ChannelSlice, Crop
from ..text import brief, short

BATCH_FLAT = "batch-flat"  # a batch of one in one axis (Reshape to [-1]), for a Gather
PENDING = ("groups", "shuffled",  # storages of the shuffle's 5-D tensors, never computed
           "picked",  # one channel taken by Gather (N×H×W), which only Unsqueeze(1) accepts
           BATCH_FLAT)


def _tensor(name, shape, storage, seq=False):
    from .onnx_graph import _Tensor

    return _Tensor(name, shape, storage, seq)


def _channel_axis(t):
    """ONNX's channel axis 1 is the engine's last axis for maps (stored H×W×C), sequences and
    flat tensors alike; other storages have none."""
    return t.storage in ("cl", "same") and (t.storage == "cl" or len(t.shape) == 1)


def _add_slice(b, name, t, start, stop, output, where):
    if not _channel_axis(t):
        b.fail(where, f"slicing a tensor of shape {brief(list(t.shape))} is not supported")
    out = b.add(name, ChannelSlice(start, stop), [t.name], output)
    b.data[out] = _tensor(out, (stop - start,) + tuple(t.shape[1:]), t.storage, t.seq)


def _prepare(b, t, where):
    """A C×H×W (or C×L) tensor as the engine stores maps."""
    from .onnx_graph import _is_sequence

    return b.channels_last(t, where) if len(t.shape) == 3 or _is_sequence(t) else t


def slice_data(b, node, attrs, where, t, data_in):
    """Slice of data along channels, step 1: a ChannelSlice; along a map's height and width,
    step 1: a Crop (axes kept whole, the batch's, are no slice)."""
    from .onnx_graph import NHWC_TO_NCHW, _as_nhwc, _nhwc_map

    if b.opset < 10:
        starts, ends, axes, steps = attrs.get("starts"), attrs.get("ends"), attrs.get("axes"), None
    else:
        const = [None if not n else b.indices(n, where, "Slice's bounds")
                 for n in list(node.input[1:5]) + [""] * (5 - len(node.input))]
        starts, ends, axes, steps = const[0], const[1], const[2], const[3]
    starts, ends = np.atleast_1d(starts).astype(np.int64), np.atleast_1d(ends).astype(np.int64)
    axes = list(range(len(starts))) if axes is None else [int(a) for a in np.atleast_1d(axes)]
    steps = [1] * len(starts) if steps is None else [int(s) for s in np.atleast_1d(steps)]
    view = _nhwc_map(b, t)
    if view is not None:  # an N×H×W×C map (Keras's Cropping2D after a repeat): its axes
        # as the N×C×H×W map it is stored as (onnx_axes refused one outside the four)
        _slice(b, node, where, view, starts, ends, [NHWC_TO_NCHW[a % 4] for a in axes], steps,
               named=(axes, 3))
        _as_nhwc(b, node.output[0])
        return
    _slice(b, node, where, _prepare(b, t, where), starts, ends, axes, steps)


def _slice(b, node, where, t, starts, ends, axes, steps, named=None):
    """``named``: the axes as the file numbers them and its channels' axis, where they are
    not those of the N×C×H×W map ``t`` (an N×H×W×C map's: the refusals named the stored
    map's axes, 'axis 2' for the H the file calls 1)."""
    from .onnx_graph import _rank

    given, channels = named or (axes, 1)
    rank = _rank(t)
    if len({len(axes), len(starts), len(ends), len(steps)}) != 1 \
            or len({a % rank for a in axes}) != len(axes):
        b.fail(where, f"Slice's starts, ends, axes and steps {brief(given)} do not fit")
    # ONNX axis → its size and range; an axis kept whole (the batch, say) is no slice
    dims = {1: t.shape[0] if t.storage == "cl" else t.shape[-1]}
    if t.storage == "cl" and not t.seq:
        dims.update({2: t.shape[1], 3: t.shape[2]})
    cut = {}
    for a, st, en, sp, g in zip(axes, starts, ends, steps, given, strict=True):
        a %= rank
        size = dims.get(a)
        whole = int(st) == 0 and (int(en) >= (size or np.iinfo(np.int32).max) or int(en) == -1
                                  and size is None)
        if sp == 1 and whole:
            continue
        if sp != 1 or size is None:
            b.fail(where, f"Slice of data along axes {brief(given)} with steps {brief(steps)}: "
                          f"only of channels (axis {channels}) or of a map's height and width, "
                          "step 1")
        cut[a] = tuple(int(np.clip(v + size if v < 0 else v, 0, size)) for v in (st, en))
        if cut[a][1] <= cut[a][0]:
            b.fail(where, f"Slice {st}:{en} of axis {g} ({size}) is empty")
    if set(cut) - {1} and 1 in cut:
        b.fail(where, "Slice of channels and of height or width at once is not supported")
    if 1 in cut or not cut:
        start, stop = cut.get(1, (0, dims[1]))
        _add_slice(b, node.name, t, start, stop, node.output[0], where)
        return
    (top, bottom), (left, right) = cut.get(2, (0, dims[2])), cut.get(3, (0, dims[3]))
    crops = (top, dims[2] - bottom, left, dims[3] - right)
    out = b.add(node.name, Crop(crops), [t.name], node.output[0])
    b.data[out] = _tensor(out, (dims[1], bottom - top, right - left), "cl")


def check_split_outputs(b, node, attrs, where) -> None:
    """Split-18's ``num_outputs`` counts the node's outputs and replaces the sizes input: one
    of another count, or given beside sizes, was passed over (the outputs' count or the sizes
    taken), where every runtime refuses the file."""
    if "num_outputs" not in attrs:
        return
    n = int(attrs["num_outputs"])
    if n != len(node.output):
        b.fail(where, f"Split's num_outputs {n} is not its {len(node.output)} outputs")
    if len(node.input) > 1 and node.input[1]:
        b.fail(where, "Split gives both sizes (its second input) and num_outputs; ONNX allows "
                      "only one")


def split_data(b, node, attrs, where, t, data_in):
    """Split of data along channels: one ChannelSlice per output."""
    from .onnx_graph import _rank

    check_split_outputs(b, node, attrs, where)
    t = _prepare(b, t, where)
    axis = int(attrs.get("axis", 0))
    if axis % _rank(t) != 1:
        b.fail(where, f"Split along axis {axis}: only along channels (axis 1)")
    C = t.shape[0] if t.storage == "cl" else t.shape[-1]
    outputs = list(node.output)
    sizes = attrs.get("split")
    if sizes is None and len(node.input) > 1 and node.input[1]:
        sizes = b.indices(node.input[1], where, "Split's sizes")
    if sizes is None:
        n = len(outputs)
        part = -(-C // n)  # ONNX: the last part may be smaller
        sizes = [min(part, C - k * part) for k in range(n)]
    sizes = [int(s) for s in np.atleast_1d(sizes)]
    if len(sizes) != len(outputs) or any(s < 0 for s in sizes) or sum(sizes) != C:
        b.fail(where, f"Split of {C} channels into {brief(sizes)} does not fit")
    start = 0
    for k, (size, output) in enumerate(zip(sizes, outputs, strict=True)):
        if output and size == 0:
            _refuse_empty_part(b, where, C, sizes, k, output)
        elif output:
            _add_slice(b, f"{node.name}/{k}", t, start, start + size, output, where)
        start += size


def _refuse_empty_part(b, where, C, sizes, k, output) -> None:
    """A part of 0 channels (Split-18's num_outputs=3 of 4 channels: [2, 2, 0]), which
    onnxruntime makes as an empty tensor: left out when nothing reads it (it was refused as
    "does not fit"); a layer of no channels is not supported."""
    if b.readers.get(output, 0) or output == b.output_name:
        use = "is read" if b.readers.get(output, 0) else "is the graph's output"
        b.fail(where, f"Split of {C} channels into {brief(sizes)}: output {k + 1} "
                      f"'{short(output)}' is empty (0 channels) and {use}; an empty part is "
                      "not supported")


def split_to_sequence(b, node, attrs, where, t, data_in):
    """SplitToSequence of data along channels (dynamo's ``x.chunk`` without its optimiser,
    ``optimize=False``): recorded as the parts' channel ranges; each ``SequenceAt`` of it is
    one ChannelSlice."""
    from .onnx_graph import _rank

    t = _prepare(b, t, where)
    if int(attrs.get("axis", 0)) % _rank(t) != 1:
        b.fail(where, f"SplitToSequence along axis {attrs.get('axis', 0)}: only along "
                      "channels (axis 1)")
    C = t.shape[0] if t.storage == "cl" else t.shape[-1]
    split = node.input[1] if len(node.input) > 1 and node.input[1] else None
    sizes = None if split is None else np.atleast_1d(b.indices(split, where, "the split"))
    if sizes is None or (sizes.size == 1 and np.ndim(b.consts[split]) == 0):
        if sizes is None and not attrs.get("keepdims", 1):
            b.fail(where, "SplitToSequence into single channels without keepdims is not "
                          "supported")
        part = 1 if sizes is None else int(sizes[0])
        sizes = [min(part, C - k) for k in range(0, C, part)] if part > 0 else []
    sizes = [int(v) for v in sizes]
    if not sizes or any(v <= 0 for v in sizes) or sum(sizes) != C:
        b.fail(where, f"SplitToSequence of {C} channels into {brief(sizes)} does not fit")
    bounds = np.cumsum([0] + sizes)
    b.sequences[node.output[0]] = (t, list(zip(bounds[:-1], bounds[1:], strict=True)))


def sequence_at(b, node, where):
    """One part of a SplitToSequence: a ChannelSlice."""
    if node.input[0] not in b.sequences:
        b.fail(where, "SequenceAt of a sequence not made by a SplitToSequence of data is not "
                      "supported")
    t, parts = b.sequences[node.input[0]]
    k = int(np.asarray(b.indices(node.input[1], where, "SequenceAt's position")).reshape(-1)[0])
    if not -len(parts) <= k < len(parts):
        b.fail(where, f"SequenceAt {k} of a sequence of {len(parts)} parts")
    start, stop = parts[k]
    _add_slice(b, node.name, t, int(start), int(stop), node.output[0], where)


def reshape(b, node, where, t, target) -> bool:
    """Reshape into the channel shuffle's groups, or back from them; returns whether it was
    one of these."""
    batch = (0, -1) if b.batch is None else (0, -1, b.batch)
    if t.storage == "cl" and not t.seq and len(target) == 5 and target[0] in batch:
        C, H, W = t.shape
        g, per = target[1], target[2]
        if g > 0 and (per == -1 or g * per == C) and C % g == 0 and list(target[3:]) == [H, W]:
            b.data[node.output[0]] = _tensor(t.name, (g, C // g, H, W), "groups")
            return True
    if t.storage == "shuffled" and len(target) == 4 and target[0] in batch:
        per, g, H, W = t.shape
        C = per * g
        if list(target[1:]) in ([C, H, W], [-1, H, W]):
            perm = [(j % g) * per + j // g for j in range(C)]
            out = b.add(node.name, ChannelPermute(perm), [t.name], node.output[0])
            b.data[out] = _tensor(out, (C, H, W), "cl")
            return True
    return False


def transpose(b, node, where, t, perm) -> bool:
    """The channel shuffle's Transpose of the groups; returns whether it was."""
    if t.storage == "groups" and perm == [0, 2, 1, 3, 4]:
        g, per, H, W = t.shape
        b.data[node.output[0]] = _tensor(t.name, (per, g, H, W), "shuffled")
        return True
    return False


def gather_data(b, node, attrs, where, t, data_in):
    """Gather of data along channels: one index (``x[:, c]``, its N×H×W pending until
    ``Unsqueeze(1)``) or consecutive ones (``x[:, [c, c + 1]]``): a ChannelSlice."""
    from .onnx_graph import _rank

    if t.storage == BATCH_FLAT:
        _unflatten_batch(b, node, where, t, attrs)
        return
    t = _prepare(b, t, where)
    axis = int(attrs.get("axis", 0))
    index = np.asarray(b.indices(node.input[1], where, "Gather's indices"))
    C = t.shape[0] if t.storage == "cl" else t.shape[-1]
    picks = [int(i) + C if int(i) < 0 else int(i) for i in index.reshape(-1)]
    if axis % _rank(t) != 1 or index.ndim > 1 or not picks or t.seq \
            or picks != list(range(picks[0], picks[0] + len(picks))) \
            or not 0 <= picks[0] <= picks[-1] < C:
        b.fail(where, f"Gather of data along axis {axis} at {brief(index.reshape(-1).tolist())}: "
                      f"only consecutive channels (axis 1) of the {C}")
    _add_slice(b, node.name, t, picks[0], picks[-1] + 1, node.output[0], where)
    if index.ndim == 0 and len(t.shape) == 3:  # x[:, c] drops the channel axis
        out = b.data[node.output[0]]
        b.data[node.output[0]] = _tensor(out.name, out.shape, "picked")
    elif index.ndim == 0:
        b.fail(where, "Gather of one channel of a flat tensor is not supported")


def _unflatten_batch(b, node, where, t, attrs):
    """Gather of a batch of one flattened to one axis by every index in order, shaped as the
    tensor before the flatten: dynamo's ``as_strided`` view of it (LayerNorm2d's permute of
    ConvNeXt's pooled 1×1 map), the same tensor. Any other Gather there mixes the batch
    axis into the features and is refused."""
    from .onnx_graph import _onnx_shape

    before = b.batch_flat[t]
    index = np.asarray(b.indices(node.input[1], where, "Gather's indices"))
    if int(attrs.get("axis", 0)) != 0 or index.shape != (1, *_onnx_shape(before)) \
            or not np.array_equal(index.reshape(-1), np.arange(index.size)):
        b.fail(where, f"Gather of a batch flattened to one axis is supported only as the "
                      f"view of the tensor it was ({brief([1, *_onnx_shape(before)])}, every "
                      "index in order: dynamo's as_strided)")
    b.data[node.output[0]] = before


def unsqueeze_picked(b, node, t, axes) -> bool:
    """``Unsqueeze(1)`` of a channel Gather took: the one-channel map it was; returns whether
    it was one."""
    if t.storage != "picked" or axes != [1]:
        return False
    b.data[node.output[0]] = _tensor(t.name, t.shape, "cl")
    return True
