"""The README's pixel-flipping ranking names the command that reproduces it; that command must
carry the settings the table states (100 single-pixel steps, baseline zero, float32, region raw,
1,000 digits). It used to leave out --steps/--per-step/--baseline, so it ran the defaults (50
steps of 16 pixels, the black baseline) and gave other numbers."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_the_ranking_command_runs_the_settings_of_the_table():
    from lrpcore.cli.main import build_parser

    command = re.search(r"The ranking is reproduced by `(lrp evaluate [^`]*)`", README).group(1)
    words = [w for w in shlex.split(command.replace("…", " ")) if w]
    args = build_parser().parse_args(words[1:])
    assert args.command == "evaluate"
    assert (args.n, args.steps, args.per_step, args.baseline, args.region, args.dtype) == (
        1000, 100, 1, "zero", "raw", "float32")
    assert args.patch in (None, 1) and args.random
    assert {"simple", "epsilon:0.01"} <= set(args.rule)
