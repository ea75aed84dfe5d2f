"""The stop-20 session's leftovers in the explorer (stop 21): the Draw-a-digit title lists
per-layer rules in the order given, the SpRAy grid filter ends with its model, and opening a
model refits a large array dataset off the GUI thread."""

from __future__ import annotations

from .test_insight_draw import draw_window, line, stroke, wait_result_for_ink  # noqa: F401


def test_the_drawing_title_lists_layer_rules_in_the_order_given(draw_window, qtbot):  # noqa: F811
    """'layer 6: zplus, layer 0: flat, layer conv*: …' was sorted as text: 'layer 0' first
    (and layer 10 before layer 2), not the order the rules were given and applied in."""
    window, panel = draw_window
    window.state.layer_rules = {6: "zplus", 0: "flat", "sumpool*": "epsilon:0.01"}
    stroke(qtbot, panel.pad, line((0.5, 0.12), (0.5, 0.88), 20))
    wait_result_for_ink(qtbot, panel)
    assert "layer 6: zplus, layer 0: flat, layer sumpool*: epsilon:0.01" in panel.heat_title.text


def test_a_model_switch_ends_the_spray_filter(toy_files):
    """The grid's SpRAy subset (samples grouped by the last model's heatmaps) outlived a
    model switch wherever no SpRAy window cleared it: the session owns it with the model."""
    from lrpgui.session import Session
    from lrpgui.state import AppState

    session = Session(AppState())
    session.open_model(toy_files[0])
    session.open_dataset(toy_files[1])
    session.state.filter_subset = (1, 2, 3)
    session.open_model(toy_files[0])
    assert session.state.filter_subset is None
    assert session.state.dataset is not None  # the data stays open


def _visible_rows(grid):
    """The rows whose tiles the viewport shows (near the one at its centre)."""
    view, port = grid.view, grid.view.viewport().rect()
    return [r for r in _candidate_rows(grid)
            if view.visualRect(grid.model.index(r)).intersects(port)]


def _candidate_rows(grid):
    first = grid.view.indexAt(grid.view.viewport().rect().center()).row()
    return range(max(0, first - 400), min(grid.model.rowCount(), first + 400))


def test_a_model_opened_over_60000_samples_repaints_the_tiles_in_sight(make_window, qtbot,
                                                                       tmp_path):
    """Opening a model over 60,000 digits held the window 0.3–0.7 s: the grid's repaints
    (thumbnails fitted to the model, predictions reset) named every row, and the icon-mode
    view measured all 60,000 tiles each time (0.1 s a repaint). Reading the dataset for the
    model and its header note are no part of it (a lazy view; 9–66 ms for 200 photos): they
    stay where they are. Now a repaint names the rows in sight, a row of tiles to spare."""
    import numpy as np

    from .test_concepts_spray_windows import MODELS

    data = tmp_path / "digits.npy"
    np.save(data, np.random.default_rng(0).integers(0, 255, (60000, 28, 28), dtype=np.uint8))
    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=data, wait=False)
    qtbot.waitUntil(lambda: window.state.explanation is not None, timeout=20000)
    grid = window.grid
    for row in (0, 30000):
        grid.view.scrollTo(grid.model.index(row))
        qtbot.waitUntil(lambda: bool(_visible_rows(grid)), timeout=5000)
        ranges = []
        grid.model.dataChanged.connect(
            lambda a, b, _roles=(), seen=ranges: seen.append((a.row(), b.row())))
        assert window.open_model(str(MODELS / "mnist-maxnet.npz")) is True
        assert ranges and all(b - a < 1000 for a, b in ranges)
        shown = _visible_rows(grid)
        assert all(any(a <= r <= b for a, b in ranges) for r in shown), (shown, ranges)
        grid.model.dataChanged.disconnect()
        assert window.open_model(str(MODELS / "mnist-lenet5.npz")) is True
