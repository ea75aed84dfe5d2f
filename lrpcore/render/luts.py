"""Colour lookup tables written from their published definitions (no matplotlib needed).

Each table has 256 RGB rows in [0, 1], sampled at ``linspace(0, 1, 256)`` like matplotlib's
tables, so that the toolbox's rendering (index ``floor(256·v)``) can be reproduced exactly.

* ``jet``: the piecewise-linear MATLAB/matplotlib definition (anchor points per channel).
* ``seismic``, ``bwr``, ``binary``: linear ramps through evenly spaced colours.
* ``coolwarm``: Moreland's diverging map, computed in his Msh colour space
  (K. Moreland, "Diverging Color Maps for Scientific Visualization", ISVC 2009) between
  the blue (59, 76, 192) and the red (180, 4, 38) he proposes, sampled at 33 points and
  interpolated linearly in RGB, as matplotlib tabulates it.
"""

from __future__ import annotations

import functools

import numpy as np

N = 256

# (position, value) anchor points per channel; values interpolate linearly in between.
JET_ANCHORS = (
    ((0.0, 0.0), (0.35, 0.0), (0.66, 1.0), (0.89, 1.0), (1.0, 0.5)),
    ((0.0, 0.0), (0.125, 0.0), (0.375, 1.0), (0.64, 1.0), (0.91, 0.0), (1.0, 0.0)),
    ((0.0, 0.5), (0.11, 1.0), (0.34, 1.0), (0.65, 0.0), (1.0, 0.0)),
)
SEISMIC_COLOURS = ((0.0, 0.0, 0.3), (0.0, 0.0, 1.0), (1.0, 1.0, 1.0), (1.0, 0.0, 0.0),
                   (0.5, 0.0, 0.0))
BWR_COLOURS = ((0.0, 0.0, 1.0), (1.0, 1.0, 1.0), (1.0, 0.0, 0.0))
BINARY_COLOURS = ((1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
COOLWARM_ENDS = ((59, 76, 192), (180, 4, 38))


def sample_positions(n: int = N) -> np.ndarray:
    return np.linspace(0.0, 1.0, n)


def from_anchors(anchors, n: int = N) -> np.ndarray:
    """Table from per-channel (position, value) anchor points."""
    v = sample_positions(n)
    return np.stack([np.interp(v, [p for p, _ in ch], [c for _, c in ch]) for ch in anchors],
                    axis=1)


def from_colours(colours, n: int = N) -> np.ndarray:
    """Table from colours placed at evenly spaced positions in [0, 1]."""
    colours = np.asarray(colours, dtype=np.float64)
    pos = np.linspace(0.0, 1.0, len(colours))
    v = sample_positions(n)
    return np.stack([np.interp(v, pos, colours[:, k]) for k in range(3)], axis=1)


# --- Moreland's Msh interpolation -------------------------------------------------------
_WHITE = np.array([0.95047, 1.0, 1.08883])  # D65 reference white
_RGB2XYZ = np.array([[0.4124, 0.3576, 0.1805],
                     [0.2126, 0.7152, 0.0722],
                     [0.0193, 0.1192, 0.9505]])


def _srgb_to_msh(rgb255):
    c = np.asarray(rgb255, dtype=np.float64) / 255.0
    lin = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = _RGB2XYZ @ lin / _WHITE
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    lab = np.array([116.0 * f[1] - 16.0, 500.0 * (f[0] - f[1]), 200.0 * (f[1] - f[2])])
    m = np.linalg.norm(lab)
    return np.array([m, np.arccos(lab[0] / m), np.arctan2(lab[2], lab[1])])


def _msh_to_srgb(msh):
    m, s, h = msh
    lab = np.stack([m * np.cos(s), m * np.sin(s) * np.cos(h), m * np.sin(s) * np.sin(h)])
    fy = (lab[0] + 16.0) / 116.0
    f = np.stack([fy + lab[1] / 500.0, fy, fy - lab[2] / 200.0])
    xyz = np.where(f > 0.2068966, f ** 3, (f - 16.0 / 116.0) / 7.787) * _WHITE[:, None]
    lin = np.linalg.solve(_RGB2XYZ, xyz)
    c = np.where(lin > 0.0031308, 1.055 * np.abs(lin) ** (1 / 2.4) - 0.055, 12.92 * lin)
    return np.clip(c.T, 0.0, 1.0)


def _adjust_hue(sat, m_unsat):
    """Hue for the unsaturated end so the path spins away from the saturated colour."""
    m, s, h = sat
    if m >= m_unsat:
        return h
    spin = s * np.sqrt(m_unsat ** 2 - m ** 2) / (m * np.sin(s))
    return h + spin if h > -np.pi / 3 else h - spin


def moreland_diverging(rgb_low, rgb_high, n: int = N) -> np.ndarray:
    """Moreland's diverging table between two saturated sRGB colours through white."""
    a, b = _srgb_to_msh(rgb_low), _srgb_to_msh(rgb_high)
    mid = max(a[0], b[0], 88.0)
    v = sample_positions(n)
    out = np.empty((n, 3))
    for half, sel in ((0, v < 0.5), (1, v >= 0.5)):
        t = 2.0 * v[sel] - half
        sat = a if half == 0 else b
        white = np.array([mid, 0.0, _adjust_hue(sat, mid)])
        lo, hi = (sat, white) if half == 0 else (white, sat)
        msh = lo[:, None] * (1.0 - t) + hi[:, None] * t
        out[sel] = _msh_to_srgb(msh)
    return out


@functools.cache
def table(name: str) -> np.ndarray:
    """The 256 × 3 float table of a built-in lookup map (read-only)."""
    makers = {
        "jet": lambda: from_anchors(JET_ANCHORS),
        "seismic": lambda: from_colours(SEISMIC_COLOURS),
        "bwr": lambda: from_colours(BWR_COLOURS),
        "binary": lambda: from_colours(BINARY_COLOURS),
        "coolwarm": lambda: from_colours(moreland_diverging(*COOLWARM_ENDS, n=33)),
    }
    lut = makers[name]()
    lut.setflags(write=False)
    return lut
