"""Rendering of relevance maps as images, headless (numpy and scikit-image only).

Pure functions: :func:`heatmap` (colour + outline), :func:`digit` (the input),
:func:`compose` (the toolbox's side-by-side layout), :func:`save_png`; a colormap registry
(:func:`colormap_names`, :func:`get_colormap`) and 256-entry palettes for fast display
(:func:`palette`); :func:`grid` lays out titled figures.
"""

from .colormaps import (
    COLORMAPS,
    DEFAULT_COLORMAP,
    TOOLBOX_COLORMAPS,
    Colormap,
    ColormapError,
    colormap_names,
    get_colormap,
    palette,
)
from .compose import check_png_name, compose, digit, encode_png, heatmap, save_png, to_uint8
from .font import draw_text, text_mask
from .grid import grid
from .outline import as_map, check_scaling, default_scaling, enlarge, outline_mask, scaling_for

__all__ = [
    "COLORMAPS", "DEFAULT_COLORMAP", "TOOLBOX_COLORMAPS", "Colormap", "ColormapError",
    "colormap_names", "get_colormap", "palette", "check_png_name", "compose", "digit",
    "encode_png", "heatmap", "save_png",
    "to_uint8", "draw_text", "text_mask", "grid", "as_map", "check_scaling", "default_scaling",
    "scaling_for", "enlarge", "outline_mask",
]

from ..lazy import submodule_getattr  # noqa: E402

__getattr__ = submodule_getattr(__name__)  # lrpcore.render.overlay, imported on first use
