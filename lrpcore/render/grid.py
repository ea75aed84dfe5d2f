"""A titled grid of images (e.g. samples × colormaps) as one uint8 image, for figures."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .compose import _rgb
from .font import draw_text, line_height, text_size, title_scale

PAD = 3  # pixels around a title


def grid(cells, col_titles=None, row_titles=None, gap=2, background=255,
         scale=None) -> np.ndarray:
    """Lay out ``cells`` (a list of rows, each a list of images) on a plain background.

    Columns are as wide as their widest image or title line, rows as tall as their tallest
    image; images are centred in their cell. Titles are drawn with the headless font of
    :mod:`lrpcore.render.font`, column titles above (a "\n" starts a second line: a step's
    name over its score, where one line would widen the column past its map), row titles to
    the left, ``scale`` times the font's size (None: grown with the tallest image,
    :func:`~.font.title_scale`).
    """
    rows = [[_rgb(im, f"{r},{c}") for c, im in enumerate(row)] for r, row in enumerate(cells)]
    if not rows or not rows[0]:
        raise ShapeError("a figure grid needs at least one image")
    ncol = len(rows[0])
    if any(len(row) != ncol for row in rows):
        raise ShapeError("every row of a figure grid needs the same number of images")
    for titles, n, what in ((col_titles, ncol, "column"), (row_titles, len(rows), "row")):
        if titles is not None and len(titles) != n:
            raise ShapeError(f"{len(titles)} {what} titles for {n} {what}s")
    ink = (0, 0, 0) if background > 127 else (255, 255, 255)
    if scale is None:
        scale = title_scale(max(im.shape[0] for row in rows for im in row))
    widths = [max(row[c].shape[1] for row in rows) for c in range(ncol)]
    col_lines = None if col_titles is None else [str(t).split("\n") for t in col_titles]
    if col_lines is not None:
        widths = [max(w, *(text_size(line, scale)[1] + 2 * PAD for line in lines))
                  for w, lines in zip(widths, col_lines, strict=True)]  # titles never touch
    heights = [max(im.shape[0] for im in row) for row in rows]
    top = (max(map(len, col_lines)) * line_height(scale) + 2 * PAD
           if col_lines is not None else 0)
    left = (max(text_size(str(t), scale)[1] for t in row_titles) + 2 * PAD
            if row_titles is not None else 0)
    H = top + sum(heights) + gap * (len(rows) + 1)
    W = left + sum(widths) + gap * (ncol + 1)
    out = np.full((H, W, 3), background, dtype=np.uint8)
    xs = np.cumsum([left + gap] + [w + gap for w in widths[:-1]])
    ys = np.cumsum([top + gap] + [h + gap for h in heights[:-1]])
    for r, row in enumerate(rows):
        for c, im in enumerate(row):
            y = ys[r] + (heights[r] - im.shape[0]) // 2
            x = xs[c] + (widths[c] - im.shape[1]) // 2
            out[y:y + im.shape[0], x:x + im.shape[1]] = im
        if row_titles is not None:
            th = line_height(scale)
            draw_text(out, str(row_titles[r]), ys[r] + (heights[r] - th) // 2, PAD, ink, scale)
    for c, lines in enumerate(col_lines or ()):
        for k, line in enumerate(lines):
            tw = text_size(line, scale)[1]
            draw_text(out, line, PAD + k * line_height(scale), xs[c] + (widths[c] - tw) // 2,
                      ink, scale)
    return out
