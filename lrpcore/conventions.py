"""The numerics a model's explanations follow, and the settings an explanation starts from.

Toolbox models keep the toolbox's numerics and start from its ``epsilon:0.01`` in float64
(results equal to the toolbox's to ~1e-15). Graph models (ONNX exports, EfficientNet-Lite0)
follow zennit's and start from its ``EpsilonPlus`` composite in float32: a plain ε-rule on
every layer of a deep photograph classifier leaves a near-empty, noisy heatmap (the
literature's reason for composites, Montavon et al., 2019), and float32 halves the time of a
click. The defaults are a property of the model's convention, read by the explorer and by
the commands whose ``--rule``/``--dtype`` default to the model's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .rules import LITERATURE_STABILIZER, Epsilon, Rule


@dataclass(frozen=True)
class Convention:
    """The numerics a model's explanations follow: where rules of the literature and the
    toolbox differ (αβ's stabiliser, the rule of merges and mean pools), and the rule spec and
    dtype an explanation of such a model starts from (``rule``, ``dtype``)."""

    name: str
    norm: Rule | None  # rule of merges and mean pools unless a layer rule names them
    rule: str = "epsilon:0.01"
    dtype: str = "float64"
    # the rule of commands run without --rule (None: the engine's default, simple, as the
    # toolbox's own scripts have it)
    command_rule: str | None = None
    # αβ, flat and w² with zennit's denominators (stabiliser 1e-6; w² squares the bias too),
    # not the toolbox's
    literature_rules: bool = False
    # what the explorer's Compare shows beside the rule on display until the user sets rows:
    # rules that make sense on this kind of model, and the gradient baselines
    compare: tuple = ()

    def adapt(self, rule):
        """The rule as this convention computes it."""
        if self.literature_rules and getattr(rule, "literature", True) is False:
            return replace(rule, literature=True)
        return rule


TOOLBOX = Convention("toolbox", None, rule="epsilon:0.01", dtype="float64",
                     compare=("epsilon:0.01", "alphabeta:2", "EpsilonPlusFlat", "sensitivity",
                              "gradxinput"))
# a plain rule on every layer of a deep photograph classifier gives near-empty, noisy maps
# (Montavon et al., 2019): its Compare starts from zennit's composites
ZENNIT = Convention("zennit", Epsilon(LITERATURE_STABILIZER),  # zennit's Norm rule
                    rule="EpsilonPlus", dtype="float32", command_rule="EpsilonPlus",
                    literature_rules=True,
                    compare=("EpsilonPlus", "EpsilonGammaBox", "EpsilonAlpha2Beta1",
                             "EpsilonPlusFlat", "gradxinput"))


def convention_of(model) -> Convention:
    """The convention of ``model`` (a toolbox chain's unless it declares another)."""
    return getattr(model, "convention", None) or TOOLBOX


def recommended_rule(model) -> str | None:
    """The rule a model's metadata recommends (``"recommended_rule"``, e.g. in a sidecar
    ``MODEL.json``), or None: it takes precedence over its convention's."""
    meta = getattr(model, "meta", None)
    rule = meta.get("recommended_rule") if isinstance(meta, dict) else None
    return rule.strip() if isinstance(rule, str) and rule.strip() else None


def default_settings(model) -> dict:
    """{"rule": ..., "dtype": ...} an explanation of ``model`` starts from in the explorer:
    its recommended rule, else its convention's."""
    c = convention_of(model)
    return {"rule": recommended_rule(model) or c.rule, "dtype": c.dtype}


DEFAULTS_HELP = ("default: the model's — the rule its metadata recommends (a sidecar's "
                 "\"recommended_rule\"), else EpsilonPlus in float32 for graph models (ONNX, "
                 "efficientnet-lite0), simple (lrp) or epsilon:0.01 (explorer) in float64 for "
                 "toolbox models")
# the same for commands without --dtype (they compute in float64)
RULE_DEFAULT_HELP = ("default: the model's — the rule its metadata recommends, else "
                     "EpsilonPlus for graph models (ONNX, efficientnet-lite0), simple (lrp) or "
                     "epsilon:0.01 (explorer) for toolbox models")
