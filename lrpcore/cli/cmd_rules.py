"""``lrp rules``: list the rules and presets the engine knows."""

from __future__ import annotations

from ..presets import PRESETS
from .common import add_command

RULE_HELP = {
    "simple": "z-rule (toolbox stabiliser 1e-16, 1e-12 in sum pooling)",
    "epsilon:EPS": "ε-rule, e.g. epsilon:0.01",
    "alphabeta:ALPHA": "αβ-rule with β = 1 − α (toolbox convention; alphabeta:2 is α2β1)",
    "flat": "equal shares over each neuron's receptive field",
    "ww": "shares proportional to squared weights",
    "zb / zb:LOW:HIGH": "box rule for bounded inputs (default bounds: the model's input range)",
    "gamma:G": "γ-rule favouring positive contributions (default 0.25)",
    "zplus": "z⁺-rule: positive contributions only",
}


def register(sub):
    p = add_command(sub, "rules", "List LRP rules and presets.", "lrp rules")
    p.set_defaults(func=run)


def run(args) -> int:
    print("rules:")
    for spec, text in RULE_HELP.items():
        print(f"  {spec:<18} {text}")
    print("presets:")
    for name, preset in PRESETS.items():
        print(f"  {name:<24} {preset.description}")
    return 0
