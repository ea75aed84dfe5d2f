"""Heatmap and input images, the toolbox's side-by-side layout, PNG writing.

``heatmap`` and ``digit`` reproduce the toolbox's ``hm_to_rgb`` and ``digit_to_rgb``
(reference README §9): maps are enlarged before colouring and edge detection, the outline is
drawn in black for digits (light grey for photographs). ``compose`` is its ``save_image``
layout (2-pixel black gaps, ×255 truncated) but clips, so out-of-range values cannot wrap
around.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np

from ..errors import ExportError, ShapeError
from ..fileio import atomic_write_bytes
from . import luts
from .colormaps import get_colormap, lookup
from .outline import (
    as_map,
    default_scaling,
    draw_outline,
    enlarge,
    outline_mask,
    outline_sigma,
    outline_style,
)

_BINARY = lookup(luts.table("binary"))


def heatmap(R, x=None, cmap="bwr", scaling=None, sigma=None) -> np.ndarray:
    """Colour a relevance map: an (H·s) × (W·s) × 3 float image in [0, 1].

    Parameters
    ----------
    R : array, H×W, H×W×C (summed over channels), C×H×W with C ≤ 4 (one sample of what
        :func:`lrpcore.explain` returns for a PyTorch-layout model) or a flat vector of
        square size.
    x : array or None, the input scaled to [0, 1] (uint8 pixels are divided by 255), same
        layout; when given, its Canny outline (computed on the enlarged input with ``sigma``)
        is drawn in the input's
        :func:`~lrpcore.render.outline.outline_style`: solid black for a digit, light grey
        for a photograph (black edges of its textures hid sparse relevance).
    sigma : float or None, the edge detector's smoothing; None: the style's (2 for a digit).
    cmap : str, a name from :func:`colormap_names` (or a matplotlib map name).
    scaling : int or None, pixels per map pixel; None: :func:`default_scaling`, as every
        command and the explorer draw (3 for a digit, 1 for a photograph: a fixed 3 drew a
        224×224 map 672 pixels wide where ``lrp explain --png`` draws 224).
    """
    cm = get_colormap(cmap)
    scaling = default_scaling(R) if scaling is None else scaling
    R, x = channels_last(R), None if x is None else unit_input(channels_last(x))
    R = enlarge(as_map(R), scaling)
    rgb = np.clip(cm(R), 0.0, 1.0)
    if x is not None:
        xe = enlarge(_gray(x), scaling)
        if xe.shape != R.shape:
            raise ShapeError(f"input of shape {xe.shape[:2]} (enlarged) does not match the "
                             f"relevance map of shape {R.shape[:2]}")
        draw_outline(rgb, outline_mask(xe, outline_sigma(x, sigma)), outline_style(x))
    return rgb


def channels_last(a) -> np.ndarray:
    """H×W×C of a C×H×W map (C ≤ 4 < H, W: the layout of a PyTorch export's relevance); any
    other array unchanged. A 1×28×28 ResNet map was read as H = 1, W = 28 and 28 channels and
    drawn as a 3×84 strip."""
    a = np.asarray(a)
    if a.ndim == 3 and a.shape[0] <= 4 < min(a.shape[1], a.shape[2]):
        return np.moveaxis(a, 0, -1)
    return a


def unit_input(x) -> np.ndarray:
    """The input in [0, 1]: 8-bit pixels (uint8, as a photograph or an MNIST digit is held)
    divided by 255, anything else as it is. A uint8 digit was drawn almost all black (its
    pixels clipped at 1), and a uint8 photograph's outline came from other edges."""
    x = np.asarray(x)
    return x / 255.0 if x.dtype == np.uint8 else x


def _gray(x) -> np.ndarray:
    """Input intensity for the outline: the channel mean keeps it in [0, 1]."""
    x = np.asarray(x)
    if x.ndim == 3 and x.shape[2] > 1:
        return as_map(x, "input") / x.shape[2]
    return as_map(x, "input")


def digit(x, scaling=None) -> np.ndarray:
    """The input as an RGB image: gray levels with 0 white and 1 black (matplotlib 'binary').

    RGB inputs (H×W×3 in [0, 1]) are shown as they are; uint8 pixels are divided by 255.
    ``scaling`` None: :func:`default_scaling`, as :func:`heatmap`.
    """
    scaling = default_scaling(x) if scaling is None else scaling
    x = unit_input(channels_last(x))
    if x.ndim == 3 and x.shape[2] == 3:
        rgb = np.clip(np.stack([as_map(x[..., k], "input") for k in range(3)], -1), 0.0, 1.0)
        return enlarge(rgb, scaling)
    v = enlarge(_gray(x), scaling)
    return np.array(_BINARY(2.0 * v - 1.0))


def to_uint8(image) -> np.ndarray:
    """Float [0, 1] → uint8 as the toolbox does (×255, truncated), clipped; uint8 unchanged."""
    a = np.asarray(image)
    if a.dtype == np.uint8:
        return a
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) or a.dtype.kind == "c":
        raise ShapeError(f"image must be real numbers, got dtype {a.dtype}")
    a = a.astype(np.float64) * 255.0
    if not np.all(np.isfinite(a)):
        raise ShapeError("image contains NaN or infinite values")
    return np.clip(a, 0.0, 255.0).astype(np.uint8)


def _rgb(image, i) -> np.ndarray:
    a = to_uint8(image)
    if a.ndim == 2:
        a = np.stack([a] * 3, axis=-1)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ShapeError(f"image {i}: expected H×W×3, got shape {a.shape}")
    return a[..., :3]


def compose(images, gap=2) -> np.ndarray:
    """Images side by side with ``gap`` black columns between them, as one uint8 image."""
    images = [images] if isinstance(images, np.ndarray) else list(images)
    if not images:
        raise ShapeError("nothing to compose: no images given")
    parts = [_rgb(im, i) for i, im in enumerate(images)]
    h = parts[0].shape[0]
    for i, p in enumerate(parts):
        if p.shape[0] != h:
            raise ShapeError(f"image {i} has height {p.shape[0]}, image 0 has {h}: "
                             "images side by side need the same height")
    black = np.zeros((h, int(gap), 3), dtype=np.uint8)
    row = [parts[0]]
    for p in parts[1:]:
        row += [black, p]
    return np.ascontiguousarray(np.concatenate(row, axis=1))


def encode_png(image) -> bytes:
    """PNG bytes of an image (uint8, or float in [0, 1] converted by :func:`to_uint8`)."""
    from skimage import io as skio  # noqa: PLC0415 (imports imageio; only needed here)

    a = to_uint8(image)
    if a.ndim not in (2, 3) or a.size == 0:
        raise ShapeError(f"cannot write an image of shape {a.shape} as PNG")
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        skio.imsave(buf, a, check_contrast=False, extension=".png")
    return buf.getvalue()


def check_png_name(path) -> None:
    """ExportError unless ``path`` ends in .png: images are written as PNG only, and another
    name (``heatmap.jpg``) labelled PNG bytes as something else. The one check of the
    commands' options, the explorer's exports and the library's writers."""
    text = os.fspath(path)
    if not text.lower().endswith(".png"):
        raise ExportError(f"{text}: images are written as PNG; name the file ….png")


def save_png(path, image, overwrite=False) -> None:
    """Write a PNG atomically (no partial file on failure); never replaces unless asked."""
    check_png_name(path)
    try:
        data = encode_png(image)
    except ShapeError as exc:
        raise ExportError(f"{path}: {exc}") from None
    atomic_write_bytes(path, data, overwrite=overwrite)
