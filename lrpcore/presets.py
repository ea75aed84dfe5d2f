"""Named presets (composites): a rule for every layer of a model, chosen by layer type.

The maps follow zennit's composites (``zennit/composites.py``), built from this project's rule
objects; see Montavon et al. (2019), "Layer-wise relevance propagation: an overview". Register
a new preset with :func:`register_preset`; the GUI's menus and the tests read the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import RuleError
from .layers import Linear
from .rules import AlphaBeta, Epsilon, Flat, Gamma, Rule, WSquare, ZBox, ZPlus

PRESETS: dict[str, Preset] = {}


@dataclass(frozen=True)
class Preset:
    """A named map from (layer index, layer, model layers) to a rule or None (pass)."""

    name: str
    description: str
    choose: Callable
    reference: str = ""

    def rules_for(self, layers) -> dict[int, Rule]:
        first_weighted = next((i for i, layer in enumerate(layers) if layer.weighted), None)
        first_conv = next((i for i, layer in enumerate(layers)
                           if getattr(layer, "convolution", False)), None)
        out = {}
        for i, layer in enumerate(layers):
            # an unfoldable BatchNorm keeps no rule: zennit's composites pass relevance there
            if layer.role in ("linear", "maxpool") and not getattr(layer, "unruled_pass", False):
                out[i] = self.choose(i, layer, first_weighted, first_conv)
        return out


ZENNIT_REFERENCE = ("Montavon et al. (2019), LRP: an overview, LNCS 11700: 193–209; "
                    "zennit 0.5.1 composites")
TOOLBOX_REFERENCE = "Lapuschkin et al. (2016), The LRP Toolbox, JMLR 17(114): 1–5"


def register_preset(name: str, description: str, reference: str = ZENNIT_REFERENCE):
    def deco(fn):
        PRESETS[name] = Preset(name, description, fn, reference)
        return fn

    return deco


def find_preset(name: str) -> Preset | None:
    lowered = name.lower()
    return next((p for key, p in PRESETS.items() if key.lower() == lowered), None)


EPS = Epsilon(1e-6)  # zennit's default ε in composites; also its Norm rule for sum pooling
WINNER = Epsilon(1e-6)  # max pooling: any non-flat rule sends relevance to the winner


def _base(layer, dense_rule, conv_rule):
    if isinstance(layer, Linear) or getattr(layer, "dense", False):
        return dense_rule
    if getattr(layer, "convolution", False):  # grouped and depthwise ones too
        return conv_rule
    return EPS  # SumPool (z-rule, stabiliser 1e-6) and MaxPool (winner)


@register_preset("EpsilonPlus", "ε (1e-6) on dense layers, z⁺ on convolutions")
def _epsilon_plus(i, layer, first, first_conv):
    return _base(layer, EPS, ZPlus())


@register_preset("EpsilonPlusFlat",
                 "as EpsilonPlus, with the flat rule on the first dense or convolution layer")
def _epsilon_plus_flat(i, layer, first, first_conv):
    return Flat() if i == first else _base(layer, EPS, ZPlus())


@register_preset("EpsilonAlpha2Beta1", "ε (1e-6) on dense layers, α2β1 on convolutions")
def _epsilon_a2b1(i, layer, first, first_conv):
    return _base(layer, EPS, AlphaBeta(2.0))


@register_preset("EpsilonAlpha2Beta1Flat",
                 "as EpsilonAlpha2Beta1, with the flat rule on the first dense or "
                 "convolution layer")
def _epsilon_a2b1_flat(i, layer, first, first_conv):
    return Flat() if i == first else _base(layer, EPS, AlphaBeta(2.0))


@register_preset("EpsilonGammaBox",
                 "ε (1e-6) on dense layers, γ (0.25) on convolutions, zᴮ on the first convolution")
def _epsilon_gamma_box(i, layer, first, first_conv):
    return ZBox() if i == first_conv else _base(layer, EPS, Gamma(0.25))


@register_preset("Alpha1WW",
                 "the LRP Toolbox demo: α = 1 (z⁺) on every layer, w² on the first layer",
                 TOOLBOX_REFERENCE)
def _alpha1_ww(i, layer, first, first_conv):
    # the toolbox's first layer is its first weighted one (a Pad or Flatten may come before)
    return WSquare() if i == first else AlphaBeta(1.0)


def preset_or_none(spec) -> Preset | None:
    if isinstance(spec, Preset):
        return spec
    if isinstance(spec, str) and ":" not in spec:
        return find_preset(spec.strip())
    return None


def require_preset(name) -> Preset:
    preset = preset_or_none(name)
    if preset is None:
        raise RuleError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    return preset
