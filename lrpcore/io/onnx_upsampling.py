"""ONNX operators that make a map larger: ``ConvTranspose`` (as :class:`Spread`, a ``Pad``
and a convolution of flipped filters; ``lrpcore.graph_upsampling`` says why) and
``Resize``/``Upsample``: nearest (as :class:`NearestResize`, its index map computed here with
ONNX's coordinate rules), linear and cubic (as :class:`InterpolatingResize`)."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from ..graph_layers import GroupedConvolution
from ..graph_upsampling import (
    COORDINATES,
    KERNELS,
    MAX_SIDE,
    MAX_STRIDE,
    InterpolatingResize,
    NearestResize,
    Spread,
)
from ..layers import Convolution
from ..text import brief, short


def _text(attrs, key, default):
    """A string attribute (``onnx_graph._attrs`` decoded it, refusing bytes not UTF-8)."""
    return str(attrs.get(key, default))


def conv_transpose(b, node, attrs, where, t, data_in):
    from .onnx_graph import (  # noqa: PLC0415
        MAX_PAD,
        _biases,
        _ints,
        _pad_node,
        _pair,
        _Tensor,
    )

    W = b.weights(node.input[1], where, "the filters")
    if W.ndim != 4:
        b.fail(where, f"filters of shape {W.shape}: only 2-D transposed convolutions are "
                      "supported")
    c_in, n_g, kh, kw = W.shape
    if not (kh and kw):
        b.fail(where, f"filters of shape {W.shape} are empty")
    groups = int(attrs.get("group", 1))
    if groups < 1 or c_in % groups:
        b.fail(where, f"group {groups} does not divide the {c_in} input channels")
    n = n_g * groups
    B = _biases(b, node, where, n)
    if _pair(attrs.get("dilations", [1, 1]), where, b, "dilations") != [1, 1]:
        b.fail(where, "dilated transposed convolutions are not supported")
    strides = _pair(attrs.get("strides", [1, 1]), where, b, "strides")
    if not all(1 <= s <= MAX_STRIDE for s in strides):
        b.fail(where, f"strides {brief(strides)} must be 1…{MAX_STRIDE}")
    if "kernel_shape" in attrs and _ints(attrs["kernel_shape"], where, b, "kernel_shape") \
            != [kh, kw]:
        b.fail(where, f"kernel_shape {brief(list(attrs['kernel_shape']))} does not match "
                      f"filters of {kh}×{kw}")
    t = b.channels_last(t, where)
    if t.seq:  # 4-d filters on an N×C×L tensor: every runtime refuses it, here it ran as 1×L
        b.fail(where, f"filters of shape {W.shape} (2-D) on a sequence of shape "
                      f"{brief([t.shape[0], t.shape[2]])}: the ranks differ")
    C, H, Wd = t.shape
    if C != c_in:
        b.fail(where, f"filters take {c_in} channels, the input has {C}")
    extra = _ints(attrs.get("output_padding", [0, 0]), where, b, "output_padding")
    if len(extra) != 2 or any(not 0 <= e < s for e, s in zip(extra, strides, strict=True)):
        b.fail(where, f"output_padding {brief(extra)} must be two numbers below the strides")
    pads = _output_pads(b, where, attrs, (H, Wd), (kh, kw), strides, extra)
    # the equivalent convolution reads the spread input padded by k − 1 − pads (+ extra after)
    (top, bottom), (left, right) = pads
    border = (kh - 1 - top, kh - 1 - bottom + extra[0], kw - 1 - left, kw - 1 - right + extra[1])
    if any(p < 0 for p in border):
        b.fail(where, f"pads {brief([top, left, bottom, right])} cut more than the "
                      f"{kh}×{kw} filters add: not supported")
    # C_in × (n/g) × kh × kw → kh × kw × (C_in/g) × n, flipped: output o of group g reads
    # input i of that group through W[g·C_in/g + i, o − g·n/g] turned by 180°
    flipped = W[:, :, ::-1, ::-1].reshape(groups, c_in // groups, n_g, kh, kw)
    Wt = np.ascontiguousarray(flipped.transpose(3, 4, 1, 0, 2).reshape(kh, kw, c_in // groups,
                                                                          n))
    x = t
    if strides != [1, 1]:
        out = b.add(f"{node.name}/spread", Spread(strides), [t.name], f"{node.name}/spread_output")
        shape = Spread(strides).output_shape((H, Wd, C))
        b.data[out] = x = _Tensor(out, (C, shape[0], shape[1]), "cl", t.seq)
    if max(border) > MAX_PAD:
        b.fail(where, f"filters of {kh}×{kw} on a {H}×{Wd} input are not supported (the "
                      f"convolution would pad its input by more than {MAX_PAD})")
    # k − 1 around the input, however small (a 1×1 latent through 20×20 filters makes its
    # 20×20 map): bounded by the filters the file holds, not by the input's size; the bound
    # on a Pad operator's own pads named "pads" the file does not have
    x = _pad_node(b, f"{node.name}/pad", x, border, 0.0, where, limit=MAX_PAD)
    layer = Convolution(Wt, B) if groups == 1 else GroupedConvolution(Wt, B, (1, 1), groups)
    out = b.add(node.name, layer, [x.name], node.output[0])
    Ho, Wo, oc = layer.output_shape((x.shape[1], x.shape[2], x.shape[0]))
    b.data[out] = _Tensor(out, (oc, Ho, Wo), "cl", t.seq)


def _output_pads(b, where, attrs, sizes, kernel, strides, extra):
    """((top, bottom), (left, right)) a transposed convolution cuts off its full output."""
    from .onnx_graph import _ints  # noqa: PLC0415

    auto = _text(attrs, "auto_pad", "NOTSET")
    full = [s * (size - 1) + e + k
            for size, k, s, e in zip(sizes, kernel, strides, extra, strict=True)]
    wanted = None
    if "output_shape" in attrs:
        wanted = _ints(attrs["output_shape"], where, b, "output_shape")
    elif auto in ("SAME_UPPER", "SAME_LOWER"):
        wanted = [size * s for size, s in zip(sizes, strides, strict=True)]
    if wanted is not None:
        if len(wanted) != 2 or any(w < 1 for w in wanted):
            b.fail(where, f"output_shape {brief(wanted)} is not that of a 2-D operator (two "
                          "positive sizes)")
        # the file's own words: a SAME auto_pad without output_shape was refused as
        # "output_shape [2, 2] is larger…", naming an attribute the file does not have
        asked = (f"output_shape {brief(wanted)}" if "output_shape" in attrs else
                 f"auto_pad {auto}'s output of {wanted[0]}×{wanted[1]} (the input's size "
                 "times the strides)")
        pads = []
        for f, w in zip(full, wanted, strict=True):
            total = f - w
            if total < 0:
                b.fail(where, f"{asked} is larger than the {full[0]}×{full[1]} the "
                              "transposed convolution makes")
            small, large = total // 2, total - total // 2
            pads.append((small, large) if auto == "SAME_UPPER" else (large, small))
        return tuple(pads)
    if auto not in ("NOTSET", "VALID"):
        b.fail(where, f"auto_pad {short(auto)!r} is not supported")
    p = _ints(attrs.get("pads", [0, 0, 0, 0]), where, b, "pads") if auto == "NOTSET" \
        else [0, 0, 0, 0]
    if len(p) != 4 or any(v < 0 for v in p):
        b.fail(where, f"pads {brief(p)} are not those of a 2-D operator")
    top, left, bottom, right = p
    return (top, bottom), (left, right)


# ONNX's nearest_mode: a coordinate → the input index read
_NEAREST = {
    "round_prefer_floor": lambda x: np.where(x - np.floor(x) == 0.5, np.floor(x), np.round(x)),
    "round_prefer_ceil": lambda x: np.where(x - np.floor(x) == 0.5, np.ceil(x), np.round(x)),
    "floor": np.floor,
    "ceil": np.ceil,
}


def nearest_index(size, scale, coordinates, nearest, count=None) -> np.ndarray:
    """Input index read by each output position (ONNX Resize, mode nearest): ``count`` of
    them (Resize's sizes), else size · scale rounded down."""
    out = size * scale
    count = scaled_size(size, scale) if count is None else count
    # in float32, as onnxruntime and PyTorch compute them: a coordinate that float32 makes a
    # whole number (3 / 0.6 = 5) was just under it in float64 and read the pixel before
    i = np.arange(count, dtype=np.float32)
    x = COORDINATES[coordinates](i, np.float32(scale), size, out, count)
    return np.clip(_NEAREST[nearest](x), 0, size - 1).astype(np.int64)


def scaled_size(size, scale) -> int:
    """An output side from a scale: size · scale rounded down, the product taken in float32
    as onnxruntime takes it (the scale is a float32 in the file). 10 × 1.3 (a float32 just
    under 1.3) is then 13, as PyTorch's ``interpolate(scale_factor=1.3)`` makes it, where
    the exact product, 12.99999…, gave 12."""
    return math.floor(np.float32(size) * np.float32(scale))


def legacy_nearest_index(size, scale, count) -> np.ndarray:
    """Input index read by each output position of Upsample's and Resize-10's nearest mode,
    whose rounding ONNX leaves open: as onnxruntime reads, output i / scale in float32,
    rounded down where the axis is enlarged and up where it is shrunk (rounded down, a
    shrinking Resize-10 read other pixels than the runtime; in float64, 7 / 0.7 was just over
    10 and read pixel 11)."""
    x = np.arange(count, dtype=np.float32) / np.float32(scale)
    index = np.floor(x) if scale >= 1 else np.ceil(x)
    return np.clip(index, 0, size - 1).astype(np.int64)


def _floats(b, where, value, what):
    """``value`` where ONNX's floating-point scales are (integer scales are no Resize's);
    its integer sizes are read by ``b.indices``."""
    if value.dtype.kind != "f":
        b.fail(where, f"{what} hold {value.dtype.name} values: ONNX takes floating-point ones")
    return value


def resize(b, node, attrs, where, t, data_in):
    from .onnx_graph import _optional_input, _Tensor  # noqa: PLC0415

    op = node.op_type
    mode = _text(attrs, "mode", "nearest")
    legacy = op == "Upsample" or b.opset < 11  # Upsample, and Resize-10: no such attributes
    modes = ("nearest", "linear") if legacy else ("nearest", *KERNELS)
    if mode not in modes:
        b.fail(where, f"{op} of mode {short(mode)!r} is not supported: only "
                      f"{', '.join(repr(m) for m in modes)}")
    coordinates = "asymmetric" if legacy else _text(attrs, "coordinate_transformation_mode",
                                                    "half_pixel")
    nearest = None if legacy else _text(attrs, "nearest_mode", "round_prefer_floor")
    if coordinates == "tf_half_pixel_for_nn" and (b.opset >= 13 or mode != "nearest"):
        b.fail(where, f"{op}'s coordinate_transformation_mode 'tf_half_pixel_for_nn' is "
                      "ONNX's for nearest resizing at opsets 11 and 12 only")
    if coordinates not in COORDINATES or (nearest is not None and nearest not in _NEAREST):
        b.fail(where, f"{op} with coordinate_transformation_mode {short(coordinates)!r} and "
                      f"nearest_mode {short(nearest)!r} is not supported")
    if "axes" in attrs or _text(attrs, "keep_aspect_ratio_policy", "stretch") != "stretch":
        b.fail(where, f"{op} with 'axes' or a keep_aspect_ratio_policy is not supported")
    t = b.channels_last(t, where)
    C, H, W = t.shape
    # a sequence N×C×L (F.interpolate of Conv1d features) is stored as a C×1×L map: its
    # three scales or sizes gain the height's 1 (four, for no runtime, were refused)
    rank, axes = (3, "L (a sequence)") if t.seq else (4, "H, W")
    scales = sizes = None
    if "scales" in attrs:  # Upsample-7
        scales = np.asarray(attrs["scales"], dtype=np.float64)
    scale_input = 1 if op == "Upsample" or b.opset < 11 else 2
    if _optional_input(node, scale_input):
        value = np.asarray(b.const(node.input[scale_input], where, f"{op}'s scales"))
        if value.size:
            scales = _floats(b, where, value, f"{op}'s scales").astype(np.float64)
    if op == "Resize" and b.opset >= 11 and _optional_input(node, 3):
        value = np.asarray(b.indices(node.input[3], where, f"{op}'s sizes"))
        if value.size:
            sizes = value.astype(np.int64)
    if sizes is not None and scales is not None:  # read as the sizes: runtimes refuse it
        b.fail(where, f"{op} gives both scales and sizes; ONNX allows only one")
    if sizes is not None:
        if sizes.shape == (rank,) and sizes[0] == 0 and b.written_zero(node.input[3]):
            b.fail(where, f"{op}'s sizes {brief(sizes.tolist())} make an empty batch: a 0 "
                          "the file writes is an empty dimension to runtimes, which refuse it "
                          "(0 stands for the batch only where the sizes come from the input's "
                          "Shape)")
        if sizes.shape != (rank,) or sizes[1] != C or not b.batch_fits(sizes[0], node.input[3]):
            b.fail(where, f"{op}'s sizes {brief(sizes.tolist())} must be N, {C}, {axes} "
                          f"(N: the input's batch{f', {b.batch}' if b.batch else ''})")
        sizes = np.insert(sizes, 2, 1) if t.seq else sizes
        factors = [int(o) / s for o, s in zip(sizes[2:], (H, W), strict=True)]
        # the sizes themselves: size · (o / size) rounded down is o − 1 for some (7 → 61)
        out_hw = [int(o) for o in sizes[2:]]
    elif scales is not None:
        if scales.shape != (rank,) or scales[0] != 1 or scales[1] != 1:
            which = "s (a sequence N×C×L: its length" if t.seq else "s, s (height and width"
            b.fail(where, f"{op}'s scales {brief(scales.tolist())} must be 1, 1, {which} "
                          "only)")
        scales = np.insert(scales, 2, 1.0) if t.seq else scales
        factors = [float(v) for v in scales[2:]]
        if not all(math.isfinite(f) and f > 0 for f in factors):
            b.fail(where, f"{op}'s scales {brief(scales.tolist())} must be positive")
        if max(factors) > MAX_SIDE:  # no side of 1 or more fits; 3e38 overflowed float32's
            # product to infinity and stopped the import in OverflowError
            b.fail(where, f"{op}'s scales {brief(scales.tolist())} make a map of more than "
                          f"{MAX_SIDE} on a side")
        if op == "Upsample" and min(factors) < 1:  # ONNX: at least 1 (runtimes round a
            # shrinking Upsample up, where its specification rounds down)
            b.fail(where, f"Upsample's scales {brief(scales.tolist())} must be at least 1 "
                          "(ONNX's Upsample only enlarges; Resize shrinks)")
        out_hw = [scaled_size(size, f) for size, f in zip((H, W), factors, strict=True)]
    else:
        b.fail(where, f"{op} needs constant scales or sizes")
    if not all(1 <= o <= MAX_SIDE for o in out_hw):
        b.fail(where, f"{op} makes a map of {out_hw[0]}×{out_hw[1]}: each side must be "
                      f"1…{MAX_SIDE}")
    if mode == "nearest":
        rows, cols = (legacy_nearest_index(size, f, count) if legacy else
                      nearest_index(size, f, coordinates, nearest, count)
                      for size, f, count in zip((H, W), factors, out_hw, strict=True))
        layer = NearestResize(rows, cols, (H, W))
    else:
        layer = _interpolating(b, where, attrs, (H, W), out_hw, factors, mode, coordinates)
    out = b.add(node.name, layer, [t.name], node.output[0])
    b.data[out] = _Tensor(out, (C, out_hw[0], out_hw[1]), "cl", t.seq)


def _interpolating(b, where, attrs, in_hw, out_hw, factors, mode, coordinates):
    """An InterpolatingResize of Resize's attributes (opset 18's antialias included)."""
    cubic_a = attrs.get("cubic_coeff_a", -0.75)
    # 0 or 1, as onnx_graph's SWITCHES checked them
    flags = {key: attrs.get(key, 0) for key in ("exclude_outside", "antialias")}
    if not (isinstance(cubic_a, float) and math.isfinite(cubic_a)):
        b.fail(where, f"cubic_coeff_a {short(cubic_a)!r} must be a finite number")
    try:
        return InterpolatingResize(in_hw, out_hw, factors, mode, coordinates, cubic_a,
                                   **flags)
    except ShapeError as exc:
        b.fail(where, str(exc).removeprefix("InterpolatingResize: "))
