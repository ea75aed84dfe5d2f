"""Rule parameters a sweep can vary, and settings that vary them (one small place).

A *setting* is a rule or preset with some parameters replaced, expressed the way the rest of
the project already explains: a rule spec (``gamma:0.1``) or a preset plus per-layer overrides
(``EpsilonGammaBox`` with ``3=gamma:0.1, 6=gamma:0.1``). So a setting can be applied in the
GUI (rule + layer rules), reproduced on the command line (``--rule``/``--layer-rule``) and
explained by :func:`lrpcore.explain.resolve_rules` without new engine code; presets keep their
definitions in :mod:`lrpcore.presets`.

The table of parameters below (name, rule field, default sweep values) is the only place that
knows about rule classes; when the rule registry carries parameter metadata it takes its place.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field

from ..errors import RuleError
from ..explain import RuleConfig, resolve_rules
from ..presets import preset_or_none
from ..rules import AlphaBeta, Epsilon, Gamma, Simple, parse_rule


@dataclass(frozen=True)
class Param:
    """A numeric rule parameter: its name in specs and sweeps, the rule class and field that
    hold it, a symbol for display and the values a sweep tries by default."""

    name: str
    rule: type
    field: str
    symbol: str
    grid: tuple
    minimum: float = 0.0


PARAMS = (
    Param("epsilon", Epsilon, "epsilon", "ε", (1e-6, 0.01, 0.1)),
    Param("gamma", Gamma, "gamma", "γ", (0.0, 0.1, 0.25, 0.5, 1.0)),
    Param("alpha", AlphaBeta, "alpha", "α", (1.0, 2.0, 3.0)),
)
_BY_NAME = {p.name: p for p in PARAMS}
_ALIASES = {"eps": "epsilon", "ε": "epsilon", "γ": "gamma", "α": "alpha"}
GROUPS = ("all", "first", "middle", "last")


def find_param(name: str) -> Param:
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in _BY_NAME:
        raise RuleError(f"unknown parameter {name!r}: choose one of {', '.join(_BY_NAME)}")
    return _BY_NAME[key]


def _holds(rule, param: Param) -> bool:
    return isinstance(rule, param.rule) and not isinstance(rule, Simple)


def parameters_of(layers, rule, layer_rules=None) -> list[Param]:
    """The parameters the rule (or preset) uses on the weighted layers of a model."""
    config = resolve_rules(layers, rule, layer_rules)
    used = group_layers(layers, "all")
    return [p for p in PARAMS if any(_holds(config.rules[i], p) for i in used)]


def group_layers(layers, group: str) -> list[int]:
    """Indices of the layers whose rule parameters a group varies: every linear map (dense,
    convolution, sum pooling; max pooling sends relevance to the winner whatever the rule's
    parameters), or those up to the first weighted layer, from the last weighted layer on, or
    between the two."""
    if group not in GROUPS:
        raise RuleError(f"unknown layer group {group!r}: choose one of {', '.join(GROUPS)}")
    maps = [i for i, layer in enumerate(layers) if getattr(layer, "linear_map", False)]
    weighted = [i for i, layer in enumerate(layers) if getattr(layer, "weighted", False)]
    if group == "all" or not weighted:
        return maps
    first, last = weighted[0], weighted[-1]
    if group == "first":
        return [i for i in maps if i <= first]
    if group == "last":
        return [i for i in maps if i >= last and i > first]
    return [i for i in maps if first < i < last]


def parse_values(text: str) -> tuple[str, tuple]:
    """``"gamma=0,0.1,0.25"`` → ("gamma", (0.0, 0.1, 0.25)); bad text fails with one line."""
    name, sep, values = str(text).partition("=")
    if not sep or not values.strip():
        raise RuleError(f"--param {text!r}: expected NAME=V1,V2,..., e.g. gamma=0,0.1,0.25")
    param = find_param(name)
    out = []
    for v in values.split(","):
        try:
            out.append(float(v))
        except ValueError:
            raise RuleError(f"--param {text!r}: {v.strip()!r} is not a number") from None
    bad = [v for v in out if not v >= param.minimum]
    if bad:
        raise RuleError(f"--param {text!r}: {param.name} must be ≥ {param.minimum:g}, got "
                        f"{bad[0]:g}")
    return param.name, tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class Setting:
    """One point of a sweep: the base rule or preset, the layer group it varies, the values,
    and what the engine explains (``rule`` + ``layer_rules``)."""

    base: str
    group: str
    values: dict
    rule: str
    layer_rules: dict = field(default_factory=dict)

    @property
    def plain(self) -> bool:
        """A rule (not a preset) varied on every layer: its spec says it all."""
        return preset_or_none(self.base) is None and self.group == "all" \
            and not self.layer_rules

    @property
    def label(self) -> str:
        return self.rule if self.plain else f"{self.base} {self.short_label}"

    @property
    def short_label(self) -> str:
        """The values (and layer group) without the rule's name."""
        if self.plain:
            return self.rule
        vals = ", ".join(f"{_BY_NAME[k].symbol}={v:g}" for k, v in self.values.items())
        where = "" if self.group == "all" else f" [{self.group}]"
        return f"{vals}{where}"

    def config(self, layers) -> RuleConfig:
        return resolve_rules(layers, self.rule, self.layer_rules)

    def cli_args(self) -> str:
        """The ``lrp explain`` options that explain with this setting."""
        args = [f"--rule {self.rule}"]
        args += [f"--layer-rule {i}={spec}" for i, spec in sorted(self.layer_rules.items())]
        return " ".join(args)


