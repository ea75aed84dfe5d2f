"""Rule parameters a sweep can vary, and settings that vary them (one small place).

A *setting* is a rule or preset with some parameters replaced, expressed the way the rest of
the project already explains: a rule spec (``gamma:0.1``) or a preset plus per-layer overrides
(``EpsilonGammaBox`` with ``3=gamma:0.1, 6=gamma:0.1``). So a setting can be applied in the
GUI (rule + layer rules), reproduced on the command line (``--rule``/``--layer-rule``) and
explained by :func:`lrpcore.explain.resolve_rules` without new engine code; presets keep their
definitions in :mod:`lrpcore.presets`.

What can be swept, with its symbol, range and default grid, is read from the rule registry
(:data:`lrpcore.rules.RULES`, each rule's :class:`~lrpcore.rules.Parameter` with ``sweep``
values): one place, so a rule registered later is swept without touching this module.
"""

from __future__ import annotations

import dataclasses
import itertools
import shlex
from dataclasses import dataclass, field

from ..errors import RuleError
from ..explain import RuleConfig, layer_indices, resolve_rules
from ..presets import preset_or_none
from ..rules import RULES, Parameter, parse_rule

GROUPS = ("all", "first", "middle", "last")


@dataclass(frozen=True)
class Param:
    """A rule parameter a sweep can vary: its registry entry and the rules declaring it."""

    spec: Parameter
    rules: tuple  # names of the registered rules that declare it

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def field(self) -> str:  # the rule's dataclass field (the registry names fields so)
        return self.spec.name

    @property
    def symbol(self) -> str:
        return self.spec.label

    @property
    def grid(self) -> tuple:
        return tuple(self.spec.sweep)

    def check(self, value) -> float:
        """``value`` within the registry's range, or a one-line RuleError naming it."""
        return self.spec.check(self.rules[0], value)


def sweepable() -> tuple[Param, ...]:
    """Every parameter with sweep values in the rule registry, in registry order (first
    declaration wins when several rules share a name, e.g. ε)."""
    found: dict[str, tuple[Parameter, list]] = {}
    for name, cls in RULES.items():
        for p in cls.params:
            if p.sweep:
                found.setdefault(p.name, (p, []))[1].append(name)
    return tuple(Param(p, tuple(rules)) for p, rules in found.values())


def _aliases(params) -> dict:
    """Other names of a parameter: its symbol (ε) and the aliases of a rule named after it
    (``eps``)."""
    out = {}
    for p in params:
        out[p.symbol.lower()] = p.name
        cls = RULES.get(p.name)
        for alias in getattr(cls, "aliases", ()):
            out.setdefault(alias.lower(), p.name)
    return out


def find_param(name: str) -> Param:
    params = {p.name: p for p in sweepable()}
    key = name.strip().lower()
    key = _aliases(params.values()).get(key, key)
    if key not in params:
        raise RuleError(f"unknown parameter {name!r}: choose one of {', '.join(params)}")
    return params[key]


def _holds(rule, param: Param) -> bool:
    """Whether ``rule`` has the parameter (its class declares it: the z-rule, an ε-rule
    subclass, declares none)."""
    return any(p.name == param.name for p in type(rule).params)


def parameters_of(layers, rule, layer_rules=None) -> list[Param]:
    """The parameters the rule (or preset) uses on the weighted layers of a model."""
    config = resolve_rules(layers, rule, layer_rules)
    used = swept_layers(layers, "all", layer_rules)
    return [p for p in sweepable() if any(_holds(config.rules[i], p) for i in used)]


def swept_layers(layers, group: str, layer_rules=None) -> list[int]:
    """:func:`group_layers` less a graph model's mean pools that no layer rule of the user's
    names: they keep zennit's Norm (ε fixed at 1e-6), as under a plain rule and in zennit's
    composites, whose ε is the dense layers'. "EpsilonPlus ε=0.1" gave the pool ε = 0.1
    too: 6 % of max|R| off zennit's EpsilonPlus(epsilon=0.1) on ResNet-18. A chain's sum
    pools (the toolbox's ε-rule there) are swept."""
    indices = group_layers(layers, group)
    if getattr(getattr(layers, "convention", None), "norm", None) is None:
        return indices
    named = {i for key in dict(layer_rules or {}) for i in layer_indices(layers, key)}
    return [i for i in indices
            if not getattr(layers[i], "norm_role", False) or i in named]


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


