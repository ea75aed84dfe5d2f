"""Earlier reviews' leftovers in the explorer (stop 22): error messages that pointed a user of
the window to a command ('lrp rules')."""

from __future__ import annotations


def test_a_rule_error_points_to_the_rule_panel_not_the_command_line(make_window,
                                                                    dialogs_shown):
    """A rule the engine does not know, typed into the per-layer rules table, said 'choose
    one of … or a preset (see 'lrp rules')': a command, where the explorer's rule list is."""
    window = make_window()
    table = window.rules.layer_table
    table.item(0, 3).setText("nosuchrule")
    assert dialogs_shown, window.errors
    title, text = dialogs_shown[-1]
    assert "unknown rule 'nosuchrule'" in text and "lrp rules" not in text
    assert "the rule list of the Explanation panel" in text
    assert "lrp rules" not in window.state.status


def test_a_tool_window_says_it_the_explorers_way_too(make_window, qtbot):
    window = make_window()
    panel = window.insight.show("sanity")
    panel.rule_edit.setText("nosuchrule")
    with qtbot.waitSignal(panel.failed, timeout=20000) as failed:
        panel.refresh()
    assert "unknown rule 'nosuchrule'" in failed.args[0] and "lrp rules" not in failed.args[0]
    assert "the rule list of the Explanation panel" in panel.last_error


def test_every_command_line_pointer_has_the_explorers_words():
    from lrpgui.wording import gui_message

    assert gui_message("x (see 'lrp rules')") == ("x (the rule list of the Explanation panel; "
                                                  "each rule's tooltip gives its formula)")
    assert gui_message("no node is named or matches 'q*' ('lrp info MODEL' lists the layer "
                       "names)").endswith("(the per-layer rules table of the Explanation "
                                          "panel lists them)")
    text = gui_message("mnist-train: MNIST train files are not downloaded yet (missing a.gz); "
                       "run 'lrp data download --kind train' or "
                       "lrpcore.io.datasets.download_mnist('train')")
    assert text.endswith("(missing a.gz); download them with “Download MNIST…” (File menu, or "
                         "the Browser)")
