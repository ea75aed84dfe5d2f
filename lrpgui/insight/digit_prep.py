"""Drawn strokes → an MNIST-like 28×28 digit (pure numpy/scipy/scikit-image, no Qt).

MNIST digits were size-normalised to fit a 20×20 box (keeping the aspect ratio, with
anti-aliasing) and then placed in the 28×28 field so that their centre of mass lies at the
centre (LeCun et al., "The MNIST database of handwritten digits"). Doing the same to a drawing
lets an MNIST model see what it was trained on: ink bright (255) on a dark (0) background.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.transform import resize

from lrpcore.errors import ShapeError

SIDE = 28
BOX = 20
INK_THRESHOLD = 0.05


def mnist_like(ink, centre: bool = True) -> np.ndarray:
    """A 28×28 uint8 digit from ``ink`` (H×W floats in [0, 1], 1 = ink).

    ``centre=False`` only scales the whole drawing down to 28×28.
    """
    ink = np.asarray(ink, dtype=np.float64)
    if ink.ndim != 2 or min(ink.shape) < 1:
        raise ShapeError(f"the drawing must be a 2-D image, got shape {ink.shape}")
    if not np.all(np.isfinite(ink)):
        raise ShapeError("the drawing contains NaN or infinite values")
    ink = np.clip(ink, 0.0, 1.0)
    if not centre:
        small = resize(ink, (SIDE, SIDE), order=1, anti_aliasing=True)
        return _to_uint8(small)
    rows = np.flatnonzero(ink.max(axis=1) > INK_THRESHOLD)
    cols = np.flatnonzero(ink.max(axis=0) > INK_THRESHOLD)
    if rows.size == 0:
        return np.zeros((SIDE, SIDE), dtype=np.uint8)
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = BOX / max(crop.shape)
    h = max(1, int(round(crop.shape[0] * scale)))
    w = max(1, int(round(crop.shape[1] * scale)))
    small = resize(crop, (h, w), order=1, anti_aliasing=scale < 1)
    field = np.zeros((SIDE, SIDE))
    top, left = (SIDE - h) // 2, (SIDE - w) // 2
    field[top:top + h, left:left + w] = small
    if field.sum() > 0:
        cy, cx = ndimage.center_of_mass(field)
        field = ndimage.shift(field, ((SIDE - 1) / 2 - cy, (SIDE - 1) / 2 - cx), order=1,
                              mode="constant", cval=0.0)
    return _to_uint8(field)


def _to_uint8(a) -> np.ndarray:
    """Stretch so the strongest ink is 255 (thin strokes lose peak intensity when shrunk)."""
    a = np.clip(np.asarray(a, dtype=np.float64), 0.0, None)
    top = float(a.max())
    if top > 0:
        a = a / top
    return np.clip(np.round(a * 255.0), 0, 255).astype(np.uint8)


def upsample(digit, side: int) -> np.ndarray:
    """A 28×28 digit (uint8) as ink floats of ``side``×``side`` (to edit it on the pad)."""
    d = np.asarray(digit, dtype=np.float64).reshape(SIDE, SIDE) / 255.0
    return np.clip(resize(d, (side, side), order=1, anti_aliasing=False), 0.0, 1.0)
