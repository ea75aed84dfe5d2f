"""Restarting the explorer brings back the sample and per-layer rules it was left on (the
README listed them as not kept), for the same files; tests/test_session_view.py has the
cases where they no longer fit."""

from __future__ import annotations


def test_sample_and_layer_rules_come_back_after_a_restart(make_window, qtbot):
    from lrpgui import MainWindow

    window = make_window()
    window.state.layer_rules = {0: "flat", "linear0": "epsilon:0.5"}
    window.state.sample_index = 9
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
    window.close()
    again = MainWindow()  # the last session's files, then its view
    qtbot.addWidget(again)
    again.show()
    s = again.state
    qtbot.waitUntil(lambda: s.relevance is not None, timeout=20000)
    assert s.sample_index == 9 and s.layer_rules == {0: "flat", "linear0": "epsilon:0.5"}
    # the explanation on display is of that view, and the rule table shows the rules
    assert s.explanation.index == 9
    assert dict(s.explanation.request.layer_rules) == {0: "flat", "linear0": "epsilon:0.5"}
    table = again.findChild(object, "layerRuleTable")
    assert table.item(0, 3).text() == "flat"
    assert again.grid.selected_indices() == [9]
    again.close()
