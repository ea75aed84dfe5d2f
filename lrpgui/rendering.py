"""Turning relevance and inputs into RGB images for the views and the exports.

Uses ``lrpcore.render`` (the project's colormap registry and heatmap renderer) when present;
a minimal blue-white-red renderer stands in otherwise, so the window still works in a build
without it. All functions are pure: the views cache their results.
"""

from __future__ import annotations

import functools

import numpy as np

try:
    from lrpcore import render as _render
except ImportError:  # the render package is written by a sibling task
    _render = None

FALLBACK_MAP = "bwr"
DISPLAY_SCALING = 3


def colormap_names() -> list[str]:
    if _render is None:
        return [FALLBACK_MAP]
    return list(_render.colormap_names())


def default_colormap() -> str:
    names = colormap_names()
    for preferred in ("bwr", "seismic", "black-firered"):
        if preferred in names:
            return preferred
    return names[0]


def as_image2d(a, shape=None) -> np.ndarray:
    """H×W[×C] or flat square → H×W (channels summed), float."""
    a = np.asarray(a, dtype=np.float64)
    if shape is not None and a.ndim == 1:
        a = a.reshape(shape)
    if a.ndim == 1:
        side = int(round(a.size ** 0.5))
        a = a.reshape(side, side)
    if a.ndim == 3:
        a = a.sum(axis=2)
    return a


def heatmap(R, x01=None, cmap=FALLBACK_MAP, scaling=DISPLAY_SCALING, sigma=2.0) -> np.ndarray:
    """Float RGB image in [0, 1] of size H·s × W·s; outline of ``x01`` drawn when given."""
    if _render is not None:
        return np.asarray(_render.heatmap(R, x01, cmap=cmap, scaling=scaling, sigma=sigma))
    r = as_image2d(R)
    v = float(np.max(np.abs(r))) or 1.0
    lut = _fallback_lut()
    idx = np.clip(np.round((r / v + 1) * 127.5), 0, 255).astype(np.uint8)
    rgb = lut[idx].astype(np.float64) / 255.0
    rgb = np.kron(rgb, np.ones((scaling, scaling, 1)))
    if x01 is not None:
        rgb[outline_mask(x01, scaling, sigma)] = 0.0
    return rgb


def outline_mask(x01, scaling=DISPLAY_SCALING, sigma=2.0) -> np.ndarray:
    """Canny edges of the enlarged input (the outline ``heatmap`` draws), as a bool mask."""
    from skimage.feature import canny

    x = np.kron(as_image2d(x01), np.ones((scaling, scaling)))
    return canny(x, sigma=sigma)


def heatmap_with_mask(R, mask, cmap, scaling=DISPLAY_SCALING) -> np.ndarray:
    """``heatmap`` without its own edge detection: the (cached) outline mask is drawn black.

    The views use this so a colormap switch does not repeat the Canny filter."""
    rgb = np.array(heatmap(R, None, cmap=cmap, scaling=scaling), dtype=np.float32)
    if mask is not None and mask.shape == rgb.shape[:2]:
        rgb[mask] = 0.0
    return rgb


def digit(x01, scaling=DISPLAY_SCALING) -> np.ndarray:
    """The input as a float RGB image (ink dark on white, as the toolbox draws digits)."""
    if _render is not None and hasattr(_render, "digit"):
        return np.asarray(_render.digit(x01, scaling=scaling))
    x = np.asarray(x01, dtype=np.float64)
    if x.ndim == 3 and x.shape[2] == 3:
        img = x
    else:
        img = np.repeat(as_image2d(x)[..., None], 3, axis=2)
        img = 1.0 - img
    return np.kron(np.clip(img, 0, 1), np.ones((scaling, scaling, 1)))


@functools.lru_cache(maxsize=64)
def bar_lut(cmap: str) -> np.ndarray:
    """(256, 3) uint8 colours of a map from −max to +max, for the colour bar."""
    if _render is not None:
        if hasattr(_render, "palette"):
            try:
                return np.asarray(_render.palette(cmap), dtype=np.uint8)
            except Exception:  # maps that are not pure lookups: sample a ramp instead
                pass
        ramp = np.linspace(-1.0, 1.0, 256).reshape(1, 256)
        rgb = np.asarray(_render.heatmap(ramp, None, cmap=cmap, scaling=1))
        return np.clip(np.round(rgb.reshape(256, 3) * 255), 0, 255).astype(np.uint8)
    return _fallback_lut()


@functools.lru_cache(maxsize=1)
def _fallback_lut() -> np.ndarray:
    t = np.linspace(-1.0, 1.0, 256)
    r = np.where(t < 0, 1 + t, 1.0)
    b = np.where(t > 0, 1 - t, 1.0)
    g = 1 - np.abs(t)
    return np.round(np.stack([r, g, b], axis=1) * 255).astype(np.uint8)


def to_uint8(rgb) -> np.ndarray:
    return np.clip(np.round(np.asarray(rgb) * 255.0), 0, 255).astype(np.uint8)


def compose(images, gap=2) -> np.ndarray:
    """Images side by side with a black gap (uint8), the toolbox's figure layout."""
    if _render is not None and hasattr(_render, "compose"):
        return np.asarray(_render.compose(images, gap=gap))
    parts = []
    for i, img in enumerate(images):
        img = to_uint8(img) if np.asarray(img).dtype != np.uint8 else np.asarray(img)
        if i:
            parts.append(np.zeros((img.shape[0], gap, 3), dtype=np.uint8))
        parts.append(img)
    return np.concatenate(parts, axis=1)
