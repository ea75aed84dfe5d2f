"""The rule registry drives the parser, ``lrp rules`` and these tests: a newly registered rule
is checked here without editing this file."""

from __future__ import annotations

import dataclasses
import re

import pytest

from lrpcore.cli.main import main
from lrpcore.errors import RuleError
from lrpcore.rules import RULES, AlphaBeta, Parameter, Rule, parse_rule, register_rule, rule_class

CLASSES = list(RULES.values())
PARAMS = [pytest.param(cls, p, id=f"{cls.name}.{p.name}") for cls in CLASSES for p in cls.params]


def _id(cls):
    return cls.name


@pytest.mark.parametrize("cls", CLASSES, ids=_id)
def test_metadata_is_complete(cls):
    assert cls.summary and cls.formula and cls.reference
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for p in cls.params:
        assert p.label and p.help
        assert fields[p.name].default == p.default  # the dataclass default is the registry's
        assert p.default is not None or p.derived


@pytest.mark.parametrize("cls", CLASSES, ids=_id)
def test_bare_name_takes_the_defaults_and_round_trips(cls):
    rule = parse_rule(cls.name)
    assert type(rule) is cls and rule == cls()
    assert parse_rule(rule.spec()) == rule and parse_rule(rule.spec()).spec() == rule.spec()
    for alias in cls.aliases:
        assert parse_rule(alias.upper()) == rule


def _inside(p: Parameter) -> float:
    lo = p.minimum if p.minimum is not None else -3.0
    return (p.default if p.default is not None else lo + 0.37) + 1.2345678901234


@pytest.mark.parametrize("cls", [c for c in CLASSES if c.params], ids=_id)
def test_every_spec_form_round_trips(cls):
    for n in cls.allowed_arities():
        values = [_inside(p) + k for k, p in enumerate(cls.params[:n])]
        spec = ":".join([cls.name, *map(repr, values)])
        rule = parse_rule(spec)
        for p, v in zip(cls.params, values, strict=False):
            assert rule.value(p.name) == v  # full precision, not 6 digits
        assert parse_rule(rule.spec()) == rule


@pytest.mark.parametrize("cls, p", PARAMS)
def test_out_of_range_values_are_refused_naming_the_parameter(cls, p):
    bad = []
    if p.minimum is not None:
        bad.append(p.minimum if p.above else p.minimum - 1.0)
    if p.maximum is not None:
        bad.append(p.maximum + 1.0)
    bad += ["nan", "inf", "abc"]
    full = max(cls.allowed_arities())
    for value in bad:
        args = [_inside(q) + k for k, q in enumerate(cls.params[:full])]
        args[cls.params.index(p)] = value
        with pytest.raises(RuleError, match=f"^{cls.name}: {re.escape(p.spoken)} must be "):
            parse_rule(":".join([cls.name, *map(str, args)]))


@pytest.mark.parametrize("cls", CLASSES, ids=_id)
def test_wrong_parameter_counts_are_refused(cls):
    for n in range(len(cls.params) + 2):
        if n in cls.allowed_arities():
            continue
        spec = ":".join([cls.name, *["1"] * n])
        with pytest.raises(RuleError, match=f"rule {cls.name!r} takes .*{re.escape(cls.usage())}"):
            parse_rule(spec)


def test_epsilon_zero_is_refused_at_parse_time_pointing_to_simple():
    with pytest.raises(RuleError, match=r"> 0.*'simple'"):
        parse_rule("epsilon:0")


def test_alphabeta_conventions():
    """Toolbox form: β = α − 1 (the toolbox's own β' = 1 − α); literature form: independent β."""
    assert parse_rule("alphabeta") == parse_rule("alphabeta:2") == parse_rule("alphabeta:2:1")
    assert parse_rule("alphabeta:2:1").spec() == "alphabeta:2"
    half = parse_rule("alphabeta:0.5")  # valid in the toolbox: α = 0.5, β' = 0.5
    assert half.value("beta") == -0.5 and half.toolbox_beta == 0.5
    assert parse_rule("alphabeta:0.5:-0.5") == half
    free = parse_rule("alphabeta:2:0.5")
    assert free.spec() == "alphabeta:2:0.5" and free.toolbox_beta == -0.5
    # a sweep over α keeps the toolbox form
    assert dataclasses.replace(parse_rule("alphabeta:2"), alpha=3.0).spec() == "alphabeta:3"
    assert isinstance(rule_class("ALPHA"), type) and rule_class("alpha") is AlphaBeta


def test_unknown_rule_lists_the_registry():
    with pytest.raises(RuleError, match="unknown rule 'nope': choose one of simple, epsilon"):
        parse_rule("nope")


def test_adding_a_rule_is_one_class_and_one_registration(monkeypatch):
    monkeypatch.setattr("lrpcore.rules.RULES", dict(RULES))
    monkeypatch.setattr("lrpcore.rules._ALIASES", dict(__import__("lrpcore.rules").rules._ALIASES))

    @dataclasses.dataclass(frozen=True)
    class Halve(Rule):
        factor: float = 0.5
        name = "halve"
        params = (Parameter("factor", "f", 0.5, minimum=0.0, maximum=1.0, help="share kept"),)
        summary, formula, reference = "test rule", "R_i = f·R_i", "none"

    register_rule(Halve)
    assert parse_rule("halve:0.25") == Halve(0.25) and parse_rule("halve").spec() == "halve:0.5"
    with pytest.raises(RuleError, match="halve: factor f must be"):
        parse_rule("halve:2")
    with pytest.raises(ValueError, match="registered already"):
        register_rule(Halve)


def test_readme_rules_table_matches_the_registry():
    from pathlib import Path

    from lrpcore.cli.cmd_rules import markdown_table

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    begin, end = "<!-- rules-table:begin -->\n", "\n<!-- rules-table:end -->"
    table = text[text.index(begin) + len(begin):text.index(end)]
    assert table == markdown_table(), "run `lrp rules --markdown` and paste it into the README"


def test_cli_refuses_epsilon_zero_and_takes_bare_alphabeta(capsys, tmp_path):
    out = str(tmp_path / "R.npy")
    assert main(["explain", "mnist-lenet5", "mnist-sample", "--rule", "epsilon:0",
                 "--out", out]) != 0
    err = capsys.readouterr().err
    assert "> 0" in err and "'simple'" in err and "Traceback" not in err
    assert not (tmp_path / "R.npy").exists()
    assert main(["explain", "mnist-lenet5", "mnist-sample", "--rule", "alphabeta",
                 "--out", out]) == 0


def test_lrp_rules_prints_the_registry(capsys):
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    for cls in CLASSES:
        assert cls.usage() in out and cls.formula in out and cls.reference in out
