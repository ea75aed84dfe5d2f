"""A line plot of perturbation curves drawn with numpy and scikit-image (no matplotlib).

Axes with tick labels, one coloured anti-aliased line per method, and a legend of coloured
squares with the method's name and AOPC; text in the figures' font (`lrpcore.render.font`).
"""

from __future__ import annotations

import math

import numpy as np
from skimage.draw import line_aa

from ..render.font import draw_text, text_size
from .pixelflip import axis_label

COLOURS = [(0, 90, 200), (230, 120, 0), (0, 150, 60), (200, 30, 30), (130, 60, 170),
           (140, 90, 40), (0, 150, 150), (200, 0, 150), (120, 130, 0), (240, 110, 170),
           (0, 0, 110), (200, 170, 0)]
RANDOM_COLOUR = (128, 128, 128)
TEXT = 2  # font scale: 10×14-pixel glyphs


def nice_ticks(lo: float, hi: float, count: int = 5) -> np.ndarray:
    """Round tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of ten)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return np.array([0.0])
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    stop = math.ceil(hi / step) * step
    return np.arange(start, stop + step / 2, step)


def _label(v: float) -> str:
    return f"{v:.4g}"


def _blend_line(img, r0, c0, r1, c1, colour, width=2):
    for d in range(width):
        rr, cc, val = line_aa(int(r0) + d, int(c0), int(r1) + d, int(c1))
        keep = (rr >= 0) & (rr < img.shape[0]) & (cc >= 0) & (cc < img.shape[1])
        rr, cc, val = rr[keep], cc[keep], val[keep][:, None]
        img[rr, cc] = img[rr, cc] * (1 - val) + np.asarray(colour, float) * val


def curve_plot(results, title="pixel-flipping", width=760, plot_height=360) -> np.ndarray:
    """An RGB uint8 image of every result's mean curve against the number of flipped units."""
    results = list(results)
    # Rows below the axis follow the font's line height (tick labels, axis label, then the
    # legend), so a taller font never draws the axis label over the legend.
    line = text_size("X", TEXT)[0]
    left, right, top = 90, 30, max(40, 14 + line)
    label_top = 8 + line + 4  # the axis label, below the tick labels
    bottom = label_top + line + 14  # the legend starts here
    legend_line = line + 10
    height = top + plot_height + bottom + legend_line * len(results) + 10
    img = np.full((height, width, 3), 255.0)
    x0, x1 = left, width - right
    y0, y1 = top, top + plot_height  # y0 is the top edge of the plot area
    curves = [r.mean_curve for r in results]
    xs = results[0].flipped if results else np.arange(2)
    lo = min((float(np.min(c)) for c in curves), default=0.0)
    hi = max((float(np.max(c)) for c in curves), default=1.0)
    yt = nice_ticks(lo, hi)
    xt = nice_ticks(0, float(xs[-1]) if xs[-1] > 0 else 1.0)
    ylo, yhi = float(yt[0]), float(yt[-1])
    xhi = float(xt[-1])

    def px(v):
        return x0 + (x1 - x0) * v / xhi

    def py(v):
        return y1 - (y1 - y0) * (v - ylo) / (yhi - ylo)

    ink = np.zeros(3)
    grid = np.full(3, 225.0)
    for v in yt:  # horizontal grid lines and y tick labels
        r = int(round(py(v)))
        img[r, x0:x1 + 1] = grid
        lab = _label(v)
        th, tw = text_size(lab, TEXT)
        draw_text_float(img, lab, r - th // 2, x0 - 8 - tw)
    for v in xt:
        c = int(round(px(v)))
        img[y0:y1 + 1, c] = grid
        lab = _label(v)
        th, tw = text_size(lab, TEXT)
        draw_text_float(img, lab, y1 + 8, c - tw // 2)
    img[y0:y1 + 1, x0] = ink  # axes
    img[y1, x0:x1 + 1] = ink
    xlabel = axis_label(results[0].unit if results else 1)
    th, tw = text_size(xlabel, TEXT)
    draw_text_float(img, xlabel, y1 + label_top, (x0 + x1 - tw) // 2)
    draw_text_float(img, f"{title}: mean output of the explained class", 12, x0)
    for i, (res, curve) in enumerate(zip(results, curves, strict=True)):
        colour = RANDOM_COLOUR if res.label == "random" else COLOURS[i % len(COLOURS)]
        cols = [px(float(v)) for v in res.flipped]
        rows = [py(float(v)) for v in curve]
        for k in range(len(curve) - 1):
            _blend_line(img, round(rows[k]), round(cols[k]), round(rows[k + 1]),
                        round(cols[k + 1]), colour)
        ly = y1 + bottom + i * legend_line
        img[ly:ly + legend_line - 10, x0:x0 + legend_line - 10] = colour
        draw_text_float(img, f"{res.label}  AOPC {res.aopc:.4g}", ly, x0 + legend_line)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def draw_text_float(img, text, top, left, colour=(0, 0, 0)):
    """draw_text for the float canvas used while blending."""
    h, w = text_size(text, TEXT)
    patch = np.zeros((h, w, 3), dtype=np.uint8)
    draw_text(patch, text, 0, 0, (255, 255, 255), TEXT)
    mask = patch[..., 0] > 0
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + h, img.shape[0]), min(left + w, img.shape[1])
    if r1 > r0 and c1 > c0:
        sub = mask[r0 - top:r1 - top, c0 - left:c1 - left]
        img[r0:r1, c0:c1][sub] = colour
