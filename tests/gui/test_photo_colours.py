"""A photograph in the explorer is drawn from its own pixels: with a per-channel mean/std
model (ImageNet-style), mapping the fed input back to [0, 1] with one value range for the
three channels shifted the colours of the input view, its outline, the hover RGB and the
exports (up to 128/255), where ``lrp explain --png`` draws the photograph itself."""

import numpy as np
from colour_models import colour_graph_model, write_photos
from PIL import Image
from PySide6.QtCore import QPointF

import lrpcore


def test_a_mean_std_models_photograph_is_shown_as_its_pixels(make_window, tmp_path):
    from lrpgui import rendering

    model = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(16), model)
    photos = write_photos(tmp_path / "photos", sizes=((16, 16), (20, 26)))
    window = make_window(model=model, dataset=photos)
    s = window.state
    photo = np.asarray(s.dataset.images(np.array([s.sample_index]))[0])
    assert photo.dtype == np.uint8 and photo.shape == (16, 16, 3)

    np.testing.assert_array_equal(s.explanation.input_unit, photo / 255.0)
    views = window.views
    k = views._scaling
    shown = np.asarray(views.input_item.image)[::k, ::k]
    np.testing.assert_array_equal(np.round(shown * 255).astype(np.uint8), photo)
    # the outline is that of the photograph itself
    np.testing.assert_array_equal(views._outline(s.explanation),
                                  rendering.outline_mask(photo / 255.0, k))
    r, g, b = photo[2, 3]
    assert f"RGB ({r}, {g}, {b})" in views.describe_point(QPointF(3.5, 2.5))

    png = tmp_path / "gui.png"
    assert window.export_png(str(png))
    panel = np.asarray(Image.open(png))[..., :3]
    h, w = photo.shape[:2]
    scale = panel.shape[0] // h
    np.testing.assert_array_equal(panel[::scale, : w * scale : scale], photo)


def test_the_explorers_png_of_a_photograph_is_lrp_explains(make_window, tmp_path):
    """The outline too: ``lrp explain --png`` drew the photograph's pixels but outlined the
    one-range mapping of the fed input, so its PNG and the explorer's differed in the
    outline where the explorer outlines what it shows."""
    from lrpcore.cli.main import main

    model = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(16), model)
    photos = write_photos(tmp_path / "photos", sizes=((16, 16), (20, 26)))
    window = make_window(model=model, dataset=photos)
    s = window.state
    s.colormap, s.outline = "bwr", True
    gui = tmp_path / "gui.png"
    assert window.export_png(str(gui))
    assert main(["explain", str(model), str(photos), "--out", str(tmp_path / "R.npy"),
                 "--rule", s.rule, "--target", s.target, "--png", str(tmp_path / "cli"),
                 "--colormap", "bwr"]) == 0
    want = np.asarray(Image.open(tmp_path / "cli" / f"heatmap_{s.sample_index}_bwr.png"))
    np.testing.assert_array_equal(np.asarray(Image.open(gui)), want)


def test_the_tools_outline_a_photograph_as_the_main_view_does():
    """The insight tools' map outlines took the one-range mapping of a mean/std model's
    input, so they outlined other edges than the main view."""
    from lrpgui.insight.imaging import input_for_map

    photo = np.random.default_rng(4).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    x = input_for_map(colour_graph_model(16), photo, (16, 16, 3))
    np.testing.assert_array_equal(x, photo / 255.0)
