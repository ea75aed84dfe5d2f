"""LRP rules as small objects over one propagation routine.

A rule acts on a *linear map* layer (Linear, Convolution, SumPool) through the layer's ``fmap``
(forward with a weight variant) and ``tmap`` (its transpose). Max pooling sends relevance to
the winners (or uniformly for ``flat`` and ``ww``); activations and reshapes pass it through.

Numerics of the toolbox rules follow the LRP Toolbox 1.3.1 exactly (stabilisers, sign with
s(0) = +1, the α·β ≠ 0 denominators). The rules from the current literature (``zplus``,
``gamma``, ``zb``) follow Montavon et al. (2019), "Layer-wise relevance propagation: an
overview", with zennit's stabiliser z + 1e-6·s(z).

Invalid parameters raise :class:`~lrpcore.errors.RuleError` when the rule is built, never in
the middle of a backward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import RuleError
from .kernels import epsilon_share

LITERATURE_STABILIZER = 1e-6


def _finite(name, value, minimum=None, strictly=False):
    try:
        value = float(value)
    except (TypeError, ValueError) as exc:
        raise RuleError(f"{name} must be a number, got {value!r}") from exc
    if not math.isfinite(value):
        raise RuleError(f"{name} must be finite, got {value}")
    if minimum is not None and (value < minimum or (strictly and value == minimum)):
        op = ">" if strictly else "≥"
        raise RuleError(f"{name} must be {op} {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class Rule:
    """Base rule. ``name`` is its spec keyword; subclasses carry their parameters."""

    name: str = field(init=False, default="rule")

    def spec(self) -> str:
        return self.name

    def __str__(self) -> str:
        return self.spec()

    # -- linear maps -------------------------------------------------------------------------
    def linear(self, layer, x, z, R, ctx):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- max pooling -------------------------------------------------------------------------
    def maxpool(self, layer, x, y, R, ctx):
        return layer.winner_relevance(x, y, R, ctx.xp)


def _bias_part(layer, ctx, part):
    b = layer.device_bias(ctx.xp, ctx.dtype)
    if b is None:
        return 0.0
    return ctx.xp.maximum(b, 0) if part == "pos" else ctx.xp.minimum(b, 0)


@dataclass(frozen=True)
class Epsilon(Rule):
    """ε-rule: R_i = x_i Σ_j w_ij R_j / (z_j + ε·s(z_j)) (Bach et al., 2015)."""

    epsilon: float = 0.01
    name: str = field(init=False, default="epsilon")

    def __post_init__(self):
        object.__setattr__(self, "epsilon", _finite("epsilon", self.epsilon, minimum=0.0))

    def spec(self):
        return f"epsilon:{self.epsilon:g}"

    def stabilizer(self, layer):
        return self.epsilon

    def linear(self, layer, x, z, R, ctx):
        xp = ctx.xp
        c = epsilon_share(R, z, self.stabilizer(layer), xp, layer.lrp_divisor)
        return layer.input_share(c, layer.variant("w", xp, ctx.dtype), x, xp)


@dataclass(frozen=True)
class Simple(Epsilon):
    """z-rule: the ε-rule with the toolbox's tiny stabiliser (1e-16; 1e-12 in sum pooling)."""

    epsilon: float = 0.0
    name: str = field(init=False, default="simple")

    def spec(self):
        return "simple"

    def stabilizer(self, layer):
        return layer.simple_stabilizer


