"""The CLI's PNGs outline a photograph as the views do (light grey, a third opaque, σ 3):
solid black Canny edges of its textures hid sparse relevance. Digits keep the toolbox's
solid black outline, pixel for pixel."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from skimage import io as skio
from skimage.feature import canny

from lrpcore.cli.main import main
from lrpcore.render import compose, heatmap
from lrpcore.render.colormaps import get_colormap
from lrpcore.render.figure import figure_sigma
from lrpcore.render.outline import DIGIT_OUTLINE, PHOTO_OUTLINE, enlarge, outline_style


def smooth_photo(rng, n, h, w):
    """Colour images with broad shapes (a few Canny edges), as uint8."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.zeros((n, h, w, 3))
    for k in range(n):
        for c in range(3):
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            out[k, ..., c] = ((yy - cy) ** 2 + (xx - cx) ** 2 < (h / 3) ** 2) * rng.uniform(.5, 1)
    return np.rint(out * 255).astype(np.uint8)


@pytest.fixture
def photo_files(tmp_path):
    rng = np.random.default_rng(3)
    x = smooth_photo(rng, 2, 40, 40)
    r = rng.normal(size=(2, 40, 40, 3))
    np.save(tmp_path / "X.npy", x)
    np.save(tmp_path / "R.npy", r)
    return tmp_path / "R.npy", tmp_path / "X.npy", r, x / 255.0


def light(R, x01, scaling, cmap="bwr"):
    """What the photograph's heatmap must be: the colormap, with the σ 3 edges blended at
    35 % towards mid grey."""
    rgb = np.clip(get_colormap(cmap)(enlarge(R.sum(axis=2), scaling)), 0, 1)
    mask = canny(enlarge(x01.mean(axis=2), scaling), sigma=3.0)
    assert mask.any()
    rgb[mask] = rgb[mask] * 0.65 + 0.5 * 0.35
    return rgb, mask


def test_style_is_chosen_by_the_input():
    assert outline_style(np.zeros((28, 28))) == DIGIT_OUTLINE
    assert outline_style(np.zeros(784)) == DIGIT_OUTLINE  # a dense model's digit
    assert outline_style(np.zeros((32, 32, 3))) == PHOTO_OUTLINE  # colour, however small
    assert outline_style(np.zeros((3, 32, 32))) == PHOTO_OUTLINE  # C×H×W
    assert outline_style(np.zeros((224, 224))) == PHOTO_OUTLINE  # too large to enlarge
    assert (DIGIT_OUTLINE.grey, DIGIT_OUTLINE.alpha, DIGIT_OUTLINE.sigma) == (0.0, 1.0, 2.0)


def test_render_outlines_a_photograph_light(photo_files, tmp_path, capsys):
    r, x, R, x01 = photo_files
    out = tmp_path / "photo.png"
    assert main(["render", str(r), "--input", str(x), "--index", "1", "--out", str(out)]) == 0
    want, mask = light(R[1], x01[1], 3)
    got = skio.imread(out)[..., :3]
    np.testing.assert_array_equal(got, compose([want]))
    assert not np.any(np.all(got[mask] == 0, axis=1))  # no black edge pixel is left
    assert json.loads(Path(f"{out}.json").read_text())["sigma"] == 3.0


def test_render_keeps_a_chosen_sigma_for_a_photograph(photo_files, tmp_path):
    r, x, _R, _x = photo_files
    out = tmp_path / "photo.png"
    assert main(["render", str(r), "--input", str(x), "--sigma", "1", "--out", str(out)]) == 0
    assert json.loads(Path(f"{out}.json").read_text())["sigma"] == 1.0


def test_figure_outlines_a_photograph_light(photo_files, tmp_path, capsys):
    r, x, R, x01 = photo_files
    out = tmp_path / "fig.png"
    assert main(["figure", str(r), "--input", str(x), "--index", "0", "--colormap", "bwr",
                 "--scaling", "1", "--out", str(out)]) == 0
    assert json.loads(Path(f"{out}.json").read_text())["sigma"] == 3.0
    want = compose([light(R[0], x01[0], 1)[0]])
    got = skio.imread(out)[..., :3]
    hits = [(i, j) for i in range(got.shape[0] - 39) for j in range(got.shape[1] - 39)
            if np.array_equal(got[i:i + 40, j:j + 40], want)]
    assert hits  # the heatmap cell, light outline and all


def test_paper_figure_sigma_follows_the_style():
    assert figure_sigma(np.zeros((28, 28)), 8, np.zeros((28, 28))) == pytest.approx(16 / 3)
    assert figure_sigma(np.zeros((224, 224)), 1, np.zeros((224, 224, 3))) == 3.0


def test_a_digit_keeps_the_solid_black_outline_pixel_for_pixel():
    rng = np.random.default_rng(5)
    x01 = np.zeros((28, 28))
    x01[6:22, 12:16] = 1.0  # a stroke
    R = rng.normal(size=(28, 28))
    rgb = np.clip(get_colormap("jet")(enlarge(R, 3)), 0, 1)
    mask = canny(enlarge(x01, 3), sigma=2.0)
    rgb[mask] = 0.0
    np.testing.assert_array_equal(heatmap(R, x01, cmap="jet", scaling=3), rgb)
