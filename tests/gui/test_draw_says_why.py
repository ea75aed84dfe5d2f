"""Draw a digit on a photograph classifier says at once why it cannot work (it waited for a
drawing before saying so), and works again when a digit model is opened."""

from __future__ import annotations

import lrpcore

from .colour_models import colour_graph_model, write_photos


def test_draw_a_digit_says_why_before_any_drawing(make_window, toy_files, tmp_path, qtbot):
    model = tmp_path / "colour-graph.npz"
    lrpcore.save_model(colour_graph_model(), model)
    window = make_window(model=model, dataset=write_photos(tmp_path / "photos"))
    panel = window.insight.show("draw")
    assert panel.pad.is_empty()
    assert "does not take 28×28 grayscale digits" in panel.error_label.text()
    assert panel.error_label.isVisibleTo(panel) and not panel.pad.isEnabled()
    window.insight.docks["draw"].hide()
    assert window.open_model(toy_files[0])
    qtbot.waitUntil(lambda: window.state.model is not None
                    and window.state.model.input_spec.raw_shape == (28, 28, 1))
    assert panel.pad.isEnabled() and not panel.error_label.text()
