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


def sample_shape_text(shape) -> str:
    """``shape`` of one sample, described as :func:`image_shape` sees it."""
    return "×".join(map(str, image_shape(shape)))
