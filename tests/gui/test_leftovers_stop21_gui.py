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
