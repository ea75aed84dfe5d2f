"""Colour relevance for photographs: one map from three channels, and the heatmap blended over
a greyscale copy of the photograph (which pixels of *this* picture carry the evidence).

The channel reductions are a registry (name → function); ``sum`` is the map every other view
draws (relevance is additive over channels), ``max-abs`` keeps, per pixel, the channel of the
largest magnitude with its sign, and ``red``/``green``/``blue`` show one channel.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .colormaps import get_colormap
from .outline import as_map, enlarge


def _channel(k):
    return lambda R: R[..., k]


def _max_abs(R):
    k = np.argmax(np.abs(R), axis=-1)[..., None]
    return np.take_along_axis(R, k, axis=-1)[..., 0]


CHANNEL_MAPS = {
    "sum": ("relevance summed over the colour channels", lambda R: R.sum(axis=-1)),
    "max-abs": ("per pixel, the channel of the largest |relevance| (with its sign)", _max_abs),
    "red": ("the red channel's relevance", _channel(0)),
    "green": ("the green channel's relevance", _channel(1)),
    "blue": ("the blue channel's relevance", _channel(2)),
}


def channel_map(R, mode: str = "sum") -> np.ndarray:
    """H×W×C relevance → H×W by ``mode`` (see CHANNEL_MAPS); other layouts as they are."""
    if mode not in CHANNEL_MAPS:
        raise ValueError(f"unknown channel reduction {mode!r}; choose from "
                         f"{', '.join(CHANNEL_MAPS)}")
    R = np.asarray(R)
    if R.ndim != 3 or R.shape[2] == 1:
        return R
    if R.shape[2] < 3 and mode in ("red", "green", "blue"):
        return R.sum(axis=-1)
    return CHANNEL_MAPS[mode][1](R)


def overlay_opacity(value) -> float:
    """``value`` clipped to 0..1, the one check of the overlay's and the explorer's opacity;
    NaN is refused (it passed the clip and blended a NaN picture)."""
    opacity = float(value)
    if np.isnan(opacity):
        raise ShapeError("overlay opacity must be a number from 0 to 1, got nan")
    return min(max(opacity, 0.0), 1.0)


def overlay(R, x01, opacity: float = 0.6, cmap: str = "bwr", scaling: int = 1) -> np.ndarray:
    """(H·s)×(W·s)×3 float in [0, 1]: the coloured map (zero = the colormap's centre) laid
    with ``opacity`` over the photograph in grey (channel mean of ``x01``)."""
    opacity = overlay_opacity(opacity)
    heat = np.clip(get_colormap(cmap)(enlarge(as_map(R), scaling)), 0.0, 1.0)
    x = np.asarray(x01, dtype=np.float64)
    grey = x.mean(axis=-1) if x.ndim == 3 else as_map(x)
    grey = enlarge(np.clip(grey, 0.0, 1.0), scaling)
    if grey.shape != heat.shape[:2]:
        raise ValueError(f"photograph of {grey.shape} pixels does not match the relevance "
                         f"map of {heat.shape[:2]}")
    return (1.0 - opacity) * grey[..., None] + opacity * heat
