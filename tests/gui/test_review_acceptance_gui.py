"""Findings of the acceptance review of issue 12 in the explorer, each with the steps that
showed it."""

from __future__ import annotations

from .conftest import toy_model


def test_the_window_forgets_a_refusal_once_the_user_did_what_it_said(
        make_window, tmp_path, close_dataset_questions):
    """Cancel on "Close the dataset and open the model?", then the model again with yes: the
    window said "No dataset is open … Last error: … close the dataset first", about a
    dataset it had just closed for that very model."""
    from colour_models import tiny_colour_files

    _colour, path, _data = tiny_colour_files(tmp_path)
    window = make_window()
    assert window.open_model(str(path)) is False  # Cancel
    assert "Close dataset" in window.last_error
    close_dataset_questions.answer = True
    assert window.open_model(str(path)) is True
    assert window.state.dataset is None and window.message.isVisible()
    assert "No dataset" in window.message.text()
    assert "Last error" not in window.message.text()
    assert "Close dataset" in window.last_error  # the record of what happened is kept


def test_a_failed_model_keeps_its_reason_while_a_dataset_opens(qtbot, tmp_path, toy_files,
                                                               dialogs_shown):
    """The other side of the above: with no model open, the reason it is missing stays in
    the window when a dataset opens."""
    from lrpgui import MainWindow

    bad = tmp_path / "truncated.txt"
    bad.write_text("Linear 3 3\n1 2\n")
    window = MainWindow(model=str(bad), dataset=None)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.opening, timeout=20000)  # read on a worker
    assert window.state.model is None
    assert window.open_dataset(str(toy_files[1])) is True
    assert "truncated.txt" in window.message.text()


def test_a_refused_layer_rule_names_its_layer_once(make_window, qtbot, dialogs_shown):
    """A rule typed into a ReLU's row said "layer 1: layer 1 (Rect) passes relevance …"."""
    window = make_window()
    assert type(toy_model().layers[1]).__name__ == "Rect"
    table = window.findChild(object, "layerRuleTable")
    table.item(1, 3).setText("flat")
    title, message = dialogs_shown[-1]
    assert message.startswith("layer 1 (Rect)") and message.count("layer 1") == 1
    table.item(0, 3).setText("nothing*=zplus")  # KEY=SPEC names its layers, not the row's
    message = dialogs_shown[-1][1]
    assert message.startswith("'nothing*=zplus': ") and "layer 0" not in message
    table.item(0, 3).setText("foo")
    assert dialogs_shown[-1][1].startswith("layer 0: unknown rule 'foo'")


def test_compare_starts_from_the_rule_on_display(make_window, qtbot, tmp_path):
    """Compare's first row was the rule when the window was built (before any model opened:
    the toolbox's epsilon:0.01), so on EfficientNet-Lite0 it lacked the EpsilonPlus on
    display; it follows the main view's rule until the user picks another for it."""
    import numpy as np
    from colour_models import colour_graph_model

    import lrpcore

    from .insight_helpers import open_tool, rerun

    model_path, data_path = tmp_path / "colour.npz", tmp_path / "photos.npy"
    lrpcore.save_model(colour_graph_model(), model_path)
    np.save(data_path, np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), np.uint8))
    window = make_window(model=model_path, dataset=data_path)
    s = window.state
    assert s.rule == "EpsilonPlus"  # a graph model's default
    view = open_tool(qtbot, window, "compare")
    assert view.rules()[0] == "EpsilonPlus"
    assert view.result.comparison.rows[0].label == "EpsilonPlus"
    rerun(qtbot, view, lambda: setattr(s, "rule", "gamma:0.5"))
    assert view.rules()[0] == "gamma:0.5"
    assert view.result.comparison.rows[0].label == "gamma:0.5"
    view.rule_boxes[0].setCurrentText("flat")  # the user's choice stays
    view.rule_boxes[0].activated.emit(0)
    s.rule = "zplus"
    qtbot.waitUntil(lambda: s.relevance is not None, timeout=20000)
    assert view.rules()[0] == "flat"
