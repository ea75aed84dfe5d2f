"""``lrp-explorer --timeout`` is how long the quitting modes wait for the first heatmap: NaN,
infinity, zero or a negative number were accepted and made them fail or wait forever."""

from __future__ import annotations

import pytest

from lrpgui.app import parse_args


@pytest.mark.parametrize("bad", ["nan", "-1", "0", "inf", "x"])
def test_a_timeout_that_is_not_a_positive_number_of_seconds_is_refused(bad, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--timeout", bad])
    assert exit_.value.code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--timeout" in line and bad in line and "positive" in line


def test_a_positive_timeout_is_kept():
    assert parse_args(["--timeout", "2.5"]).timeout == 2.5
    assert parse_args([]).timeout == 60.0
