"""A fresh new-user review (stop 20), in the window: the grid after a model refits an open
image folder, and the accuracy line of a short Browser dock."""

from __future__ import annotations

import numpy as np
from colour_models import colour_graph_model, write_photos
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QTableWidget

import lrpcore


def _tile_rgb(window, row=0):
    model = window.grid.model
    pix = model.data(model.index(row), Qt.ItemDataRole.DecorationRole)
    img = pix.toImage()
    return np.array([[img.pixelColor(x, y).getRgb()[:3] for x in range(img.width())]
                     for y in range(img.height())])


def test_the_grid_redraws_an_image_folder_refitted_to_a_new_model(make_window, tmp_path, qtbot):
    """A folder of photographs opened with a colour model, then a greyscale digit model
    opened: the folder now delivers 28×28 greyscale samples, but the tiles kept the colour
    thumbnails of the first fitting (the input view showed grey, the grid colour)."""
    path = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(), path)
    window = make_window(path, write_photos(tmp_path / "photos"))
    rgb = _tile_rgb(window)
    assert np.ptp(rgb, axis=-1).max() > 0  # colour tiles
    assert window.open_model("mnist-lenet5")
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
    assert window.state.dataset.sample_shape == (28, 28, 1)
    assert np.ptp(_tile_rgb(window), axis=-1).max() == 0  # greyscale, as the model sees them


def test_a_clipped_accuracy_line_keeps_its_start(make_window, tmp_path):
    """A long "no labels" hint in a short dock: centred, its first line was cut through under
    the "Model summary" heading; aligned to the top only its end is cut (the tooltip has it)."""
    path = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(), path)
    photos = write_photos(tmp_path / "photos" / "cats")
    write_photos(tmp_path / "photos" / "dogs")
    window = make_window(path, photos.parent)
    label = window.browser.accuracy_label
    assert "its subfolders" in label.text() and label.toolTip()
    assert label.alignment() & Qt.AlignmentFlag.AlignTop


def test_close_dataset_leaves_no_figures_of_the_closed_data(make_window, qtbot):
    """File → Close dataset in a window of the first start's size: the accuracy line still
    named the closed data ("accuracy on mnist-test: —"), the colour bar kept its map's range
    and the scores plot its class ticks and scale, and the empty views, kept at their least
    height beside the three-line message, overlapped the scores plot's title."""
    window = make_window("mnist-lenet5", "mnist-test")
    window.close_dataset()
    QApplication.processEvents()
    assert window.message.isVisible()
    assert window.browser.accuracy_label.text() == "accuracy: no dataset open"
    assert not window.views.colorbar.isVisible()
    scores = window.scores
    assert not scores.getAxis("bottom").isVisible() and not scores.getAxis("left").isVisible()
    assert window.views.geometry().bottom() < scores.geometry().top()
    assert window.open_dataset("mnist-test")  # everything back with the next explanation
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
    assert window.views.colorbar.isVisible() and scores.getAxis("bottom").isVisible()
    assert window.views.height() >= 230


def test_the_rule_typed_last_into_the_layer_table_is_the_one_explained(make_window, qtbot):
    """`conv*=zplus` typed into the per-layer table, then `flat` into row 0: the table showed
    flat, but the request sorted the keys and the glob, applied last, gave layer 0 z⁺ ("with
    0=flat, 0=zplus, …"). Clearing row 0 brought the glob's rule back with no way to undo
    it; cleared, the row now takes the model's rule again."""
    window = make_window("mnist-lenet5", "mnist-test")
    s, table = window.state, window.findChild(QTableWidget, "layerRuleTable")

    def typed(row, text, want):
        table.item(row, 3).setText(text)
        qtbot.waitUntil(lambda: s.relevance is not None, timeout=20000)
        assert table.item(0, 3).text() == want and table.item(3, 3).text() == "zplus"
        raw = s.dataset.images([s.sample_index])
        np.testing.assert_array_equal(
            s.relevance, lrpcore.explain(s.model, raw, rule=s.rule, dtype=s.dtype,
                                         layer_rules=s.layer_rules)[0])

    typed(0, "conv*=zplus", "zplus")
    typed(0, "flat", "flat")
    assert "0=zplus" not in s.explanation.rule_description
    typed(0, "", "epsilon:0.01")
    assert "0=zplus" not in s.explanation.rule_description


def test_a_conditional_maps_title_never_reads_minus_zero_percent():
    """A channel of share −0.4 % was titled "ch 6 · -0%" above its map (a Keras model's
    concatenation, where the table beside it said −0.4 %)."""
    from lrpgui.insight.concepts_panel import map_title

    # one decimal since stop 26 (as the table): the share is said, never a minus zero
    assert map_title(6, -0.004) == "ch 6 · -0.4%" and map_title(6, -0.0004) == "ch 6 · 0.0%"
    assert map_title(7, -0.886) == "ch 7 · -88.6%" and map_title(3, 0.397) == "ch 3 · 39.7%"
