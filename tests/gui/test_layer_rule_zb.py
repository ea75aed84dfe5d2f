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


def test_zb_chosen_as_the_rule_of_every_layer_is_refused(make_window, dialogs_shown):
    """Choosing zB in the rule list put it, bounded by the input's range, on every hidden
    layer too; it is refused with the remedies (as ``--rule zb`` is) and the list goes back,
    while zB on the first layer through the table stays possible."""
    window = make_window()
    before = window.state.rule
    window.rules.rule_selector.setCurrentText("zb")
    assert window.state.rule == before
    assert window.rules.rule_selector.currentData() == before.split(":")[0]  # "epsilon"
    assert dialogs_shown and "EpsilonGammaBox" in dialogs_shown[-1][1]
    assert "--layer-rule 0=zb" in dialogs_shown[-1][1]
    window.rules.layer_table.item(0, 3).setText("zb")
    assert window.state.layer_rules == {0: "zb"}