def make_setting(layers, base, values: dict, group="all", layer_rules=None) -> Setting | None:
    """The setting that gives the parameters ``values`` to the rules of ``group``'s layers
    (None when no layer of the group uses any of them)."""
    base_rules = dict(layer_rules or {})
    params = [find_param(k) for k in values]
    if preset_or_none(base) is None and group == "all" and not base_rules:
        rule = parse_rule(base)
        changes = {p.field: float(values[p.name]) for p in params if _holds(rule, p)}
        if not changes:
            return None
        return Setting(str(base), group, dict(values), dataclasses.replace(rule, **changes).spec())
    config = resolve_rules(layers, base, base_rules)
    overrides = dict(base_rules)
    touched = False
    for i in group_layers(layers, group):
        rule = config.rules[i]
        changes = {p.field: float(values[p.name]) for p in params if _holds(rule, p)}
        if changes:
            touched = True
            new = dataclasses.replace(rule, **changes)
            if new != rule:  # a value the preset already has needs no override
                overrides[i] = new.spec()
    if not touched:
        return None
    name = preset_or_none(base).name if preset_or_none(base) else parse_rule(base).spec()
    return Setting(name, group, dict(values), name, overrides)


def grid(layers, base, params: dict | None = None, groups=("all",),
         layer_rules=None) -> list[Setting]:
    """Every combination of the parameter values (``{name: values}``; None: the default grids
    of the parameters the rule uses) for each layer group, duplicates dropped."""
    if params:
        names = [find_param(k).name for k in params]
        values = [tuple(float(v) for v in params[k]) for k in params]
    else:
        found = parameters_of(layers, base, layer_rules)
        if not found:
            raise RuleError(f"{base} has no parameter to sweep (ε, γ or α)")
        names = [p.name for p in found]
        values = [p.grid for p in found]
    usable = parameters_of(layers, base, layer_rules)
    missing = [n for n in names if n not in {p.name for p in usable}]
    if missing:
        have = ", ".join(p.name for p in usable) or "none"
        raise RuleError(f"{base} does not use {missing[0]} on this model's layers "
                        f"(its parameters: {have})")
    out, seen = [], set()
    for group in groups:
        for combo in itertools.product(*values):
            s = make_setting(layers, base, dict(zip(names, combo, strict=True)), group,
                             layer_rules)
            if s is None:
                continue
            key = (s.rule, tuple(sorted(s.layer_rules.items())))
            if key not in seen:
                seen.add(key)
                out.append(s)
    if not out:
        raise RuleError(f"no layer of the chosen groups ({', '.join(groups)}) uses "
                        f"{', '.join(names)} in {base}")
    return out
