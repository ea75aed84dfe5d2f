"""The rule panel is built from the rule registry: one row per parameter, ranges and
tooltips from it, and the spec it makes is the one the CLI parses for the same settings."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit

from lrpcore.rules import RULES, parse_rule

CLASSES = list(RULES.values())


@pytest.fixture
def panel(make_window):
    window = make_window()
    return window, window.rules


def _for(window, cls, tmp_path) -> None:
    """Plain zB is the rule of a whole model only where every linear layer reads the input
    (elsewhere it is refused): its rows are shown on a one-layer model."""
    if cls.name != "zb":
        return
    import numpy as np

    import lrpcore
    from lrpcore.layers import Linear

    path = tmp_path / "one-layer.npz"
    rng = np.random.default_rng(0)
    lrpcore.save_model(lrpcore.Sequential([Linear(rng.normal(0, 0.05, (784, 10)),
                                                  np.zeros(10))]), path)
    assert window.open_model(str(path))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.name)
def test_one_row_per_parameter_with_the_registry_range_and_tooltip(panel, cls, tmp_path):
    window, rules = panel
    _for(window, cls, tmp_path)
    rules.rule_selector.setCurrentIndex(rules.rule_selector.findData(cls.name))
    assert window.state.rule == parse_rule(cls.name).spec()  # a bare name: the defaults
    visible = [s for s in rules.param_spins if s.isVisibleTo(window)]
    assert len(visible) == len(cls.params)
    for spin, label, p in zip(visible, rules.param_labels, cls.params, strict=False):
        assert label.text() == p.label and label.isVisibleTo(window)
        assert p.help in spin.toolTip() and p.range_text() in spin.toolTip()
        if p.minimum is not None:
            assert spin.minimum() >= p.minimum
            assert spin.minimum() > p.minimum or not p.above  # ε > 0: the box cannot hold 0
    assert cls.formula in rules.rule_selector.toolTip()
    assert cls.reference in rules.rule_selector.toolTip()


@pytest.mark.parametrize("cls", [c for c in CLASSES if c.params], ids=lambda c: c.name)
def test_gui_and_cli_make_the_same_spec_for_the_same_settings(panel, cls, tmp_path):
    window, rules = panel
    _for(window, cls, tmp_path)
    rules.rule_selector.setCurrentIndex(rules.rule_selector.findData(cls.name))
    values = []
    for k, p in enumerate(cls.params):
        base = p.default if p.default is not None else -0.5 + 2 * k
        values.append(base + 0.125 * (k + 1))
        rules.param_spins[k].setValue(values[-1])  # each edit is one spec change
    cli = parse_rule(":".join([cls.name, *map(repr, values)])).spec()
    assert window.state.rule == cli == rules.current_spec()


def test_presets_show_description_and_reference(panel):
    from lrpcore.presets import PRESETS

    window, rules = panel
    for name, preset in PRESETS.items():
        rules.rule_selector.setCurrentIndex(rules.rule_selector.findData(name))
        assert window.state.rule == name
        assert not any(s.isVisibleTo(window) for s in rules.param_spins)
        tip = rules.rule_selector.toolTip()
        assert preset.description in tip and preset.reference and preset.reference in tip


def test_alphabeta_independent_beta_and_the_toolbox_form(panel):
    window, rules = panel
    rules.rule_selector.setCurrentIndex(rules.rule_selector.findData("alphabeta"))
    alpha, beta = rules.param_spins[:2]
    assert window.state.rule == "alphabeta:2" and beta.value() == 1.0
    alpha.setValue(0.5)  # the toolbox's alphabeta:0.5 (β = α − 1 = −0.5), not clamped
    assert window.state.rule == "alphabeta:0.5" and beta.value() == -0.5
    beta.setValue(0.25)  # now independent
    assert window.state.rule == "alphabeta:0.5:0.25"
    alpha.setValue(3.0)
    assert window.state.rule == "alphabeta:3:0.25" and beta.value() == 0.25
    window.state.rule = "alphabeta:2:1"  # the literature's α2β1 is the toolbox's alphabeta:2
    assert window.state.rule == "alphabeta:2"
    assert (alpha.value(), beta.value()) == (2.0, 1.0)


def test_epsilon_box_cannot_reach_zero(panel):
    window, rules = panel
    window.state.rule = "epsilon:0.01"
    rules.rule_parameter.setValue(0.0)  # clamped to the box's minimum, which is > 0
    assert rules.rule_parameter.value() > 0
    assert parse_rule(window.state.rule).epsilon > 0


def test_editing_a_layer_rule_gives_no_qt_warning(panel, qtbot, qtlog):
    window, rules = panel
    table = rules.layer_table
    item = table.item(0, 3)
    table.setCurrentItem(item)
    table.editItem(item)
    qtbot.waitUntil(lambda: isinstance(QApplication.focusWidget(), QLineEdit))
    editor = QApplication.focusWidget()
    editor.selectAll()
    qtbot.keyClicks(editor, "flat")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.state.layer_rules.get(0) == "flat")
    table.setFocus()  # the editor loses focus: Qt commits again if it is still around
    qtbot.waitUntil(lambda: table.state() != table.State.EditingState)
    assert table.item(0, 3).text() == "flat" and table.item(0, 3).font().bold()
    messages = [r.message for r in qtlog.records]
    assert not [m for m in messages if "commitData" in m or "editor" in m], messages
