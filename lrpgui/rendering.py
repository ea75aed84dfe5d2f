"""Relevance and inputs as RGB images for the views: a thin layer over ``lrpcore.render``.

It adds what the views need on top of the headless renderer: a cached outline mask (so a
colormap switch does not repeat the Canny filter) and a colour-bar table for every map.
"""

from __future__ import annotations

import functools

import numpy as np

from lrpcore import render as _render
from lrpcore.render import colormap_names, compose, digit, heatmap, to_uint8  # noqa: F401
from lrpcore.render.colormaps import gray_red2_bar  # noqa: F401 (the views' colour bar)
from lrpcore.render.outline import (  # noqa: F401 (one outline style for views and PNGs)
    DIGIT_OUTLINE,
    PHOTO_OUTLINE,
    OutlineStyle,
    draw_outline,
    outline_style,
)

DISPLAY_SCALING = _render.outline.DIGIT_SCALING  # a digit's
# the thin grey frame of a picture whose white would vanish on the white views (a strip of
# features; every cell of the insight tools)
FRAME = (190, 190, 190)


def display_scaling(shape) -> int:
    """Pixels per image pixel the views render: 3 for small images (a 28×28 digit, whose
    outline would otherwise be as coarse as its pixels), 1 for photographs (224×224 has the
    view's resolution already; 3× would cost 9× the work per click): the rule of every
    export and command (:func:`lrpcore.render.scaling_for`)."""
    return _render.scaling_for(max(shape[:2], default=0), 0)


def colormap_description(name: str) -> str:
    """The registry's one-line description of a colormap (the GUI list's tooltip)."""
    try:
        return str(_render.get_colormap(name).description)
    except Exception:
        return name


def default_colormap() -> str:
    names = colormap_names()
    return _render.DEFAULT_COLORMAP if _render.DEFAULT_COLORMAP in names else names[0]


def is_strip(a) -> bool:
    """Whether one sample is drawn as a strip of features (:func:`displayable`): a flat
    vector that is no square image, such as XOR's two inputs."""
    return np.ndim(a) == 1 and np.ndim(displayable(a)) == 2


def displayable(a) -> np.ndarray:
    """What the views draw for one sample: images as they are; a flat vector that is no
    square image (the toolbox's 2-input XOR net) as a one-row strip, one cell per feature."""
    a = np.asarray(a)
    if a.ndim == 1 and a.size and round(a.size ** 0.5) ** 2 != a.size:
        return a.reshape(1, -1)
    return a


def as_image2d(a, shape=None) -> np.ndarray:
    """H×W[×C] or flat square → H×W (channels summed), float."""
    a = np.asarray(a, dtype=np.float64)
    if shape is not None and a.ndim == 1:
        a = a.reshape(shape)
    return _render.as_map(a)


def outline_gray(x01) -> np.ndarray:
    """The input intensity ``lrpcore.render.heatmap`` outlines: H×W, channel mean in [0, 1]."""
    x = np.asarray(x01)
    gray = as_image2d(x)
    return gray / x.shape[2] if x.ndim == 3 and x.shape[2] > 1 else gray


def outline_mask(x01, scaling=None, sigma=None) -> np.ndarray:
    """Canny edges of the enlarged input (the outline ``heatmap`` draws), as a bool mask;
    ``scaling`` defaults to the views' (``display_scaling``: 1 for a photograph, whose edges
    at 3× took ~55 ms each on the GUI thread), ``sigma`` to the input's :func:`outline_style`."""
    if scaling is None:
        scaling = display_scaling(np.shape(x01))
    if sigma is None:
        sigma = outline_style(x01).sigma
    return _render.outline_mask(_render.enlarge(outline_gray(x01), scaling), sigma)


def heatmap_with_mask(R, mask, cmap, scaling=DISPLAY_SCALING,
                      style: OutlineStyle = DIGIT_OUTLINE) -> np.ndarray:
    """``heatmap`` without its own edge detection: the (cached) outline mask is drawn in
    ``style`` (solid black for a digit)."""
    rgb = np.array(heatmap(R, None, cmap=cmap, scaling=scaling), dtype=np.float32)
    if mask is not None and mask.shape == rgb.shape[:2]:
        draw_outline(rgb, mask, style)
    return rgb


@functools.lru_cache(maxsize=64)
def bar_lut(cmap: str) -> np.ndarray:
    """(256, 3) uint8 colours of a map from −max to +max, for the colour bar."""
    try:
        return np.asarray(_render.palette(cmap), dtype=np.uint8)
    except Exception:  # maps that are not pure lookups (gray-red2): sample a ramp instead
        ramp = np.linspace(-1.0, 1.0, 256).reshape(1, 256)
        rgb = np.asarray(heatmap(ramp, None, cmap=cmap, scaling=1))
        return np.clip(np.round(rgb.reshape(256, 3) * 255), 0, 255).astype(np.uint8)


GRAY_RED2_NOTE = ("gray-red2 (toolbox) clears R > 10·var(R) before colouring, so the strongest "
                  "relevance shows as neutral grey; exact for toolbox figures, misleading for "
                  "reading a map — the colour bar marks the cleared range")

