"""Options of ``lrp-explorer`` that were accepted and then quietly did something else: refused
at once, exit 2, one line naming the option."""

from __future__ import annotations

import pytest

from lrpgui.app import parse_args


def _refused(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        parse_args(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("bad", ["nan", "-1", "0", "inf", "x"])
def test_a_timeout_that_is_not_a_positive_number_of_seconds_is_refused(bad, capsys):
    """How long the quitting modes wait for the first heatmap: NaN, infinity, zero or a
    negative number made them fail at once or wait forever."""
    line = _refused(["--timeout", bad], capsys)
    assert "--timeout" in line and bad in line and "positive" in line


def test_a_positive_timeout_is_kept():
    assert parse_args(["--timeout", "2.5"]).timeout == 2.5
    assert parse_args([]).timeout == 60.0


@pytest.mark.parametrize("name", ["shot.jpg", "shot"])
def test_a_screenshot_is_named_as_the_png_it_is(name, capsys):
    """The window is always saved as PNG: ``--screenshot shot.jpg`` wrote PNG bytes under a
    JPEG name (the commands' ``--out`` refuses that already: lrpcore.cli.common.png_output)."""
    line = _refused(["--screenshot", name], capsys)
    assert "--screenshot" in line and name in line and "PNG" in line
    assert parse_args(["--screenshot", "shot.PNG"]).screenshot == "shot.PNG"


def test_a_screenshot_into_a_missing_folder_is_refused_before_the_window_opens(tmp_path,
                                                                              capsys):
    """It failed only after the model, the data and the first explanation had loaded."""
    shot = tmp_path / "missing" / "shot.png"
    line = _refused(["--screenshot", str(shot)], capsys)
    assert "--screenshot" in line and str(shot) in line and "does not exist" in line
    assert parse_args(["--screenshot", str(tmp_path / "shot.png")]).screenshot


def test_profile_statistics_need_the_profile(capsys):
    """``--profile-stats P`` without ``--profile`` wrote nothing and said nothing."""
    line = _refused(["--profile-stats", "p"], capsys)
    assert "--profile-stats" in line and "--profile" in line.replace("--profile-stats", "")
    assert parse_args(["--profile", "--profile-stats", "p"]).profile_stats == "p"