@dataclass(frozen=True)
class AlphaBeta(Rule):
    """αβ-rule in the toolbox's convention β = 1 − α (so α = 2 is the literature's α2β1)."""

    alpha: float = 1.0
    # zennit's numerics (graph models): both denominators summed and stabilised by 1e-6·s(z)
    literature: bool = field(default=False, compare=False)
    name: str = field(init=False, default="alphabeta")

    def __post_init__(self):
        object.__setattr__(self, "alpha", _finite("alpha", self.alpha, minimum=0.0))

    @property
    def beta(self):
        return 1.0 - self.alpha

    def spec(self):
        return f"alphabeta:{self.alpha:g}"

    def linear(self, layer, x, z, R, ctx):
        alpha, beta = self.alpha, self.beta
        split = SignSplit(layer, x, ctx)
        if self.literature:
            xp = ctx.xp
            out = 0.0
            if alpha:
                dpos = split.positive_sum() + _bias_part(layer, ctx, "pos")
                out = alpha * split.positive_share(
                    epsilon_share(R, dpos, LITERATURE_STABILIZER, xp))
            if beta:
                dneg = split.negative_sum() + _bias_part(layer, ctx, "neg")
                out = out + beta * split.negative_share(
                    epsilon_share(R, dneg, LITERATURE_STABILIZER, xp))
            return out
        if beta == 0:
            dpos = split.positive_sum() + _bias_part(layer, ctx, "pos") + 1e-16
            return alpha * split.positive_share(R / dpos)
        if alpha == 0:
            dneg = (split.negative_sum() + _bias_part(layer, ctx, "neg")
                    + layer.beta_only_stabilizer)
            return beta * split.negative_share(R / dneg)
        dpos = split.positive_sum() + _bias_part(layer, ctx, "pos") + 1e-16
        if ctx.dtype == np.float64:
            # by subtraction from the stored output, exactly as the toolbox does
            dneg = layer.lrp_base(z) - dpos - 1e-16
        else:
            # in float32 that subtraction cancels catastrophically; sum the negative part
            dneg = split.negative_sum() + _bias_part(layer, ctx, "neg") - 2e-16
        return alpha * split.positive_share(R / dpos) + beta * split.negative_share(R / dneg)


class SignSplit:
    """A layer's contributions z_ij = x_i w_ij split by sign, without forming them.

    z⁺ = x⁺w⁺ + x⁻w⁻ and z⁻ = x⁺w⁻ + x⁻w⁺. Terms that are zero are skipped: inputs after a
    ReLU have no negative part (halving the work of every hidden layer), and sum pooling has
    no negative weights. Skipping adds nothing but exact zeros, so results are unchanged.
    """

    def __init__(self, layer, x, ctx):
        xp = ctx.xp
        self.layer, self.xp, self.shape = layer, xp, x.shape[1:]
        self.xpos = xp.maximum(x, 0)
        self.xneg = xp.minimum(x, 0) if bool((x < 0).any()) else None
        self.wp = layer.variant("pos", xp, ctx.dtype)
        self.wn = layer.variant("neg", xp, ctx.dtype) if layer.has_negative_weights else None

    def sum(self, w_for_pos, w_for_neg):
        """Σ_i (x⁺_i w_for_pos_ij + x⁻_i w_for_neg_ij), a zero-free forward map."""
        layer, xp = self.layer, self.xp
        s = layer.fmap(self.xpos, w_for_pos, xp) if w_for_pos is not None else 0.0
        if self.xneg is not None and w_for_neg is not None:
            s = s + layer.fmap(self.xneg, w_for_neg, xp)
        return s

    def share(self, c, w_for_pos, w_for_neg):
        """x⁺_i Σ_j w_for_pos_ij c_j + x⁻_i Σ_j w_for_neg_ij c_j."""
        layer, xp, shape = self.layer, self.xp, self.shape
        out = None
        if w_for_pos is not None:
            out = layer.input_share(c, w_for_pos, self.xpos, xp)
        if self.xneg is not None and w_for_neg is not None:
            part = layer.input_share(c, w_for_neg, self.xneg, xp)
            out = part if out is None else out + part
        if out is None:  # no contribution has this sign (e.g. z⁻ of sum pooling after a ReLU)
            out = xp.zeros((c.shape[0],) + tuple(shape), dtype=c.dtype)
        return out

    def positive_sum(self):
        return self.sum(self.wp, self.wn)

    def negative_sum(self):
        return self.sum(self.wn, self.wp)

    def positive_share(self, c):
        """Σ_j z⁺_ij c_j."""
        return self.share(c, self.wp, self.wn)

    def negative_share(self, c):
        """Σ_j z⁻_ij c_j."""
        return self.share(c, self.wn, self.wp)


