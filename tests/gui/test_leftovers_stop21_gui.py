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
