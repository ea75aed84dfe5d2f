"""A command's --help states the defaults that command uses: `lrp concepts` and `lrp spray`
compute in float64 by default (their --dtype says so, stop 26), so their --rule help must not
promise "float32 for graph models" as `lrp explain`'s does (review)."""

from __future__ import annotations

import pytest
from cli_help import help_words


@pytest.mark.parametrize("command", ["concepts", "spray"])
def test_rule_help_of_commands_computing_in_float64_names_no_precision(capsys, command):
    text = help_words(capsys, [command])
    rule = text[text.index("--rule RULE rule spec"):text.index("--layer-rule KEY=SPEC rule")]
    assert "EpsilonPlus" in rule and "float32" not in rule and "float64" not in rule
    dtype = text[text.index("--dtype {float32,float64} precision"):]
    assert dtype.split(")")[0].endswith("(default float64: as the explorer's Concepts and "
                                        "SpRAy windows compute, whatever the model"), dtype


def test_explain_help_still_names_the_precision(capsys):
    text = help_words(capsys, ["explain"])
    assert "EpsilonPlus in float32 for graph models" in text
