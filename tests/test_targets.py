"""The one target parser (lrpcore.targets) behind the CLI, the GUI state and its workers."""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore.cli.common import parse_target as cli_parse
from lrpcore.errors import RuleError
from lrpcore.targets import parse_target, target_spec


@pytest.mark.parametrize("value,want", [("pred", "pred"), (" TRUE ", "true"), ("output", "output"),
                                        ("3", 3), (3, 3), (np.int64(7), 7)])
def test_targets_parse_alike_everywhere(value, want):
    assert parse_target(value) == want
    assert cli_parse(str(value)) == want
    assert target_spec(value) == str(want)
    from lrpgui.state import AppState

    s = AppState()
    s.target = value
    assert s.target == str(want)


@pytest.mark.parametrize("value", ["", "pre", "-1", -1, True, 2.5, "3.0", None])
def test_bad_targets_fail_with_one_message(value):
    with pytest.raises(RuleError, match="class index"):
        parse_target(value)
    if not isinstance(value, bool):  # str(True) is the word "true"
        with pytest.raises(RuleError, match="--target"):
            cli_parse(str(value))


def test_evaluate_refuses_output_as_its_target():
    with pytest.raises(RuleError, match="pred, true"):
        cli_parse("output", words=("pred", "true"))
