"""``lrp rules``: list the rules and presets the engine knows, from their registries."""

from __future__ import annotations

import textwrap

from ..graph import LAYER_KEY_HELP
from ..presets import PRESETS
from ..rules import RULES
from .common import add_command


def register(sub):
    p = add_command(sub, "rules", "List LRP rules (spec forms, parameters with defaults and "
                    "ranges, formula, reference) and presets.", "lrp rules")
    p.add_argument("--markdown", action="store_true",
                   help="print the rules as the README's Markdown table")
    p.set_defaults(func=run)


def markdown_table() -> str:
    """The README's rules table, made from the registry (a test keeps the README equal)."""
    rows = ["| spec | rule | formula | parameters | reference |", "|---|---|---|---|---|"]
    for cls in RULES.values():
        params = "; ".join(
            f"{p.label} {p.range_text()}, default "
            f"{f'{p.default:g}' if p.default is not None else p.derived}"
            for p in cls.params) or "—"
        rows.append(f"| `{cls.usage()}` | {cls.summary} | {cls.formula} | {params} | "
                    f"{cls.reference} |")
    return "\n".join(rows)


def rule_lines(cls) -> list[str]:
    """One rule as ``lrp rules`` prints it: usage and summary, formula, parameters, reference."""
    aliases = f" (also {', '.join(cls.aliases)})" if cls.aliases else ""
    lines = [f"  {cls.usage()}{aliases}", f"      {cls.summary}", f"      {cls.formula}"]
    for p in cls.params:
        default = f"default {p.default:g}" if p.default is not None else f"default {p.derived}"
        lines.append(f"      {p.name.upper()} = {p.label}: {p.range_text()}, {default}")
    lines.append(f"      ref: {cls.reference}")
    return lines


def run(args) -> int:
    if getattr(args, "markdown", False):
        print(markdown_table())
        return 0
    print("rules (a bare name takes the defaults):")
    for cls in RULES.values():
        print("\n".join(rule_lines(cls)))
    print("presets:")
    for name, preset in PRESETS.items():
        print(f"  {name:<24} {preset.description}")
        if preset.reference:
            print(f"  {'':<24} ref: {preset.reference}")
    print("per-layer rules (lrp explain --layer-rule, repeatable):")
    print(textwrap.fill(LAYER_KEY_HELP, width=92, initial_indent="  ",
                        subsequent_indent="  ", break_on_hyphens=False))  # "--layer-\nrule"
    return 0
