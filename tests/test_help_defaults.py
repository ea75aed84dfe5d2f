"""A command's --help states the defaults that command uses: `lrp concepts` and `lrp spray`
have no --dtype and compute in float64, so their --rule help must not promise "float32 for
graph models" as `lrp explain`'s does (review)."""

from __future__ import annotations

import pytest

from lrpcore.cli.main import main


def _help(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", ["concepts", "spray"])
def test_rule_help_of_commands_without_dtype_names_no_precision(capsys, command):
    text = _help(capsys, command)
    assert "--dtype" not in text
    assert "EpsilonPlus" in text and "float32" not in text and "float64" not in text


def test_explain_help_still_names_the_precision(capsys):
    text = _help(capsys, "explain")
    assert "EpsilonPlus in float32 for graph models" in text
