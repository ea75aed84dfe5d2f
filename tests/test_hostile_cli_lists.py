"""Comma-separated lists given empty (``--rules ,``): one line naming the option, exit 2,
before any timing — not an internal error, and not a run that quietly does nothing."""

from __future__ import annotations

import pytest

from lrpcore.cli.main import main


@pytest.mark.parametrize("option", ["--rules", "--models", "--dtypes", "--batch-sizes"])
def test_an_empty_bench_list_is_refused_in_one_line(option, capsys):
    args = {"--models": "lenet5", "--rules": "epsilon", "--dtypes": "float32",
            "--batch-sizes": "1", option: ","}
    code = main(["bench", "--repeat", "1", *[a for kv in args.items() for a in kv]])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and option in lines[0] and "internal error" not in lines[0]
    assert "model " not in captured.out  # no table was started