def parse_values(text: str, what: str = "--param") -> tuple[str, tuple]:
    """``"gamma=0,0.1,0.25"`` → ("gamma", (0.0, 0.1, 0.25)); bad text fails with one line
    naming ``what`` (the option, or the explorer's field)."""
    name, sep, values = str(text).partition("=")
    if not sep or not values.strip():
        raise RuleError(f"{what} {text!r}: expected NAME=V1,V2,..., e.g. gamma=0,0.1,0.25")
    param = find_param(name)
    out = []
    for v in values.split(","):
        try:
            out.append(float(v))
        except ValueError:
            raise RuleError(f"{what} {text!r}: {v.strip()!r} is not a number") from None
        try:
            param.check(out[-1])
        except RuleError as exc:
            raise RuleError(f"{what} {text!r}: {exc}") from None
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
        vals = ", ".join(f"{find_param(k).symbol}={v:g}" for k, v in self.values.items())
        where = "" if self.group == "all" else f" [{self.group}]"
        return f"{vals}{where}"

    def config(self, layers) -> RuleConfig:
        return resolve_rules(layers, self.rule, self.layer_rules)

    def cli_args(self, names=None) -> str:
        """The ``lrp explain`` options that explain with this setting, quoted for a shell.
        ``names``: the layers' names (a graph's nodes), which then key the per-layer rules
        (``/layer1/conv1/Conv=gamma:0.5``, not ``5=…``: what 'lrp info' shows, and stable
        when a re-export renumbers the nodes)."""
        args = [f"--rule {shlex.quote(self.rule)}"]
        args += [f"--layer-rule {shlex.quote(f'{_layer_key(key, names)}={spec}')}"
                 for key, spec in self.layer_rules.items()]
        return " ".join(args)


def _layer_key(key, names):
    """A layer index as the layer's name where that names it alone and plainly (not a glob, a
    number, or a name with '='); else as it is."""
    if names is None or not isinstance(key, int) or not 0 <= key < len(names):
        return key
    name = names[key]
    plain = (name and names.count(name) == 1 and not name.strip().isdigit()
             and not any(c in name for c in "*?[]=") and name == name.strip())
    return name if plain else key


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
    applied = set()  # the parameters some layer of the group has: only these are its values
    replaced = set()  # the layers given an override of the setting's own
    for i in swept_layers(layers, group, base_rules):
        rule = config.rules[i]
        changes = {p.field: float(values[p.name]) for p in params if _holds(rule, p)}
        if changes:
            applied.update(p.name for p in params if _holds(rule, p))
            new = dataclasses.replace(rule, **changes)
            if new != rule:  # a value the preset already has needs no override
                overrides.pop(i, None)  # last, so that no glob of the user's comes after it
                overrides[i] = new.spec()
                replaced.add(i)
    for key in base_rules:  # a key of the user's whose every layer the setting replaces
        # ("best: … /avgpool/…=epsilon:0.01 … /avgpool/…=epsilon:0.1"): said for nothing
        if key in overrides and not (isinstance(key, int) and key in replaced) \
                and set(layer_indices(layers, key)) <= replaced:
            del overrides[key]
    if not applied:
        return None
    name = preset_or_none(base).name if preset_or_none(base) else parse_rule(base).spec()
    # "ε=1e-06, γ=0 [last]" named a γ that no layer of the group takes (EpsilonGammaBox's
    # last layer is dense), and the CSV's gamma column held it
    return Setting(name, group, {k: v for k, v in values.items() if k in applied}, name,
                   overrides)


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
            key = (s.rule, tuple(s.layer_rules.items()))
            if key not in seen:
                seen.add(key)
                out.append(s)
    if not out:
        raise RuleError(f"no layer of the chosen groups ({', '.join(groups)}) uses "
                        f"{', '.join(names)} in {base}")
    return out
