"""Input specifications read from JSON (native headers, sidecar files), checked field by field.

JSON from a file can hold anything; :class:`~lrpcore.spec.InputSpec` trusts its arguments. This
module turns a JSON object into an InputSpec only when every field has the right type and the
sizes agree, and otherwise raises ModelFormatError naming the file and the field.
"""

from __future__ import annotations

import dataclasses
import math

from ..errors import ModelFormatError
from ..spec import InputSpec
from ..text import listing

SPEC_FIELDS = ("shape", "raw_shape", "layout", "divide", "offset", "pad", "pad_value",
               "value_range", "raw_range", "mean", "std")
# how photographs of any size are fitted first (torchvision's Resize + CenterCrop): kept in
# the spec's ``extra``; a sidecar may set them for an ONNX export (EfficientNet: 256, 224)
FIT_FIELDS = ("resize", "crop")
_LAYOUTS = ("NHWC", "NCHW", "flat")
_MAX_CHANNELS = 4096
_MAX_SIZE = 1 << 31
_MAPPING_FIELDS = ("divide", "offset", "raw_range", "pad", "pad_value", "mean", "std")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def finite_number(v) -> bool:
    """A JSON number (int or float, not bool) finite as a float: math.isfinite of a
    400-digit integer raised OverflowError, an internal error for a sidecar or header."""
    if not (_is_int(v) or isinstance(v, float)):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


_is_number = finite_number


def _shape(value, key, where):
    if (not isinstance(value, list | tuple) or not 1 <= len(value) <= 3
            or not all(_is_int(v) and 0 < v <= _MAX_SIZE for v in value)
            or math.prod(value) > _MAX_SIZE):
        raise ModelFormatError(f"{where}: input '{key}' must be a list of 1 to 3 positive "
                               f"integers, got {str(value)[:60]}")
    return tuple(int(v) for v in value)


def _range(value, key, where):
    if (not isinstance(value, list | tuple) or len(value) != 2
            or not all(_is_number(v) for v in value) or value[0] >= value[1]):
        # [5, 5]: zB's bounds then coincide and relevance blew up "for no recognised cause"
        raise ModelFormatError(f"{where}: input '{key}' must be two finite numbers [low, high] "
                               f"with low < high, got {str(value)[:60]}")
    return (float(value[0]), float(value[1]))


def _per_channel(value, key, where, positive=False):
    if (not isinstance(value, list | tuple) or not 1 <= len(value) <= _MAX_CHANNELS
            or not all(_is_number(v) and (v > 0 or not positive) for v in value)):
        need = "positive" if positive else "finite"
        raise ModelFormatError(f"{where}: input '{key}' must be a list of {need} numbers, one "
                               "per channel")
    _in_scale(value, key, where, divisor=positive)
    return tuple(float(v) for v in value)


_MAX_SCALE = 1e12  # a scaling or shift beyond it overflows float32 (std 1e-300: x/std = inf)


def _in_scale(values, key, where, divisor=False):
    """Refuse magnitudes that no image model uses and that overflow the float32 engine (the
    error then blamed the input for NaN): divisors within 1e-12 … 1e12, other values ≤ 1e12."""
    for v in values:
        if abs(v) > _MAX_SCALE or (divisor and abs(v) < 1 / _MAX_SCALE):
            size = "between 1e-12 and 1e12" if divisor else "at most 1e12"
            raise ModelFormatError(f"{where}: input '{key}' holds {v:g}; it must be {size} in "
                                   "size")


def _number(value, key, where, nonzero=False):
    if not _is_number(value) or (nonzero and value == 0):
        need = "a finite non-zero number" if nonzero else "a finite number"
        raise ModelFormatError(f"{where}: input '{key}' must be {need}, got {str(value)[:60]}")
    return float(value)


