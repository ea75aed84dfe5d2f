"""`lrp explain --png` (and the GUI's batch export, the same routine) on a C×H×W model draws
the photograph and its heatmap as images; it drew 3-pixel-high strips (the C×H×W array read as
H×W×C)."""

from __future__ import annotations

import numpy as np
from colour_models import colour_graph_model
from PIL import Image

import lrpcore
from lrpcore.cli.main import main
from lrpcore.io.datasets import fit_to_model
from lrpcore.render import heatmap


def test_png_of_a_channels_first_model_is_the_image(tmp_path):
    model = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(16), model)
    photos = np.random.default_rng(2).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    np.save(tmp_path / "x.npy", photos)
    out = tmp_path / "png"
    assert main(["explain", str(model), str(tmp_path / "x.npy"), "--out",
                 str(tmp_path / "R.npy"), "--png", str(out), "--colormap", "bwr",
                 "--no-outline", "--scaling", "1"]) == 0
    R = np.load(tmp_path / "R.npy")
    assert R.shape == (2, 3, 16, 16)  # the relevance keeps the model's layout
    png = np.asarray(Image.open(out / "heatmap_1_bwr.png"))
    assert png.shape == (16, 2 * 16 + 2, 3)
    want = heatmap(R[1].transpose(1, 2, 0), None, cmap="bwr", scaling=1)
    np.testing.assert_allclose(png[:, 18:] / 255.0, want, atol=1 / 255 + 1e-9)


def test_render_and_figure_take_what_explain_wrote_for_a_channels_first_model(tmp_path):
    """`lrp render R.npy` of an N×C×H×W map refused it ("inputs of 16×16 pixels do not fit the
    3×16 maps")."""
    rng = np.random.default_rng(4)
    R = rng.normal(size=(2, 3, 16, 16))
    np.save(tmp_path / "R.npy", R)
    np.save(tmp_path / "x.npy", rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8))
    assert main(["render", str(tmp_path / "R.npy"), "--input", str(tmp_path / "x.npy"),
                 "--index", "1", "--colormap", "bwr", "--no-outline", "--scaling", "1",
                 "--out", str(tmp_path / "r.png")]) == 0
    png = np.asarray(Image.open(tmp_path / "r.png"))
    want = heatmap(R[1].transpose(1, 2, 0), None, cmap="bwr", scaling=1)
    np.testing.assert_allclose(png / 255.0, want, atol=1 / 255 + 1e-9)
    assert main(["figure", str(tmp_path / "R.npy"), "--input", str(tmp_path / "x.npy"),
                 "--colormap", "bwr", "--out", str(tmp_path / "f.png")]) == 0


def test_a_photographs_input_panel_is_its_own_pixels(tmp_path):
    """The panel went x/255 through the model's scaling and back (one value range for the
    three channels of a mean/std model), truncated as the toolbox draws: its values came out
    lower or shifted (photographs only: digits keep the toolbox's drawing)."""
    model = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(16), model)
    photos = np.random.default_rng(3).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    np.save(tmp_path / "x.npy", photos)
    folder = tmp_path / "photos"
    folder.mkdir()
    for k, photo in enumerate(photos):
        Image.fromarray(photo).save(folder / f"p{k}.png")
    ds = lrpcore.open_dataset(folder)
    fit_to_model(lrpcore.load_model(model), ds)  # resized and cropped as the model takes them
    for source, want in (("x.npy", photos), ("photos", ds.images())):
        out = tmp_path / f"png-{source}"
        assert main(["explain", str(model), str(tmp_path / source), "--out",
                     str(tmp_path / f"R-{source}.npy"), "--png", str(out), "--scaling", "1",
                     "--no-outline"]) == 0
        for k in range(2):
            png = np.asarray(Image.open(out / f"heatmap_{k}_bwr.png"))
            np.testing.assert_array_equal(png[:, :16], want[k])
