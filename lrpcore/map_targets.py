"""What a target means when the model's output is a map (a segmentation network).

The engine computes channels-last, so such an output is N×H×W×K (an ONNX export's N×K×H×W
reordered; a sequence's N×K×L is N×1×L×K): the last axis holds the K class scores of each
pixel. A class K then explains *why the pixels predicted as K were called K*: the relevance
starts at the output's K-th channel where K is the pixel's argmax and is zero elsewhere (the
output times a mask, as zennit's segmentation examples start it). ``pred`` takes the class
predicted at the most pixels of each sample, ``output`` the whole map; ``true`` is refused (a
label per sample says nothing about pixels). A ``region`` (rows y0:y1, columns x0:x1 of the
map, as Python slices them) narrows each of them to a box: the pixels of one object.
"""

from __future__ import annotations

import math
import operator
import re

import numpy as np

from .errors import ShapeError
from .text import is_digits, short


def is_map(sample_shape) -> bool:
    """Whether outputs of per-sample shape ``sample_shape`` are a map of class scores (more
    than one axis) rather than one vector of them."""
    return len(tuple(sample_shape)) > 1


def map_words(sample_shape) -> str:
    """"a 32×32×4 map per sample (4 class scores per pixel, the last axis)": how messages
    name a map output (in the engine's channels-last layout)."""
    shape = tuple(sample_shape)
    return (f"a {'×'.join(map(str, shape))} map per sample ({shape[-1]} class "
            f"score{'s' if shape[-1] != 1 else ''} per pixel, the last axis)")


def map_targets_words(sample_shape) -> str:
    """What ``lrp info`` says of a map output: its shape and what a target selects."""
    return (f"{map_words(sample_shape)}, a segmentation model's: a target selects the pixels "
            "of a class (K: channel K where K is predicted, zero elsewhere; pred: the class "
            "predicted at the most pixels; output: the whole map)")


def predicted_classes(y, xp=np, region=None):
    """The predicted class of each sample of the outputs ``y``: the argmax of a score vector;
    of a map, the class predicted (argmax) at the most pixels (of ``region``), the lower index
    on a tie."""
    if y.ndim <= 2:
        check_region(region, y.shape[1:])
        return xp.argmax(y, axis=1)
    if region is not None:
        y0, y1, x0, x1 = check_region(region, y.shape[1:])
        y = y[:, y0:y1, x0:x1]
    return xp.argmax(pixel_counts(y, xp), axis=1)


def check_region(region, sample_shape):
    """``region`` as four ints (y0, y1, x0, x1) inside a map of per-sample shape
    ``sample_shape`` (H×W×K), or None; anything else is refused in words."""
    if region is None:
        return None
    shape = tuple(sample_shape)
    if len(shape) != 3:
        what = f"{map_words(shape)}" if is_map(shape) else "a vector of class scores"
        raise ShapeError(f"a region selects rows and columns of an H×W×K output map; the "
                         f"model's output is {what}")
    try:
        y0, y1, x0, x1 = (_whole(v) for v in region)
    except (TypeError, ValueError):
        raise ShapeError(f"region {short(repr(region))}: give four whole numbers (y0, y1, x0, "
                         "x1)") from None
    h, w = shape[0], shape[1]
    if not (0 <= y0 < y1 <= h and 0 <= x0 < x1 <= w):
        raise ShapeError(f"region rows {y0}:{y1}, columns {x0}:{x1} is not a box inside the "
                         f"{h}×{w} output map (0 ≤ y0 < y1 ≤ {h}, 0 ≤ x0 < x1 ≤ {w})")
    return y0, y1, x0, x1


def _whole(value) -> int:
    """A region's number as an int: int() cut 2.7 to 2, read True as 1 and "3" as 3, and
    raised OverflowError on infinity (an edited session file's, which stopped the explorer's
    start); a whole float (4.0, a computed side) is taken."""
    if isinstance(value, (float, np.floating)):
        if not (math.isfinite(value) and float(value).is_integer()):
            raise ValueError(value)
        return int(value)
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(value)
    return operator.index(value)


def region_words(region) -> str:
    """" in rows 0:8, columns 4:12" of a region (nothing of None), as messages say it."""
    if region is None:
        return ""
    y0, y1, x0, x1 = (int(v) for v in region)
    return f" in rows {y0}:{y1}, columns {x0}:{x1}"


def region_text(region) -> str:
    """"y0:y1,x0:x1" of a region ('' of None): what ``--region`` and the explorer take."""
    if region is None:
        return ""
    y0, y1, x0, x1 = (int(v) for v in region)
    return f"{y0}:{y1},{x0}:{x1}"


def region_field(region) -> dict:
    """The sidecars' record of a region, ``{"region": [y0, y1, x0, x1]}`` (nothing of None):
    the command line's and the explorer's exports alike."""
    return {} if region is None else {"region": [int(v) for v in region]}


def region_box(y, region, xp=np):
    """1 inside ``region`` of the N×H×W×K map ``y``, else 0: shaped 1×H×W×1."""
    y0, y1, x0, x1 = check_region(region, y.shape[1:])
    box = xp.zeros((1,) + tuple(y.shape[1:3]) + (1,), dtype=bool)
    box[:, y0:y1, x0:x1] = True
    return box