def spec_from_json(data, where: str, base: InputSpec | None = None,
                   source: str = "file", strict: bool = True,
                   sequence: str | None = None) -> InputSpec:
    """Build an InputSpec from a JSON object; fields missing there are taken from ``base``.

    ``strict`` refuses unknown fields (hand-written sidecars: catches typos); otherwise
    unknown fields with plain JSON values are kept in ``extra`` (files written by newer
    versions). ``sequence``: the model's ``sequence_layout()``; a "C×L" model's channels are
    the first axis of its raw input, which a per-channel mean/std follows.
    """
    if not isinstance(data, dict):
        raise ModelFormatError(f"{where}: the input specification must be a JSON object")
    unknown = sorted(str(k)[:30] for k in data
                     if k not in SPEC_FIELDS + FIT_FIELDS and k != "source")
    extra = {}
    if unknown and strict:
        raise ModelFormatError(f"{where}: unknown input field(s) {listing(unknown)}; "
                               f"known: {', '.join(SPEC_FIELDS + FIT_FIELDS)}")
    if unknown:
        extra = {k: v for k, v in data.items() if k not in SPEC_FIELDS + FIT_FIELDS
                 and k != "source" and isinstance(k, str)
                 and isinstance(v, str | int | float | bool | None)}
    fit = {k: data[k] for k in FIT_FIELDS if data.get(k) is not None}
    if base is not None and not fit and not {"shape", "raw_shape"} & set(data):
        fit = {k: v for k, v in base.extra.items() if k in FIT_FIELDS}
    data = {k: v for k, v in data.items() if k in SPEC_FIELDS}
    merged = base.to_dict() if base is not None else {}
    merged = {k: v for k, v in merged.items() if k in SPEC_FIELDS}
    if "shape" in data and "raw_shape" not in data and "pad" not in data:
        for stale in ("raw_shape", "pad", "layout"):  # inferred for the old shape
            merged.pop(stale, None)
    merged.update({k: v for k, v in data.items() if k in SPEC_FIELDS})
    if "shape" not in merged:
        raise ModelFormatError(f"{where}: the input specification needs 'shape'")
    fields = {"shape": _shape(merged["shape"], "shape", where)}
    layout = merged.get("layout", "NHWC" if len(fields["shape"]) == 3 else "flat")
    if layout not in _LAYOUTS:
        raise ModelFormatError(f"{where}: input 'layout' must be one of "
                               f"{', '.join(_LAYOUTS)}, got {str(layout)[:30]}")
    if layout == "NCHW" and len(fields["shape"]) != 3:  # a sequence's C×L, a flat vector:
        # every sample was then transposed as an image (an internal error at the first one)
        raise ModelFormatError(f"{where}: input 'layout' NCHW is an image's (C×H×W); 'shape' "
                               f"{list(fields['shape'])} is none: write \"layout\": \"flat\" "
                               "or leave it out")
    fields["layout"] = layout
    raw = merged.get("raw_shape")
    if raw is None and layout == "NCHW" and len(fields["shape"]) == 3:
        c, h, w = fields["shape"]  # images come H×W×C: C×H×W taken as H×W×C scrambled them
        raw = [h, w, c]
    fields["raw_shape"] = _shape(merged["shape"] if raw is None else raw, "raw_shape", where)
    if (layout == "NCHW" and "raw_shape" in data and len(fields["shape"]) == 3
            and fields["raw_shape"] != (fields["shape"][1], fields["shape"][2],
                                        fields["shape"][0])):
        # [1, 28, 28] as H×W×C fed every image transposed; a flat [768] for 3×16×16 ended
        # in an internal error at the first image (the H×W×C → C×H×W transpose)
        c, h, w = fields["shape"]
        what = ("is the model's C×H×W" if fields["raw_shape"] == fields["shape"]
                else f"does not fit the model's C×H×W 'shape' {list(fields['shape'])}")
        raise ModelFormatError(f"{where}: input 'raw_shape' {list(fields['raw_shape'])} {what}; "
                               f"images come H×W×C: write [{h}, {w}, {c}] or leave it out")
    core_raw, core_shape = ([d for d in fields[k] if d != 1] for k in ("raw_shape", "shape"))
    if (layout == "flat" and "raw_shape" in data and core_raw != core_shape
            and sorted(core_raw) == sorted(core_shape)):
        # a sequence's L×C for a C×L model: a flat input is reshaped, never transposed, so
        # every sample was fed scrambled ("raw 32×4 → as given → 4×32")
        raise ModelFormatError(f"{where}: input 'raw_shape' {list(fields['raw_shape'])} is "
                               f"the model's 'shape' {list(fields['shape'])} in another order; "
                               "samples are fed as they are, never transposed: write "
                               f"{list(fields['shape'])} and give the samples in that order, "
                               "or leave it out")
    for key in ("mean", "std"):
        if merged.get(key) is not None:
            fields[key] = _per_channel(merged[key], key, where, positive=key == "std")
    if ("mean" in fields) != ("std" in fields):
        raise ModelFormatError(f"{where}: input 'mean' and 'std' come together")
    if "mean" in fields and len(fields["mean"]) != len(fields["std"]):
        raise ModelFormatError(f"{where}: input 'mean' and 'std' need one value per channel")
    if sequence == "C×L" and layout == "flat" and len(fields["raw_shape"]) == 2:
        fields["channels_first"] = True
    channels = fields["raw_shape"][0 if fields.get("channels_first") else -1]
    if "mean" in fields and len(fields["mean"]) not in (1, channels):
        # three values for a greyscale model broadcast the image to three channels: the
        # reshape to the model's input then failed as an internal error (hostile review)
        raise ModelFormatError(f"{where}: input 'mean' and 'std' hold {len(fields['mean'])} "
                               f"values, but the raw input {list(fields['raw_shape'])} has "
                               f"{channels} channel{'s' * (channels != 1)}")
    for key in ("divide",):
        if key in merged:
            fields[key] = _number(merged[key], key, where, nonzero=True)
            if not 1e-12 <= abs(fields[key]) <= 1e12:  # x / 1e-308 overflows to inf
                raise ModelFormatError(f"{where}: input '{key}' is {fields[key]:g}; a scaling "
                                       "divisor must lie between 1e-12 and 1e12 in size")
    for key in ("offset", "pad_value"):
        if key in merged:
            fields[key] = _number(merged[key], key, where)
            _in_scale([fields[key]], key, where)
    pad = merged.get("pad", 0)
    if not _is_int(pad) or not 0 <= pad <= 4096:
        raise ModelFormatError(f"{where}: input 'pad' must be a whole number ≥ 0, got "
                               f"{str(pad)[:30]}")
    fields["pad"] = pad
    for key in ("value_range", "raw_range"):
        if key in merged:
            fields[key] = _range(merged[key], key, where)
            _in_scale(fields[key], key, where)
    _check_sizes(fields, where)
    extra.update(_fit(fit, fields["raw_shape"], where))
    spec = InputSpec(source=source, extra=extra, **fields)
    spec = _padding_follows(spec, data, base)
    if "value_range" not in data and any(k in data for k in _MAPPING_FIELDS):
        # a new scaling moves the input's range (zB's default bounds) with it
        spec = dataclasses.replace(spec, value_range=spec.mapped_range())
    return spec


