"""How a file's samples are seen: the one layout (H×W×C images, or flat vectors) that datasets
read them in and that every command's messages describe them by (a .npy of N×784 is "28×28×1"
in lrp explain as in lrp spray)."""
from __future__ import annotations


def image_shape(shape) -> tuple:
    """The per-sample ``shape`` as H×W×C: a square vector becomes side×side×1, an H×W image
    gains its channel; other vectors and H×W×C stay as they are."""
    shape = tuple(int(d) for d in shape)
    if not shape:
        return (1,)
    if len(shape) == 1:
        side = int(round(shape[0] ** 0.5))
        return (side, side, 1) if side > 1 and side * side == shape[0] else shape
    if len(shape) == 2:
        return shape + (1,)
    return shape


def samples_text(shape) -> str:
    """"samples of shape 28×28×1" (as :func:`image_shape` sees it), or "samples of 3 values" for
    a vector that is no image: "samples of shape 3" read as a shape of images."""
    seen = image_shape(shape)
    if len(seen) == 1:
        return f"samples of {seen[0]} value{'s' * (seen[0] != 1)}"
    return f"samples of shape {'×'.join(map(str, seen))}"


def raw_input_text(raw_shape) -> str:
    """What a model takes, by its raw sample shape: images (H×W×C), feature vectors (the
    XOR net's 2 values were "raw 2 images") or other arrays (a C×L sequence)."""
    raw_shape = tuple(int(d) for d in raw_shape)
    size = 1
    for d in raw_shape:
        size *= d
    if len(raw_shape) == 1:
        return f"vectors of {size} value{'s' * (size != 1)}"
    kind = "images" if len(raw_shape) == 3 else "samples"
    return f"raw {'×'.join(map(str, raw_shape))} {kind} ({size} values each)"