@dataclass(frozen=True)
class Flat(Rule):
    """Flat rule: every input of a neuron's receptive field gets an equal share."""

    name: str = field(init=False, default="flat")

    def linear(self, layer, x, z, R, ctx):
        xp = ctx.xp
        ones = layer.variant("ones", xp, ctx.dtype, make=_ones_like)
        if ctx.inside is None:
            return layer.tmap(R / layer.fan_in(), ones, x.shape[1:], xp)
        # a padded input: only the real inputs of each receptive field share
        return _masked_share(layer, ones, R, x, ctx)

    def maxpool(self, layer, x, y, R, ctx):
        return layer.uniform_relevance(x, R, ctx.xp, ctx.inside)


def _ones_like(w):
    return np.ones_like(w)


def _masked_share(layer, w, R, x, ctx):
    """R spread in proportion to ``w`` over the real inputs (``ctx.inside``) of each neuron;
    a neuron that sees only the padded border keeps its relevance there (it is dropped)."""
    xp = ctx.xp
    total = layer.fmap(ctx.inside, w, xp)
    out = layer.tmap(R / xp.where(total > 0, total, 1), w, x.shape[1:], xp)
    out *= ctx.inside
    return out


@dataclass(frozen=True)
class WSquare(Rule):
    """w²-rule: shares proportional to the squared weights, inputs ignored."""

    name: str = field(init=False, default="ww")

    def linear(self, layer, x, z, R, ctx):
        xp = ctx.xp
        sq = layer.variant("sq", xp, ctx.dtype)
        if ctx.inside is None:
            return layer.tmap(R / layer.colsum(sq, xp), sq, x.shape[1:], xp)
        return _masked_share(layer, sq, R, x, ctx)  # a padded input: real inputs only

    def maxpool(self, layer, x, y, R, ctx):
        return layer.uniform_relevance(x, R, ctx.xp, ctx.inside)


@dataclass(frozen=True)
class ZPlus(Rule):
    """z⁺-rule: only positive contributions x⁺w⁺ + x⁻w⁻ (and b⁺) take part."""

    name: str = field(init=False, default="zplus")

    def linear(self, layer, x, z, R, ctx):
        split = SignSplit(layer, x, ctx)
        denominator = split.positive_sum() + _bias_part(layer, ctx, "pos")
        return split.positive_share(epsilon_share(R, denominator, LITERATURE_STABILIZER, ctx.xp))


@dataclass(frozen=True)
class Gamma(Rule):
    """γ-rule: positive contributions boosted by γ, split by the sign of each neuron's z."""

    gamma: float = 0.25
    name: str = field(init=False, default="gamma")

    def __post_init__(self):
        object.__setattr__(self, "gamma", _finite("gamma", self.gamma, minimum=0.0))

    def spec(self):
        return f"gamma:{self.gamma:g}"

    def linear(self, layer, x, z, R, ctx):
        xp, dt, g = ctx.xp, ctx.dtype, self.gamma
        split = SignSplit(layer, x, ctx)
        # weights favouring positive (wa) and negative (wb) contributions
        wa = layer.variant(("gamma+", g), xp, dt, make=lambda w: w + g * np.maximum(w, 0))
        wb = layer.variant(("gamma-", g), xp, dt, make=lambda w: w + g * np.minimum(w, 0))
        b = layer.device_bias(xp, dt)
        zs = layer.lrp_base(z)
        if b is None:
            bias_up = bias_down = 0.0
        else:
            bias_up, bias_down = b + g * xp.maximum(b, 0), b + g * xp.minimum(b, 0)
        z_up = split.sum(wa, wb) + bias_up  # neurons with z > 0 favour positive parts
        z_down = split.sum(wb, wa) + bias_down  # neurons with z < 0 favour negative ones
        # the stabilised denominators are never 0, so masking by multiplication is safe
        c_up = epsilon_share(R, z_up, LITERATURE_STABILIZER, xp) * (zs > 0)
        c_down = epsilon_share(R, z_down, LITERATURE_STABILIZER, xp) * (zs < 0)
        return split.share(c_up, wa, wb) + split.share(c_down, wb, wa)