_SCALING_FIELDS = ("divide", "offset", "raw_range", "mean", "std")


def _padding_follows(spec, data, base):
    """A new scaling (a sidecar's ``"divide": 255, "offset": 0`` on the toolbox's padded
    LeNet-5) moves the padding with the black pixel it stands for: the −1 of x/127.5 − 1
    became a value below every pixel of [0, 1]. Only a padding that was the black pixel
    follows; one the JSON gives, or an unusual one of ``base``, stays."""
    if (not spec.pad or base is None or "pad_value" in data
            or not any(k in data for k in _SCALING_FIELDS)
            or base.background() is None or base.pad_value != base.background()
            or spec.background() is None):
        return spec
    return dataclasses.replace(spec, pad_value=spec.background())


def _fit(fit, raw, where) -> dict:
    """``resize``/``crop`` checked: whole numbers, the crop the square image's side (another
    crop was silently not applied), the resize at least the crop."""
    for key, value in fit.items():
        if not _is_int(value) or not 1 <= value <= 65536:
            raise ModelFormatError(f"{where}: input '{key}' must be a whole number of pixels "
                                   f"(1 to 65536), got {str(value)[:30]}")
    if not fit:
        return {}
    if len(raw) != 3 or raw[0] != raw[1]:
        raise ModelFormatError(f"{where}: input {' and '.join(map(repr, fit))} fit "
                               "photographs to a square image; the raw input "
                               f"{list(raw)} is none")
    side = raw[0]
    crop = fit.get("crop", side)
    if crop != side:
        raise ModelFormatError(f"{where}: input 'crop' {crop} must be the image side {side} of "
                               f"'raw_shape' {list(raw)}")
    if fit.get("resize", side) < side:
        raise ModelFormatError(f"{where}: input 'resize' {fit['resize']} is smaller than the "
                               f"centre crop {side} cut from it")
    from .image_folder import MAX_PIXELS  # noqa: PLC0415

    if fit.get("resize", side) ** 2 > MAX_PIXELS:  # every photograph was refused, blamed on
        raise ModelFormatError(  # its aspect ratio ("crop it ... first")
            f"{where}: input 'resize' {fit['resize']} would make every photograph at least "
            f"{fit['resize']}×{fit['resize']} pixels, more than {MAX_PIXELS:,}")
    return dict(fit)


