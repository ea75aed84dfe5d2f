"""A research-grade figure of one explanation: input | heatmap | colour bar under a title.

``lrp explain --png`` and the GUI's Export PNG keep the LRP Toolbox's bare layout (3× scale,
2-pixel black gap) so that they match the toolbox; a *figure* is for papers: any scale, a
colour bar with its range (gray-red2's bar shows what it cleared), and a title naming the
rule, the explained class and its score. Headless: numpy and the font of :mod:`.font`.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .colormaps import get_colormap, gray_red2_bar, palette
from .compose import _rgb, digit, heatmap
from .font import draw_text, line_height, text_size, title_scale
from .outline import as_map, default_scaling, outline_sigma

MARGIN = 8
FIGURE_SIDE = 256  # pixels the longer side of a figure's heatmap aims at, by default
MAX_AUTO_SCALE = 8  # a 28×28 digit: 224 pixels, the scale figures always had


def figure_scale_for(R) -> int:
    """The scale of a figure when none is chosen, from the map's size: its longer side about
    FIGURE_SIDE pixels, at most MAX_AUTO_SCALE. MNIST digits (28 or 32 pixels) keep 8; a
    224×224 photograph gets 1 (at 8 its figure was a 3,700-pixel-wide PNG), a 64×64 image
    4. ``R`` is a map as :func:`figure` takes it (H×W, H×W×C or a square vector)."""
    h, w = as_map(R).shape
    return max(1, min(MAX_AUTO_SCALE, FIGURE_SIDE // max(h, w)))


def figure_sigma(R, scale, x01=None) -> float:
    """The outline's smoothing at ``scale``: the input's outline style's σ (2 for a digit, 3
    for a photograph) at the scale the views and PNGs draw this map (3× for digits, the
    toolbox's edge width; 1× for photographs), grown with the scale. At
    2·scale/3 for every map, a photograph's figure at 1× was outlined at σ 0.67: three times
    the edges of the view and of its PNG export."""
    return outline_sigma(x01) * int(scale) / default_scaling(R)


def colorbar(R, cmap, height, width=16) -> tuple[np.ndarray, float, float]:
    """(height × width × 3 uint8 bar, top value, bottom value): +max at the top."""
    cm = get_colormap(cmap)
    R2 = as_map(np.asarray(R, dtype=np.float64))
    if cm.is_lookup:
        lo, hi = cm.levels(R2)
        lut = palette(cm.name, 256)
    else:  # gray-red2: built from this map, the cleared range drawn as it is in the map
        hi = float(np.max(np.abs(R2))) or 1.0
        lo = -hi
        lut = gray_red2_bar(R2, hi)[0]
    rows = np.linspace(255, 0, int(height)).round().astype(int)  # top row = +max
    bar = np.repeat(lut[rows][:, None, :], int(width), axis=1)
    return bar, float(hi), float(lo)


def figure(R, x01, cmap="bwr", scale=None, outline=True, title=(), with_colorbar=True,
           text_scale=None) -> np.ndarray:
    """Input | heatmap | colour bar, ``scale`` screen pixels per input pixel (None: chosen
    from the map's size, :func:`figure_scale_for`), under ``title`` (a sequence of lines).
    ``x01`` is the input in [0, 1] in ``R``'s layout (or None)."""
    scale = figure_scale_for(R) if scale is None else int(scale)
    if not 1 <= scale <= 64:
        raise ShapeError(f"figure scale {scale}: use 1 to 64 pixels per input pixel")
    sigma = figure_sigma(R, scale, x01)
    use_x = x01 if outline and x01 is not None else None
    heat = _rgb(heatmap(R, use_x, cmap=cmap, scaling=scale, sigma=sigma), "heatmap")
    parts = [heat]
    if x01 is not None:
        parts.insert(0, _rgb(digit(x01, scaling=scale), "input"))
    h = heat.shape[0]
    ts = text_scale or max(1, min(3, scale // 5), title_scale(h))  # photographs: larger text
    gap = max(2, scale)
    body_w = sum(p.shape[1] for p in parts) + gap * (len(parts) - 1)
    labels = []
    if with_colorbar:
        bar, hi, lo = colorbar(R, cmap, h, width=max(10, 2 * scale))
        labels = [f"{hi:+.3g}", "0", f"{lo:+.3g}"]
        label_w = max(text_size(t, ts)[1] for t in labels)
        body_w += gap + bar.shape[1] + 4 + label_w
    lines = [str(t) for t in (title or ())]
    if with_colorbar and get_colormap(cmap).name == "gray-red2":
        cut = gray_red2_bar(as_map(np.asarray(R, dtype=np.float64)), 1.0)[1]
        lines.append(f"gray-red2 (toolbox) clears R > 10·var(R) = {cut:.3g}: drawn grey")
    lh = line_height(ts)
    title_h = (lh + 2) * len(lines) + (gap if lines else 0)
    width = max([body_w] + [text_size(t, ts)[1] for t in lines]) + 2 * MARGIN
    height = MARGIN + title_h + h + MARGIN
    out = np.full((height, width, 3), 255, dtype=np.uint8)
    for k, line in enumerate(lines):
        draw_text(out, line, MARGIN + k * (lh + 2), MARGIN, (0, 0, 0), ts)
    y, x = MARGIN + title_h, MARGIN
    for p in parts:
        out[y:y + h, x:x + p.shape[1]] = p
        x += p.shape[1] + gap
    if with_colorbar:
        out[y:y + h, x:x + bar.shape[1]] = bar
        out[y:y + h, x - 1] = out[y:y + h, x + bar.shape[1]] = 80  # a thin frame
        out[y - 1, x - 1:x + bar.shape[1] + 1] = out[y + h, x - 1:x + bar.shape[1] + 1] = 80
        lx = x + bar.shape[1] + 4
        for text, ty in zip(labels, (y, y + (h - lh) // 2, y + h - lh), strict=True):
            draw_text(out, text, ty, lx, (0, 0, 0), ts)
    return out


def figure_title(rule, target_text, score=None, sample=None, model=None) -> list[str]:
    """The title lines: rule and explained class with its score; then sample and model."""
    first = f"{rule} · relevance for {target_text}"
    if score is not None:
        first += f" (score {score:.4g})"
    second = " · ".join(p for p in (None if sample is None else f"sample {sample}",
                                    None if not model else str(model)) if p)
    return [first] + ([second] if second else [])