# how a region's numbers count, said alike by --region's help and the explorer's region box
REGION_COUNTING = "counted from 0, ends excluded, as Python's slices but never negative"

# y0:y1,x0:x1 in ASCII digits (a minus sign is left to check_region's bounds): int() read
# any script's digits, '٣:٤,0:4' as 3:4, and '+3' or '3_0' as numbers too
REGION_TEXT = re.compile(r"\s*(-?[0-9]+)\s*:\s*(-?[0-9]+)\s*,\s*(-?[0-9]+)\s*:\s*(-?[0-9]+)\s*")


def parse_region(text) -> tuple:
    """``--region y0:y1,x0:x1`` (rows, then columns of the output map) as four ints."""
    text = str(text)
    found = REGION_TEXT.fullmatch(text)
    if found and all(is_digits(v.lstrip("-")) for v in found.groups()):
        return tuple(int(v) for v in found.groups())
    if found:  # int() refuses thousands of digits (a ValueError, an internal error)
        why = "a number longer than any map's side; "
    else:
        other = next((c for c in text if c.isdigit() and not "0" <= c <= "9"), None)
        why = f"{other!r} is no digit 0-9; " if other else ""
    raise ShapeError(f"--region {short(text, 40)!r}: {why}give rows and columns of the output "
                     "map as y0:y1,x0:x1 (e.g. 10:40,20:60)")


def class_scores(y, xp=np, region=None):
    """N×K scores to show per class: the scores themselves, or of a map the share of its
    pixels (of ``region``) predicted as each class (whose largest is
    :func:`predicted_classes`'s class)."""
    if y.ndim <= 2:
        check_region(region, y.shape[1:])
        return y
    if region is not None:
        y0, y1, x0, x1 = check_region(region, y.shape[1:])
        y = y[:, y0:y1, x0:x1]
    return pixel_counts(y, xp) / float(np.prod(y.shape[1:-1]))


def pixel_counts(y, xp=np):
    """N×K: how many pixels of each sample's map are predicted as each class."""
    n, k = y.shape[0], y.shape[-1]
    pred = xp.argmax(y, axis=-1).reshape(n, -1)
    return (pred[:, :, None] == xp.arange(k)).sum(axis=1)


def map_mask(y, classes, xp=np, class_names=None, region=None):
    """1 at the K-th channel of each pixel predicted as K (K: the sample's entry of
    ``classes``; inside ``region`` only), else 0, in ``y``'s dtype. A sample in which its
    class is predicted nowhere has nothing to explain: refused naming the class (an all-zero
    start would give an empty heatmap that looks like an explanation)."""
    n, k = y.shape[0], y.shape[-1]
    c = xp.asarray(classes).reshape((n,) + (1,) * (y.ndim - 1))
    mask = (xp.argmax(y, axis=-1)[..., None] == c) & (xp.arange(k) == c)
    if region is not None:
        mask &= region_box(y, region, xp)
    empty = ~mask.reshape(n, -1).any(axis=1)
    if bool(empty.any()):
        first = int(xp.argmax(empty))
        cls = int(np.asarray(classes.get() if hasattr(classes, "get") else classes)
                  .reshape(-1)[first])
        named = _class_words(cls, class_names)
        which = "the sample" if n == 1 else \
            f"{int(empty.sum())} of the {n} samples (the first: sample {first} of the batch)"
        which += region_words(check_region(region, y.shape[1:]))
        raise ShapeError(f"class {named} is predicted at no pixel of {which}: there are no "
                         "pixels to explain; choose a class the map predicts (pred: the class "
                         "at the most pixels) or output (the whole map)")
    return mask.astype(y.dtype)


def has_pixels(y, classes, region=None, xp=np):
    """Per sample of the N×H×W×K map ``y``: whether its class (its entry of ``classes``) is
    predicted at one pixel at least (of ``region``). A pass over a whole dataset (RelMax
    references, SpRAy) leaves the others out where one explanation is refused
    (:func:`map_mask`)."""
    n = y.shape[0]
    c = xp.asarray(classes).reshape((n,) + (1,) * (y.ndim - 2))
    hit = xp.argmax(y, axis=-1) == c
    if region is not None:
        hit &= region_box(y, region, xp)[..., 0]
    return hit.reshape(n, -1).any(axis=1)


def refuse_true_target():
    raise ShapeError("target 'true' needs a label per sample, which says nothing about the "
                     "pixels of a segmentation model's output map: use pred (the class at "
                     "the most pixels), a class index or name, or output (the whole map)")


def _class_words(index, class_names) -> str:
    names = class_names() if callable(class_names) else class_names
    names = list(names) if names is not None else []
    name = str(names[index]) if index < len(names) else None
    return str(index) if name in (None, str(index)) else f"{index} ({name})"


def declared_outputs(model, y):
    """A map model's outputs ``y`` (the engine's N×H×W×K) in the layout its file declares:
    N×K×H×W (N×K×L for a sequence) for a PyTorch export, as its relevance follows the
    declared input layout; anything else (class scores, a Keras export's N×H×W×K) as it is."""
    layout = model.meta.get("output_layout") if isinstance(model.meta, dict) else None
    if y.ndim < 3 or layout not in ("NCHW", "NCL"):
        return y
    moved = np.moveaxis(y, -1, 1)  # N×K×H×W; a sequence's N×K×1×L
    return moved[:, :, 0, :] if layout == "NCL" else moved
