"""A command's ``--help`` as the tests read it: argparse wraps its text to the terminal's
width, so a sentence may break anywhere; the tests compare the words on one line."""

from __future__ import annotations

import pytest

from lrpcore.cli.main import main


def help_words(capsys, argv) -> str:
    """``lrp ARGV --help``'s output with every run of white space made one space."""
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    return " ".join(capsys.readouterr().out.split())
