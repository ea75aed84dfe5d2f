"""The explorer's per-layer rule table refuses zB without bounds on a hidden layer, as
``--layer-rule`` does (both go through :func:`lrpcore.explain.resolve_rules`)."""

from __future__ import annotations


def test_zb_typed_on_a_hidden_layer_is_refused(make_window, dialogs_shown):
    window = make_window()
    table = window.rules.layer_table
    table.item(4, 3).setText("zb")  # the Linear after Flatten: not the model's input
    assert window.state.layer_rules == {}
    assert dialogs_shown and "does not read the model's input" in dialogs_shown[-1][1]
    table.item(0, 3).setText("zb")  # the first convolution reads it
    assert window.state.layer_rules == {0: "zb"}