@dataclass(frozen=True)
class ZBox(Rule):
    """zᴮ-rule for inputs bounded by [low, high] (Montavon et al., 2017).

    ``low``/``high`` of ``None`` mean the model's input range, resolved when explaining.
    """

    low: float | None = None
    high: float | None = None
    name: str = field(init=False, default="zb")

    def __post_init__(self):
        if (self.low is None) != (self.high is None):
            raise RuleError("zb needs both bounds (zb:LOW:HIGH) or neither (zb)")
        if self.low is not None:
            low = _finite("zb low bound", self.low)
            high = _finite("zb high bound", self.high)
            if not low < high:
                raise RuleError(f"zb bounds must satisfy low < high, got {low} and {high}")
            object.__setattr__(self, "low", low)
            object.__setattr__(self, "high", high)

    def spec(self):
        return "zb" if self.low is None else f"zb:{self.low:g}:{self.high:g}"

    def bounds(self, ctx):
        if self.low is not None:
            return self.low, self.high
        if ctx.input_range is None:
            raise RuleError("zb without bounds needs a model whose input range is known; "
                            "give the bounds as zb:LOW:HIGH")
        return ctx.input_range

    def linear(self, layer, x, z, R, ctx):
        xp, dt = ctx.xp, ctx.dtype
        low, high = self.bounds(ctx)
        # bounds are numbers, or per-channel arrays (the last axis) for normalised colour inputs
        lo = xp.zeros(x.shape, dtype=x.dtype) + xp.asarray(low, dtype=x.dtype)
        hi = xp.zeros(x.shape, dtype=x.dtype) + xp.asarray(high, dtype=x.dtype)
        if ctx.inside is not None:  # a padded border is a constant: its bounds are its value
            lo = xp.where(ctx.inside > 0, lo, x)
            hi = xp.where(ctx.inside > 0, hi, x)
        w = layer.variant("w", xp, dt)
        wp, wn = layer.variant("pos", xp, dt), layer.variant("neg", xp, dt)
        q = layer.fmap(x, w, xp) - layer.fmap(lo, wp, xp) - layer.fmap(hi, wn, xp)
        c = epsilon_share(R, q, LITERATURE_STABILIZER, xp)
        return (layer.input_share(c, w, x, xp) - layer.input_share(c, wp, lo, xp)
                - layer.input_share(c, wn, hi, xp))


# --------------------------------------------------------------------------------------------
# Spec parsing
# --------------------------------------------------------------------------------------------

RULE_NAMES = ("simple", "epsilon", "alphabeta", "flat", "ww", "zb", "gamma", "zplus")
_ALIASES = {"alpha": "alphabeta", "w^2": "ww", "wsquare": "ww", "none": "simple", "z": "simple",
            "zbox": "zb", "z+": "zplus", "eps": "epsilon"}


def parse_rule(spec) -> Rule:
    """Turn a spec such as ``"epsilon:0.01"`` into a :class:`Rule` (rules only, no presets)."""
    if isinstance(spec, Rule):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise RuleError(f"a rule spec must be a non-empty string, got {spec!r}")
    head, *args = spec.strip().split(":")
    name = _ALIASES.get(head.lower(), head.lower())

    def nargs(*allowed):
        if len(args) not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise RuleError(f"rule {name!r} takes {want} parameter(s), got {spec!r}")

    if name == "simple":
        nargs(0)
        return Simple()
    if name == "epsilon":
        if not args:
            raise RuleError("rule 'epsilon' needs its ε, e.g. epsilon:0.01")
        nargs(1)
        return Epsilon(args[0])
    if name == "alphabeta":
        if not args:
            raise RuleError("rule 'alphabeta' needs its α (β = 1 − α), e.g. alphabeta:2")
        nargs(1)
        return AlphaBeta(args[0])
    if name == "flat":
        nargs(0)
        return Flat()
    if name == "ww":
        nargs(0)
        return WSquare()
    if name == "zplus":
        nargs(0)
        return ZPlus()
    if name == "gamma":
        nargs(0, 1)
        return Gamma(args[0]) if args else Gamma()
    if name == "zb":
        nargs(0, 2)
        return ZBox(*args) if args else ZBox()
    raise RuleError(f"unknown rule {head!r}: choose one of {', '.join(RULE_NAMES)} "
                    "or a preset (see 'lrp rules')")
