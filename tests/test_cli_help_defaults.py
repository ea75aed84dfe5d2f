"""Every option that has a default says it in --help (acceptance review): `lrp evaluate
--region` (default raw: the padding is never flipped), `lrp concepts --top` (5) and
`--target` (pred), `lrp train --dtype` and the seeds had defaults a user could only find in
the source."""

from __future__ import annotations

import argparse

from lrpcore.cli.main import build_parser

FLAGS = (argparse._HelpAction, argparse._StoreTrueAction, argparse._StoreFalseAction,
         argparse._StoreConstAction, argparse.BooleanOptionalAction, argparse._VersionAction)


def _silent_defaults(parser, name="lrp"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, subparser in action.choices.items():
                yield from _silent_defaults(subparser, f"{name} {sub}")
        elif (action.option_strings and not isinstance(action, FLAGS)
              and action.default not in (None, [], argparse.SUPPRESS)
              and "default" not in (action.help or "").lower()):
            yield f"{name} {'/'.join(action.option_strings)} (default {action.default!r})"


def test_every_option_with_a_default_names_it_in_its_help():
    assert list(_silent_defaults(build_parser())) == []


def test_sweep_and_sanity_say_how_many_samples_they_take():
    """`--n` of `lrp sweep`/`lrp sanity` defaulted to 256/64 samples without saying so (the
    option's default was None and the number was filled in later)."""
    parser = build_parser()
    for command, n in (("sweep", 256), ("sanity", 64)):
        args = parser.parse_args([command, "mnist-lenet5", "mnist-sample", "--rule", "simple"])
        assert args.n == n
        sub = parser._subparsers._group_actions[0].choices[command]
        (action,) = [a for a in sub._actions if "--n" in a.option_strings]
        assert f"default {n}" in action.help