def _check_sizes(fields, where):
    raw, shape, pad = fields["raw_shape"], fields["shape"], fields["pad"]
    if pad:
        if fields["layout"] != "NHWC":  # e.g. "NCHW" in the sidecar of a toolbox LeNet-5
            raise ModelFormatError(
                f"{where}: 'layout' {fields['layout']} contradicts the padded input (pad "
                f"{pad}), which takes NHWC input ({_LAYOUT_WORDS['NHWC']}); write \"layout\": "
                "\"NHWC\" or leave it out")
        if len(raw) != 3:
            raise ModelFormatError(f"{where}: input 'pad' needs an NHWC 'raw_shape' (H, W, C)")
        padded = (raw[0] + 2 * pad) * (raw[1] + 2 * pad) * raw[2]
    else:
        padded = math.prod(raw)
    if padded != math.prod(shape):
        raise ModelFormatError(
            f"{where}: input 'raw_shape' {list(raw)} with pad {pad} gives {padded} values, "
            f"but 'shape' {list(shape)} holds {math.prod(shape)}")


_LAYOUT_WORDS = {"NCHW": "C×H×W, channels first", "NHWC": "H×W×C, channels last"}


def check_layout(spec: InputSpec, model, where: str) -> None:
    """Refuse an image spec whose layout is not the one the model's layers take: the
    preprocessing would hand every image over scrambled (one line naming both layouts)."""
    if spec is None or len(spec.shape) != 3:
        return
    declared = model.input_layout()
    if spec.layout != declared:
        source = f" {model.source}" if getattr(model, "source", None) else ""
        raise ModelFormatError(
            f"{where}: 'layout' {spec.layout} contradicts the model{source}, which takes "
            f"{declared} input ({_LAYOUT_WORDS[declared]}); write \"layout\": \"{declared}\" "
            "or leave it out")


# characters of one class name (ImageNet's longest has 30): every list, title and tooltip of the
# explorer shows them, and Qt lays out a long word in time that grows with its square (ten
# names of 90,000 characters, a 900-KB sidecar, froze the window for minutes as it opened)
MAX_CLASS_NAME = 1000


def class_names_from_json(value, where: str, n_classes: int | None = None) -> list:
    """Check a JSON list of class names (strings of at most :data:`MAX_CLASS_NAME`
    characters; as many as the model has outputs)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ModelFormatError(f"{where}: 'class_names' must be a list of strings")
    for k, name in enumerate(value):
        if len(name) > MAX_CLASS_NAME:
            raise ModelFormatError(f"{where}: class name {k} has {len(name):,} characters; "
                                   f"at most {MAX_CLASS_NAME:,} are taken")
    if n_classes is not None and len(value) != n_classes:
        raise ModelFormatError(f"{where}: {len(value)} class names for a model with "
                               f"{n_classes} outputs")
    return list(value)
