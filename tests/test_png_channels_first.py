"""`lrp explain --png` (and the GUI's batch export, the same routine) on a C×H×W model draws
the photograph and its heatmap as images; it drew 3-pixel-high strips (the C×H×W array read as
H×W×C)."""

from __future__ import annotations

import numpy as np
from colour_models import colour_graph_model
from PIL import Image

import lrpcore
from lrpcore.cli.main import main
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
