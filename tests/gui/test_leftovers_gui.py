"""Photographs in the explorer (the previous session's notes): the overlay preview gets room
in the default 1400×900 window, and the Compare view's maps take the room of the grid."""

from __future__ import annotations

import pytest
from colour_models import colour_graph_model, write_photos
from PySide6.QtWidgets import QApplication

from .insight_helpers import open_tool, rerun
from .waiting import window_at


@pytest.fixture
def colour_files(tmp_path):
    import lrpcore

    path = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(), path)
    return path, write_photos(tmp_path / "photos")


@pytest.mark.parametrize("size, least", [((1400, 900), 240), ((1280, 800), 150)])
def test_the_overlay_preview_gets_room_at_the_first_window_size(qtbot, colour_files, size,
                                                                least):
    """At 1400×900 (the first-run size) the preview was 156 pixels tall (now 266), at
    1280×800 56 (now 166): a small picture under the Explanation dock, beside a Samples dock
    three times as tall as its one row of tiles."""
    window = window_at(qtbot, *colour_files, *size)
    qtbot.waitUntil(window.colour_dock.isVisible)
    preview = window.colour.widget
    qtbot.waitUntil(lambda: preview.height() >= least, timeout=5000)
    tiles = window.grid.view
    first = tiles.visualRect(window.grid.model.index(0))
    assert first.top() >= 0 and first.bottom() <= tiles.viewport().height()  # a whole row


def test_the_overlay_room_is_taken_once_not_from_the_users_layout(qtbot, colour_files):
    """Only the dock's own showing gives the room: a dock the user resized afterwards keeps
    its size when another sample is explained."""
    window = window_at(qtbot, *colour_files, 1400, 900)
    qtbot.waitUntil(window.colour_dock.isVisible)
    from PySide6.QtCore import Qt

    window.resizeDocks([window.colour_dock], [120], Qt.Orientation.Vertical)
    QApplication.processEvents()
    height = window.colour_dock.height()
    with qtbot.waitSignal(window.state.events.explanation, timeout=20000):
        window.state.sample_index = 1
    QApplication.processEvents()
    assert window.colour_dock.height() == height


def test_compare_maps_take_the_room_of_a_one_column_comparison(qtbot, colour_files):
    """The name column (with the input above it) and the scale column took as much width as
    the map column: a photograph's maps were drawn in a third of the dock."""
    window = window_at(qtbot, *colour_files, 1400, 900)
    view = open_tool(qtbot, window, "compare")
    window.insight.docks["compare"].resize(1100, 720)
    rerun(qtbot, view, lambda: view.set_rules(["epsilon:0.01", "EpsilonPlus"]))
    QApplication.processEvents()
    assert view.result.comparison.classes and len(view.result.comparison.rows) == 2
    # one class column is laid out as tiles (stop 26): the input is a tile as large as a map
    cell = view._cells[(0, 0)][0].geometry()
    names = view.input_box.geometry()
    assert cell.width() >= 0.9 * names.width(), (cell, names)
    assert cell.width() >= view.canvas.width() / 4, (cell, view.canvas.width())


def test_a_sixteen_bit_folder_is_opened_with_a_note(make_window, qtbot, tmp_path):
    """Refused before; now read at 8 bits, and the status bar says so."""
    import numpy as np
    from PIL import Image

    folder = tmp_path / "scans"
    folder.mkdir()
    for k in range(2):
        Image.fromarray(np.full((28, 28), 20000 * k, np.uint16)).save(folder / f"{k}.png")
    window = make_window()
    said = []
    window.state.events.status.connect(said.append)
    assert window.open_dataset(str(folder))
    qtbot.waitUntil(lambda: window.state.explanation is not None
                    and window.state.dataset_name.endswith("scans"), timeout=20000)
    assert any("2 of 2 images are 16-bit greyscale: read at 8 bits" in text for text in said)
