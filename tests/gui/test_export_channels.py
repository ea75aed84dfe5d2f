"""Export PNG and Export figure write the heatmap on display: with the Colour panel's channel
reduction set to max-abs or one channel, the exported heatmap is that map, not the channel sum,
and the sidecar says which reduction it shows (review: the view showed max-abs while the PNG
held the sum)."""

import json

import numpy as np
from PySide6.QtWidgets import QWidget
from skimage.io import imread

from lrpcore.render.overlay import channel_map
from lrpgui import rendering

from .test_colour_explorer import colour_files, colour_model  # noqa: F401 (fixture, builder)


def test_png_export_follows_the_channel_reduction(make_window, colour_files,  # noqa: F811
                                                  qtbot, tmp_path, monkeypatch):
    window = make_window(model=colour_files[0], dataset=colour_files[1])
    s = window.state
    asked = iter([str(tmp_path / "sum.png"), str(tmp_path / "red.png"),
                  str(tmp_path / "fig.png")])
    monkeypatch.setattr("lrpgui.dialogs.ask_save_file", lambda *a: next(asked))
    button = window.findChild(QWidget, "exportPngButton")
    button.click()
    s.channels = "red"
    button.click()
    R, x01 = s.explanation.relevance, s.explanation.input_unit
    shown = channel_map(rendering.displayable(R), "red")
    want = rendering.compose([rendering.digit(x01),
                              rendering.heatmap(shown, x01, cmap=s.colormap)])
    red = imread(tmp_path / "red.png")
    assert red.shape[:2] == want.shape[:2]
    assert np.abs(red[..., :3].astype(int) - want.astype(int)).max() <= 1
    assert np.abs(red.astype(int) - imread(tmp_path / "sum.png").astype(int)).max() > 10
    assert json.loads((tmp_path / "red.png.json").read_text())["channels"] == "red"
    assert json.loads((tmp_path / "sum.png.json").read_text())["channels"] == "sum"

    window.exports.write("figure", tmp_path / "fig.png", scale=4)
    info = json.loads((tmp_path / "fig.png.json").read_text())
    assert info["channels"] == "red"
    (tmp_path / "all").mkdir()
    window.exports.write("colormaps", tmp_path / "all")
    name = f"heatmap_{s.sample_index}_{s.colormap}.png"
    assert np.array_equal(imread(tmp_path / "all" / name), red)
