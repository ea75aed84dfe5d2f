"""A figure (input | heatmap | colour bar) gets a scale from its map's size when none is chosen:
8 screen pixels per input pixel made a 28×28 digit 224 pixels wide, and a 224×224 photograph
1,792 (a PNG of about 3,700 × 1,900 pixels). Digits keep 8; photographs get 1. The explorer
offers the scale last chosen for maps of the same size, else the one from the size."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from lrpcore import export
from lrpcore.render.figure import figure, figure_scale_for


@pytest.mark.parametrize("shape, scale", [((28, 28), 8), ((32, 32, 1), 8), ((784,), 8),
                                          ((64, 64), 4), ((100, 60), 2), ((224, 224, 3), 1),
                                          ((3, 224, 224), 1), ((600, 400), 1)])
def test_the_scale_follows_the_map_size(shape, scale):
    assert figure_scale_for(np.ones(shape)) == scale


def test_a_photograph_figure_has_a_sensible_size(tmp_path):
    rng = np.random.default_rng(0)
    R, x = rng.normal(size=(224, 224, 3)), rng.uniform(size=(224, 224, 3))
    path = export.export_explanation_figure(tmp_path / "photo.png", R, x, title=["a title"])
    width, height = Image.open(path).size
    assert 2 * 224 <= width <= 1000 and 224 <= height <= 400
    assert json.loads(path.with_name("photo.png.json").read_text())["scaling"] == 1


def test_a_digit_figure_is_drawn_as_before(tmp_path):
    rng = np.random.default_rng(1)
    R, x = rng.normal(size=(28, 28)), rng.uniform(size=(28, 28))
    np.testing.assert_array_equal(figure(R, x), figure(R, x, scale=8))
    path = export.export_explanation_figure(tmp_path / "digit.png", R, x)
    assert json.loads(path.with_name("digit.png.json").read_text())["scaling"] == 8


def test_a_chosen_scale_is_kept():
    R = np.ones((224, 224))
    assert figure(R, None, scale=2).shape[0] > 2 * 224


def test_the_explorer_offers_a_scale_for_this_size():
    from lrpgui.flows import figure_scale, figure_side

    digit, photo = np.ones((28, 28)), np.ones((224, 224, 3))
    assert figure_side(digit) == 28 and figure_side(photo) == 224
    assert figure_scale(None, photo) == 1 and figure_scale(None, digit) == 8
    assert figure_scale("5", digit, "28") == 5  # chosen for digits: offered for digits
    assert figure_scale("5", photo, "28") == 1  # not for photographs
    assert figure_scale("2", photo, "224") == 2
    assert figure_scale("6", digit) == 6  # remembered before sizes were: chosen for digits
    assert figure_scale("6", photo) == 1
    assert figure_scale("x", photo, "224") == 1
