"""Figure titles grow with the images they stand beside: 12-pixel titles were a speck above a
672-pixel photograph (224 pixels at scaling 3) in ``lrp figure`` and the figure export."""

from __future__ import annotations

import numpy as np

from lrpcore.export import figure_image
from lrpcore.render.figure import MARGIN, figure
from lrpcore.render.font import line_height, title_scale
from lrpcore.render.grid import PAD


def _title_band(side, scaling):
    rng = np.random.default_rng(0)
    R = rng.normal(size=(1, side, side))
    x = rng.random((1, side, side))
    image = figure_image(R, x, ["bwr"], scaling=scaling)
    gap = 2
    return image.shape[0] - side * scaling - 2 * gap  # what is left above the one row


def test_grid_titles_scale_with_photographs_and_stay_small_beside_digits():
    assert title_scale(84) == title_scale(224) == 1 and title_scale(672) == 3
    assert _title_band(28, 3) == line_height(1) + 2 * PAD  # digits: as before
    assert _title_band(224, 3) == line_height(3) + 2 * PAD
    assert line_height(3) >= 2.5 * line_height(1)


def test_gui_figure_titles_scale_with_photographs():
    rng = np.random.default_rng(1)
    R = rng.normal(size=(224, 224))
    out = figure(R, rng.random((224, 224)), scale=3, title=["a title"])
    gap = 3
    title_h = out.shape[0] - 2 * MARGIN - 224 * 3 - gap
    assert title_h == line_height(3) + 2
    digit = figure(R[:28, :28], None, scale=8, title=["a title"])
    assert digit.shape[0] - 2 * MARGIN - 28 * 8 - 8 == line_height(1) + 2  # unchanged
