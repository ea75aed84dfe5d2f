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

import dataclasses
import math
import unicodedata
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .errors import RuleError
from .kernels import add_bias, add_into, compiled, cpu_kernels_fit, epsilon_share, has_negative
from .text import closest_name

LITERATURE_STABILIZER = 1e-6
# z⁺ of a layer with inputs of both signs is taken as (z − b + |x|·|w|)/2 (one product, see
# SignSplit.positive_sum_from) where it is at least this part of |x|·|w| + |b|, per dtype:
# its rounding error is then within 2 / margin (2·10⁶) times that of summing x⁺w⁺ and x⁻w⁻
# apart — in float64 ~1e-8 relative typically, 3e-7 at worst for 1152 inputs per neuron, far
# inside the 1e-4 of max|R| the references allow. There float32 keeps two products: with 24
# bits, a margin that keeps the error near the float's own leaves most layers with neurons to
# redo (measured on EfficientNet-Lite0: 22 of 24 layers), which costs more than it saves.
MAGNITUDE_MARGIN = {np.dtype(np.float64): 2.0 ** -20}
# Where the inputs are rows of a matrix product (a dense or pointwise layer), a loose neuron
# is summed from its own inputs instead (K multiply-adds), so float32 takes the one product too:
# its margin 1/16 keeps the rounding error within ~2e-6 of z⁺, near float32's own over a few
# hundred terms. One photograph's relevance through EfficientNet-Lite0 in float32: 4 % faster.
ROW_MAGNITUDE_MARGIN = {np.dtype(np.float64): 2.0 ** -20, np.dtype(np.float32): 2.0 ** -4}
# ... on the CPU, for layer outputs of at least this many elements (EfficientNet-Lite0's
# widest 7×7×1152 ones included; one digit's first layer, 28×28×16, not: it loads no kernels)
MAGNITUDE_MIN_SIZE = 1 << 15


def format_number(text: float) -> str:
    """A parameter as a spec writes it: short (``0.01``) unless that would lose digits."""
    short = f"{text:g}"
    return short if float(short) == text else repr(float(text))


@dataclass(frozen=True)
class Parameter:
    """One parameter of a rule: what the parser checks, ``lrp rules`` lists and the GUI shows
    (a row with ``label``, a spin box limited to the range, ``help`` as its tooltip).

    ``default`` None means "derived" (``derived`` says from what, e.g. β = α − 1); ``above``
    makes the minimum exclusive (ε > 0); ``hint`` ends a range error (e.g. use ``simple``);
    ``sweep`` the values a parameter sweep (lrpcore.insight.params) tries unless told others
    (empty: not swept).
    """

    name: str
    label: str
    default: float | None
    minimum: float | None = None
    maximum: float | None = None
    above: bool = False
    help: str = ""
    derived: str = ""
    hint: str = ""
    sweep: tuple = ()

    def range_text(self) -> str:
        lo = None if self.minimum is None else f"{'>' if self.above else '≥'} {self.minimum:g}"
        hi = None if self.maximum is None else f"≤ {self.maximum:g}"
        return ", ".join(t for t in (lo, hi) if t) or "any number"

    @property
    def spoken(self) -> str:
        """The parameter as messages name it: its label where that says its name (ε for
        epsilon, low), else both ("factor f")."""
        letter = unicodedata.name(self.label, "") if len(self.label) == 1 else ""
        says = self.label == self.name or letter.endswith(" " + self.name.upper())
        return self.label if says else f"{self.name} {self.label}"

    def called(self, rule: str) -> str:
        """This parameter of ``rule`` named within a sentence: "gamma's γ"."""
        return f"{rule}'s {self.spoken}"

    def check(self, rule: str, value) -> float:
        """``value`` as a float, or a one-line RuleError naming the rule and this parameter
        ("epsilon: ε must be a number, got 'x'"; it read "epsilon parameter epsilon (ε)")."""
        what = f"{rule}: {self.spoken}"
        try:
            value = float(value)
        except (TypeError, ValueError) as exc:
            raise RuleError(f"{what} must be a number, got {value!r}") from exc
        if not math.isfinite(value):
            raise RuleError(f"{what} must be finite, got {value}")
        low_bad = self.minimum is not None and (
            value < self.minimum or (self.above and value == self.minimum))
        if low_bad or (self.maximum is not None and value > self.maximum):
            hint = f"; {self.hint}" if self.hint else ""
            raise RuleError(f"{what} must be {self.range_text()}, got {value:g}{hint}")
        return value


@dataclass(frozen=True)
class Rule:
    """Base rule. A subclass declares, once, what the parser, ``lrp rules``, the GUI and the
    tests read: ``name`` (its spec keyword) and ``aliases``; ``params`` (one
    :class:`Parameter` per dataclass field, in spec order); ``arities`` (the accepted numbers
    of spec parameters; default: any leading part); a one-line ``summary``, its ``formula``
    and a ``reference``. Register it with :func:`register_rule`.
    """

    name: ClassVar[str] = "rule"
    aliases: ClassVar[tuple[str, ...]] = ()
    params: ClassVar[tuple[Parameter, ...]] = ()
    arities: ClassVar[tuple[int, ...] | None] = None
    summary: ClassVar[str] = ""
    formula: ClassVar[str] = ""
    reference: ClassVar[str] = ""

    def __post_init__(self):
        for p in self.params:
            value = getattr(self, p.name)
            if value is None and p.default is None:
                continue  # derived when explaining (e.g. zᴮ bounds from the input range)
            object.__setattr__(self, p.name, p.check(self.name, value))
        self.validate()

    def validate(self) -> None:
        """Checks across parameters (e.g. low < high); RuleError when they fail."""

    @classmethod
    def allowed_arities(cls) -> tuple[int, ...]:
        return cls.arities if cls.arities is not None else tuple(range(len(cls.params) + 1))

    @classmethod
    def usage(cls) -> str:
        """The spec forms, e.g. ``alphabeta[:ALPHA[:BETA]]`` or ``zb[:LOW:HIGH]``."""
        names = [p.name.upper() for p in cls.params]
        counts = sorted(cls.allowed_arities())
        text = ":".join([cls.name, *names[:counts[0]]])
        opened = 0
        for before, after in zip(counts, counts[1:], strict=False):
            text += "[:" + ":".join(names[before:after])
            opened += 1
        return text + "]" * opened

    @classmethod
    def from_args(cls, args, spec="") -> Rule:
        """The rule for the spec's parameters (strings or numbers), checked one by one."""
        allowed = cls.allowed_arities()
        if len(args) not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise RuleError(f"rule {cls.name!r} takes {want} parameter(s) ({cls.usage()}), "
                            f"got {spec or len(args)!r}")
        return cls(*(p.check(cls.name, a) for p, a in zip(cls.params, args, strict=False)))

    def value(self, name, input_range=None):
        """A parameter's value as the rule uses it; a derived one resolved where it can be
        (``input_range``: the model's (low, high), for rules whose defaults follow it)."""
        return getattr(self, name)

    def spec(self) -> str:
        values = [getattr(self, p.name) for p in self.params]
        while values and values[-1] is None:
            values.pop()
        return ":".join([self.name, *(format_number(v) for v in values)])

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


def _plus_bias_part(z, layer, ctx, part):
    """``z + _bias_part(…)``, added in place (one large temporary less): ``z`` is a fresh sum
    of contributions the rule owns (a float 0 when there are none)."""
    if layer.device_bias(ctx.xp, ctx.dtype) is None:
        return z
    if not hasattr(z, "shape"):
        return z + _bias_part(layer, ctx, part)
    return add_bias(z, _bias_part(layer, ctx, part), ctx.xp)


@dataclass(frozen=True)
class Epsilon(Rule):
    """ε-rule: R_i = x_i Σ_j w_ij R_j / (z_j + ε·s(z_j)) (Bach et al., 2015)."""

    epsilon: float = 0.01
    name: ClassVar[str] = "epsilon"
    aliases: ClassVar[tuple[str, ...]] = ("eps",)
    params: ClassVar[tuple[Parameter, ...]] = (Parameter(
        "epsilon", "ε", 0.01, minimum=0.0, above=True,
        help="stabiliser added to each denominator: larger ε absorbs weak, noisy relevance",
        hint="for the z-rule (ε = 0) use 'simple'", sweep=(1e-6, 0.01, 0.1)),)
    summary: ClassVar[str] = "ε-rule: a stabiliser absorbs weak or contradictory relevance"
    formula: ClassVar[str] = "R_i = Σ_j x_i w_ij R_j / (z_j + ε·sign(z_j))"
    reference: ClassVar[str] = "Bach et al. (2015), PLoS ONE 10(7): e0130140"

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
    name: ClassVar[str] = "simple"
    aliases: ClassVar[tuple[str, ...]] = ("z", "none")
    params: ClassVar[tuple[Parameter, ...]] = ()
    summary: ClassVar[str] = "z-rule: the toolbox's basic rule (stabiliser 1e-16, 1e-12 in " \
        "sum pooling)"
    formula: ClassVar[str] = "R_i = Σ_j x_i w_ij R_j / z_j"
    reference: ClassVar[str] = "Bach et al. (2015), PLoS ONE 10(7): e0130140"

    def stabilizer(self, layer):
        return layer.simple_stabilizer


@dataclass(frozen=True)
class AlphaBeta(Rule):
    """αβ-rule, R = α·z⁺/Σz⁺ − β·z⁻/Σz⁻ (the literature's sign of β).

    ``alphabeta:ALPHA`` is the LRP Toolbox's form: β = α − 1 (the toolbox writes it as
    β' = 1 − α on z⁻/Σz⁻), so ``alphabeta:2`` is α2β1 and ``alphabeta:0.5`` gives β = −0.5,
    as in the toolbox. ``alphabeta:ALPHA:BETA`` sets β independently; a β equal to α − 1 is
    stored as derived (None), so both forms make equal rules and the same spec.
    """

    alpha: float = 2.0
    beta: float | None = None
    # zennit's numerics (graph models): both denominators summed and stabilised by 1e-6·s(z)
    literature: bool = field(default=False, compare=False)
    name: ClassVar[str] = "alphabeta"
    aliases: ClassVar[tuple[str, ...]] = ("alpha",)
    params: ClassVar[tuple[Parameter, ...]] = (
        Parameter("alpha", "α", 2.0, minimum=0.0,
                  help="weight of the positive contributions z⁺", sweep=(1.0, 2.0, 3.0)),
        Parameter("beta", "β", None, minimum=-1.0, derived="α − 1 (the toolbox's β = 1 − α)",
                  help="weight of the negative contributions z⁻ (subtracted); α − β = 1 "
                       "conserves relevance"),
    )
    summary: ClassVar[str] = "αβ-rule: positive and negative contributions weighted apart " \
        "(alphabeta:2 is α2β1)"
    formula: ClassVar[str] = "R_i = Σ_j (α·z⁺_ij/Σ_i z⁺_ij − β·z⁻_ij/Σ_i z⁻_ij)·R_j"
    reference: ClassVar[str] = "Bach et al. (2015), PLoS ONE 10(7): e0130140"

    def validate(self):
        if self.beta is not None and self.beta == self.alpha - 1.0:
            object.__setattr__(self, "beta", None)  # the toolbox form: one spec, one rule

    def value(self, name, input_range=None):
        if name == "beta" and self.beta is None:
            return self.alpha - 1.0
        return getattr(self, name)

    @property
    def toolbox_beta(self) -> float:
        """β as the toolbox writes it, on z⁻/Σz⁻ (whose ratio is positive): 1 − α."""
        return 1.0 - self.alpha if self.beta is None else -self.beta

    def linear(self, layer, x, z, R, ctx):
        alpha, beta = self.alpha, self.toolbox_beta
        split = SignSplit(layer, x, ctx)
        if self.literature:
            xp = ctx.xp
            out = 0.0
            if alpha:
                dpos = _plus_bias_part(split.positive_sum(), layer, ctx, "pos")
                out = alpha * split.positive_share(
                    epsilon_share(R, dpos, LITERATURE_STABILIZER, xp))
            if beta and split.has_negative():
                dneg = _plus_bias_part(split.negative_sum(), layer, ctx, "neg")
                out = out + beta * split.negative_share(
                    epsilon_share(R, dneg, LITERATURE_STABILIZER, xp))
            return check_overflow(self, xp, R, x, out)  # graph models take this form
        if beta == 0:
            dpos = split.positive_sum() + _bias_part(layer, ctx, "pos") + 1e-16
            return check_overflow(self, ctx.xp, R, x, alpha * split.positive_share(R / dpos))
        if alpha == 0:
            dneg = (split.negative_sum() + _bias_part(layer, ctx, "neg")
                    + layer.beta_only_stabilizer)
            return check_overflow(self, ctx.xp, R, x, beta * split.negative_share(R / dneg))
        dpos = split.positive_sum() + _bias_part(layer, ctx, "pos") + 1e-16
        if ctx.dtype == np.float64:
            # by subtraction from the stored output, exactly as the toolbox does
            dneg = layer.lrp_base(z) - dpos - 1e-16
        else:
            # in float32 that subtraction cancels catastrophically; sum the negative part
            dneg = split.negative_sum() + _bias_part(layer, ctx, "neg") - 2e-16
        out = alpha * split.positive_share(R / dpos) + beta * split.negative_share(R / dneg)
        return check_overflow(self, ctx.xp, R, x, out)


class SignSplit:
    """A layer's contributions z_ij = x_i w_ij split by sign, without forming them.

    z⁺ = x⁺w⁺ + x⁻w⁻ and z⁻ = x⁺w⁻ + x⁻w⁺. Terms that are zero are skipped: inputs after a
    ReLU have no negative part (halving the work of every hidden layer), and sum pooling has
    no negative weights. Skipping adds nothing but exact zeros, so results are unchanged.
    """

    def __init__(self, layer, x, ctx):
        xp = ctx.xp
        self.layer, self.xp, self.shape, self.x = layer, xp, x.shape[1:], x
        if x.size and has_negative(x, xp):
            self.xpos, self.xneg = xp.maximum(x, 0), xp.minimum(x, 0)
        else:  # e.g. after a ReLU: one reduction instead of a comparison array and a copy
            self.xpos, self.xneg = x, None
        self.wp = layer.variant("pos", xp, ctx.dtype)
        self.wn = layer.variant("neg", xp, ctx.dtype) if layer.has_negative_weights else None

    def sum(self, w_for_pos, w_for_neg):
        """Σ_i (x⁺_i w_for_pos_ij + x⁻_i w_for_neg_ij), a zero-free forward map."""
        layer, xp = self.layer, self.xp
        s = layer.fmap(self.xpos, w_for_pos, xp) if w_for_pos is not None else 0.0
        if self.xneg is not None and w_for_neg is not None:
            part = layer.fmap(self.xneg, w_for_neg, xp)
            s = part if w_for_pos is None else add_into(s, part, xp)  # s is a fresh product
        return s

    def share(self, c, w_for_pos, w_for_neg):
        """x⁺_i Σ_j w_for_pos_ij c_j + x⁻_i Σ_j w_for_neg_ij c_j."""
        layer, xp, shape = self.layer, self.xp, self.shape
        out = None
        if w_for_pos is not None:
            out = layer.input_share(c, w_for_pos, self.xpos, xp)
        if self.xneg is not None and w_for_neg is not None:
            part = layer.input_share(c, w_for_neg, self.xneg, xp)
            out = part if out is None else add_into(out, part, xp)  # out is a fresh share
        if out is None:  # no contribution has this sign (e.g. z⁻ of sum pooling after a ReLU)
            out = xp.zeros((c.shape[0],) + tuple(shape), dtype=c.dtype)
        return out

    def has_negative(self) -> bool:
        """Whether any z⁻ term exists (none for a pool of weights ≥ 0 after a ReLU)."""
        return self.wn is not None or self.xneg is not None

    def positive_sum(self):
        return self.sum(self.wp, self.wn)

    def positive_sum_from(self, z, plus=None):
        """z⁺ = Σ x⁺w⁺ + x⁻w⁻ (+ ``plus``, one per output channel) from the layer's output
        ``z`` and one product instead of two: x⁺w⁺ + x⁻w⁻ = (x·w + |x|·|w|) / 2, where x·w
        is the forward pass's z less its bias.

        Returns (z⁺, loose). The identity is exact, but where z⁺ is a small part of |x|·|w|
        + |b| (below the dtype's MAGNITUDE_MARGIN of it) the subtraction cancels digits: ``loose``
        marks those neurons (None when there are none), for the rule to redo with
        ``positive_sum`` if any relevance reaches them. A dense or pointwise layer sums them
        from their own inputs at once (ROW_MAGNITUDE_MARGIN; loose is then None). None where
        this way does not apply: inputs of one sign, no output, float32 except in rows, a
        toolbox normaliser, a GPU, or a small layer (MAGNITUDE_MIN_SIZE).
        """
        layer, xp = self.layer, self.xp
        rows = None if xp is not np else layer.rows_of(self.x)
        margin = None if z is None else (MAGNITUDE_MARGIN if rows is None else
                                         ROW_MAGNITUDE_MARGIN).get(z.dtype)
        if (self.xneg is None or margin is None or layer.lrp_divisor != 1 or xp is not np
                or z.size < MAGNITUDE_MIN_SIZE):
            return None
        magnitude = layer.fmap(xp.abs(self.x), layer.variant("abs", xp, z.dtype), xp)
        bias = layer.device_bias(xp, z.dtype)
        if rows is not None:  # loose neurons summed from their inputs right away
            return compiled().positive_half_exact(z, bias, plus, magnitude, margin, rows,
                                                  self.wp, self.wn), None
        out, loose = compiled().positive_half(z, bias, plus, magnitude, margin)
        if not loose:
            return out, None
        half = out if plus is None else out - plus
        if bias is not None:  # z holds x·w only to the digits of the larger of x·w and b
            magnitude += xp.abs(bias)
        return out, (half < margin * magnitude) | ~(magnitude < np.inf)

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

    name: ClassVar[str] = "flat"
    summary: ClassVar[str] = "flat rule: equal shares over each neuron's receptive field"
    formula: ClassVar[str] = "R_i = Σ_j R_j / (number of inputs of j)"
    reference: ClassVar[str] = "Lapuschkin et al. (2019), Nat. Commun. 10: 1096"
    # zennit's numerics (graph models): each count stabilised by 1e-6, as its Flat divides
    literature: bool = field(default=False, compare=False)

    def linear(self, layer, x, z, R, ctx):
        xp = ctx.xp
        ones = layer.variant("ones", xp, ctx.dtype, make=_ones_like)
        plus = LITERATURE_STABILIZER if self.literature else 0.0  # zennit zeroes the bias
        if ctx.inside is None:
            return layer.tmap(R / (layer.fan_in() + plus), ones, x.shape[1:], xp)
        # a padded input: only the real inputs of each receptive field share
        return _masked_share(layer, ones, R, x, ctx, plus)

    def maxpool(self, layer, x, y, R, ctx):
        return layer.uniform_relevance(x, R, ctx.xp, ctx.inside)


def _ones_like(w):
    return np.ones_like(w)


def _masked_share(layer, w, R, x, ctx, plus=0.0):
    """R spread in proportion to ``w`` over the real inputs (``ctx.inside``) of each neuron,
    whose sum gains ``plus`` (zennit's stabiliser, and squared bias for w²); a neuron that sees
    only the padded border keeps its relevance there (it is dropped)."""
    xp = ctx.xp
    total = layer.fmap(ctx.inside, w, xp) + plus
    out = layer.tmap(R / xp.where(total > 0, total, 1), w, x.shape[1:], xp)
    out *= ctx.inside
    return out


@dataclass(frozen=True)
class WSquare(Rule):
    """w²-rule: shares proportional to the squared weights, inputs ignored."""

    name: ClassVar[str] = "ww"
    aliases: ClassVar[tuple[str, ...]] = ("w^2", "wsquare")
    summary: ClassVar[str] = "w²-rule: shares by the squared weights, inputs ignored"
    formula: ClassVar[str] = "R_i = Σ_j w_ij² R_j / Σ_i w_ij²"
    reference: ClassVar[str] = "Montavon et al. (2017), Pattern Recognit. 65: 211–222"
    # zennit's numerics (graph models): it squares every parameter, so b² joins each sum,
    # and stabilises by 1e-6
    literature: bool = field(default=False, compare=False)

    def linear(self, layer, x, z, R, ctx):
        xp = ctx.xp
        sq = layer.variant("sq", xp, ctx.dtype)
        plus = _squared_bias(layer, ctx) + LITERATURE_STABILIZER if self.literature else 0.0
        if ctx.inside is None:  # a pruned neuron (all its weights 0) passes nothing, not 0/0
            total = layer.colsum(sq, xp) + plus
            divisor = xp.where(total > 0, total, 1).astype(R.dtype, copy=False)
            return layer.tmap(R / divisor, sq, x.shape[1:], xp)
        return _masked_share(layer, sq, R, x, ctx, plus)  # a padded input: real inputs only

    def maxpool(self, layer, x, y, R, ctx):
        return layer.uniform_relevance(x, R, ctx.xp, ctx.inside)


def _squared_bias(layer, ctx):
    b = layer.device_bias(ctx.xp, ctx.dtype)
    return 0.0 if b is None else b * b


@dataclass(frozen=True)
class ZPlus(Rule):
    """z⁺-rule: only positive contributions x⁺w⁺ + x⁻w⁻ (and b⁺) take part."""

    name: ClassVar[str] = "zplus"
    aliases: ClassVar[tuple[str, ...]] = ("z+",)
    summary: ClassVar[str] = "z⁺-rule: positive contributions only (stabiliser 1e-6)"
    formula: ClassVar[str] = "R_i = Σ_j z⁺_ij R_j / (Σ_i z⁺_ij + b⁺_j)"
    reference: ClassVar[str] = "Montavon et al. (2017), Pattern Recognit. 65: 211–222"

    def linear(self, layer, x, z, R, ctx):
        plus = None if layer.device_bias(ctx.xp, ctx.dtype) is None else \
            _bias_part(layer, ctx, "pos")
        if _block_by_block(layer, x, R, ctx):
            wp = layer.variant("pos", np, ctx.dtype)
            wn = layer.variant("neg", np, ctx.dtype) if layer.has_negative_weights else None
            return layer.through_rows(x, R, lambda rows, R_rows, per_sample: compiled().zplus_rows(
                rows, wp, wn, plus, R_rows, LITERATURE_STABILIZER, per_sample))
        split = SignSplit(layer, x, ctx)
        found = split.positive_sum_from(z, plus)
        if found is not None and (found[1] is None or not bool(ctx.xp.any(R[found[1]] != 0))):
            denominator = found[0]
        else:  # two products: inputs of one sign, float32, or cancelled digits that count
            denominator = _plus_bias_part(split.positive_sum(), layer, ctx, "pos")
        return split.positive_share(epsilon_share(R, denominator, LITERATURE_STABILIZER, ctx.xp))


# A rule parameter above this is the likely cause of relevance or denominators that are not
# finite: α, β, γ multiply relevance or weights at every layer (α = 10⁶ overflows float32
# through LeNet-5), and an ε beyond float32's range is infinite there. Below it, a division by
# zero or the data is the cause.
OVERFLOW_PARAMETER = 1e3


# A layer whose sample makes at least this many rows of a matrix product (a pointwise or
# window-matrix convolution over a large map), with at least as many outputs as inputs per row,
# runs the z⁺ rule block by block (``cpu_kernels.zplus_rows``): its rows × outputs arrays, the
# largest, would not stay in cache. Below it they do, and too few blocks leave a core idle;
# with fewer outputs than inputs, the blocks' copies of the inputs cost what they save.
# Measured on EfficientNet-Lite0's layers in float32: the stem and the expansion at 112×112
# 28–30% faster, those at 56×56 17%; 5–40% slower at 28×28 and below, and a projection at
# 56×56 25% slower.
BLOCK_ROWS = 2048


def _block_by_block(layer, x, R, ctx) -> bool:
    rows = layer.rows_per_sample(x.shape[1:]) if ctx.xp is np else None
    return (rows is not None and rows >= BLOCK_ROWS and R.shape[-1] >= layer.fan_in()
            and R.dtype == x.dtype
            and x.dtype in (np.float32, np.float64) and layer.lrp_divisor == 1
            and cpu_kernels_fit(np, R))


def check_denominators(rule, name, xp, *denominators) -> None:
    """Refuse denominators that overflowed, in one error naming the rule and its parameter
    ``name`` when that is large: an infinite denominator sends nothing back (R / inf = 0), so
    γ = 1e308 in float64 gave an all-zero heatmap and exit 0 instead of an error."""
    if all(bool(xp.isfinite(z).all()) for z in denominators):
        return
    dtype = np.dtype(denominators[0].dtype).name
    value = getattr(rule, name)
    if abs(value) > OVERFLOW_PARAMETER:
        param = next(p for p in rule.params if p.name == name)
        raise RuleError(f"{param.called(rule.name)} = {value:g} is too large: "
                        f"the rule's denominators overflowed {dtype}; choose a smaller {name}")
    raise RuleError(f"{rule.spec()}: the rule's denominators are not finite in {dtype} (the "
                    "layer's inputs are too large for it)")


def check_overflow(rule, xp, R, x, out):
    """``out``, the relevance a layer's rule sent back from ``R`` over inputs ``x``, refused
    when it is not finite though ``R`` and ``x`` are, naming the rule and the magnitudes:
    relevance near 1e300 in float64 over the αβ-rule's stabiliser (1e-16, where a neuron has
    no contribution of one sign) became ±inf, then NaN, reported as 'a division by zero'.
    Relevance or inputs already not finite, and a huge parameter (α = 1e308), are left to the
    check that names that cause (Forward.check_finite)."""
    if bool(xp.isfinite(out).all()) or not (bool(xp.isfinite(R).all())
                                            and bool(xp.isfinite(x).all())):
        return out
    values = [getattr(rule, p.name) for p in rule.params]
    if any(isinstance(v, float) and abs(v) > OVERFLOW_PARAMETER for v in values):
        return out
    dtype = np.dtype(R.dtype)
    top_r, top_x = float(xp.max(xp.abs(R))), float(xp.max(xp.abs(x)))
    raise RuleError(f"{rule.spec()}: the numbers overflow {dtype.name} (beyond "
                    f"{np.finfo(dtype).max:.3g}): relevance up to {top_r:.3g} and inputs up to "
                    f"{top_x:.3g} are too large for the rule's divisions; "
                    + _overflow_advice(dtype))


def _overflow_advice(dtype) -> str:
    """What helps when a rule overflowed ``dtype``: a wider type where there is one (a model
    whose activations grow to 1e30 — random weights, a deep plain network — is explained in
    float64 as it is), else smaller samples."""
    if dtype.itemsize < 8:
        return ("explain in float64 (--dtype float64; dtype=numpy.float64 in Python), whose "
                "range holds them, or scale the samples down")
    return "scale the samples down"


@dataclass(frozen=True)
class Gamma(Rule):
    """γ-rule: positive contributions boosted by γ, split by the sign of each neuron's z."""

    gamma: float = 0.25
    name: ClassVar[str] = "gamma"
    params: ClassVar[tuple[Parameter, ...]] = (Parameter(
        "gamma", "γ", 0.25, minimum=0.0,
        help="boost of the positive contributions (0: the z-rule with stabiliser 1e-6)",
        sweep=(0.0, 0.1, 0.25, 0.5, 1.0)),)
    summary: ClassVar[str] = "γ-rule: positive contributions boosted by γ (stabiliser 1e-6)"
    formula: ClassVar[str] = "R_i = Σ_j x_i (w_ij + γ·w⁺_ij) R_j / Σ_i x_i (w_ij + γ·w⁺_ij)"
    reference: ClassVar[str] = "Montavon et al. (2019), LRP: an overview, LNCS 11700: 193–209"

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
        check_denominators(self, "gamma", xp, z_up, z_down)
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
    name: ClassVar[str] = "zb"
    aliases: ClassVar[tuple[str, ...]] = ("zbox",)
    params: ClassVar[tuple[Parameter, ...]] = (
        Parameter("low", "low", None, derived="the model's input range",
                  help="lowest input value (default: the model's input range)"),
        Parameter("high", "high", None, derived="the model's input range",
                  help="highest input value (default: the model's input range)"),
    )
    arities: ClassVar[tuple[int, ...]] = (0, 2)
    summary: ClassVar[str] = "zᴮ-rule for inputs bounded by [low, high] (first layer)"
    formula: ClassVar[str] = "R_i = Σ_j (x_i w_ij − l_i w⁺_ij − h_i w⁻_ij) R_j / " \
        "Σ_i (x_i w_ij − l_i w⁺_ij − h_i w⁻_ij)"
    reference: ClassVar[str] = "Montavon et al. (2017), Pattern Recognit. 65: 211–222"

    def value(self, name, input_range=None):
        value = getattr(self, name)
        if value is None and input_range is not None:
            return float(input_range[0] if name == "low" else input_range[1])
        return value

    def validate(self):
        if (self.low is None) != (self.high is None):
            raise RuleError("zb needs both bounds (zb:LOW:HIGH) or neither (zb)")
        if self.low is not None and not self.low < self.high:
            raise RuleError(f"zb bounds must satisfy low < high, got {self.low:g} and "
                            f"{self.high:g}")

    def bounds(self, ctx):
        if self.low is not None:
            return self.low, self.high
        if ctx.input_range is None:
            raise RuleError("zb without bounds needs a model whose input range is known; "
                            "give the bounds as zb:LOW:HIGH")
        return ctx.input_range

    def linear(self, layer, x, z, R, ctx):
        xp, dt = ctx.xp, ctx.dtype
        low, high = _bounds_for_inputs(*self.bounds(ctx), x.shape[-1])
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


def _bounds_for_inputs(low, high, channels):
    """Per-channel bounds (a colour model's input range) for a layer whose inputs are not those
    channels (a dense layer reading the flattened image) become the range over all channels,
    as a one-channel model's range applies everywhere: they did not broadcast (internal
    error)."""
    if getattr(low, "ndim", 0) and low.shape[-1] not in (1, channels):
        return float(low.min()), float(high.max())
    return low, high


@dataclass(frozen=True)
class Gradient(Rule):
    """The layer's plain gradient: relevance goes back through its transposed map unnormalised,
    what zennit's autograd computes where no rule is attached — a functional pool
    (``F.adaptive_avg_pool2d``, ``x.mean([2, 3])``, ``F.avg_pool2d``: an equal share 1/k per
    window entry, a padded entry's share lost), a functional ``F.linear``/``F.conv2d``."""

    name: ClassVar[str] = "gradient"
    aliases: ClassVar[tuple[str, ...]] = ("grad",)
    summary: ClassVar[str] = ("the layer's gradient, unnormalised (zennit where no rule is "
                              "attached: a functional average pool)")
    formula: ClassVar[str] = "R_i = Σ_j w_ij R_j"
    reference: ClassVar[str] = "zennit 0.5.1: autograd where no rule is hooked"

    def linear(self, layer, x, z, R, ctx):
        return layer.gradient(x, z, R, ctx.xp, ctx.dtype)

    def maxpool(self, layer, x, y, R, ctx):
        return layer.gradient(x, y, R, ctx.xp, ctx.dtype)


# --------------------------------------------------------------------------------------------
# Spec parsing
# --------------------------------------------------------------------------------------------

RULES: dict[str, type[Rule]] = {}
_ALIASES: dict[str, str] = {}
RULE_NAMES = RULES.keys()  # a live view: rules registered later (e.g. by plug-ins) appear


def register_rule(cls: type[Rule]) -> type[Rule]:
    """Add a rule class to the registry under its name and aliases (a class decorator)."""
    keys = [cls.name, *cls.aliases]
    taken = [k for k in keys if k.lower() in RULES or k.lower() in _ALIASES]
    if taken:
        raise ValueError(f"rule name {taken[0]!r} is registered already")
    fields = [f.name for f in dataclasses.fields(cls) if f.init]
    if [p.name for p in cls.params] != fields[:len(cls.params)]:
        raise ValueError(f"{cls.__name__}.params must name its first fields in order")
    RULES[cls.name.lower()] = cls
    _ALIASES.update({a.lower(): cls.name.lower() for a in cls.aliases})
    return cls


for _cls in (Simple, Epsilon, AlphaBeta, Flat, WSquare, ZBox, Gamma, ZPlus, Gradient):
    register_rule(_cls)  # in the order menus and ``lrp rules`` list them


def rule_class(name: str) -> type[Rule]:
    """The registered rule class for a name or alias (case-insensitive)."""
    key = str(name).strip().lower()
    cls = RULES.get(_ALIASES.get(key, key))
    if cls is None:
        from .presets import find_preset  # noqa: PLC0415 (presets import this module)

        preset = find_preset(key)
        if preset is not None:  # reached with parameters: 'EpsilonPlus:3' said "unknown rule"
            raise RuleError(f"preset {preset.name} takes no parameters: its rules keep their "
                            "defaults; give a layer another rule or parameter with --layer-rule "
                            "(e.g. 'conv*=gamma:0.5'; the explorer's per-layer rules)")
        from .insight.baselines import baseline_name  # noqa: PLC0415 (imports this module)

        baseline = baseline_name(key)
        if baseline is not None:  # lrp evaluate and Compare take it beside rules: not here
            raise RuleError(f"{name!r} is a gradient baseline, not an LRP rule: 'lrp evaluate' "
                            "and the explorer's Compare take it beside rules (in Python "
                            f"lrpcore.insight.{BASELINE_FUNCTIONS[baseline]}); choose one of "
                            f"{', '.join(RULE_NAMES)} or a preset (see 'lrp rules')")
        close = closest_rule_name(key)
        hint = f" (did you mean {close}?)" if close else ""
        raise RuleError(f"unknown rule {name!r}{hint}: choose one of {', '.join(RULE_NAMES)} "
                        "or a preset (see 'lrp rules')")
    return cls


def closest_rule_name(name: str) -> str | None:
    """The rule or preset a mistyped name most likely meant (``EpsilonPlsu``: EpsilonPlus),
    spelled as ``lrp rules`` lists it; None when none is close. The list of every name told
    a user who typed one letter wrong only that it was not among them."""
    from .presets import PRESETS  # noqa: PLC0415 (presets import this module)

    return closest_name(name, [*RULE_NAMES, *PRESETS])


# the Python function of each gradient baseline, named where a rule spec names one
BASELINE_FUNCTIONS = {"sensitivity": "sensitivity", "gradxinput": "gradient_x_input"}


def parse_rule(spec) -> Rule:
    """Turn a spec such as ``"epsilon:0.01"`` into a :class:`Rule` (rules only, no presets).

    A bare name takes the defaults (``alphabeta`` is α = 2, β = 1); each parameter is checked
    against its :class:`Parameter` range, with a one-line RuleError naming it.
    """
    if isinstance(spec, Rule):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise RuleError(f"a rule spec must be a non-empty string, got {spec!r}")
    head, *args = spec.strip().split(":")
    if not args and head.strip().lower() not in RULES:
        from .presets import find_preset  # noqa: PLC0415 (presets import this module)

        preset = find_preset(head)
        if preset is not None:  # was "preset EpsilonPlus takes no parameters", none given
            raise RuleError(f"{preset.name} is a preset (a rule per layer), not one rule: give "
                            f"it as the rule of a whole explanation (rule={preset.name!r}, "
                            f"--rule {preset.name}); lrpcore.PRESETS[{preset.name!r}] holds it")
    return rule_class(head).from_args(args, spec.strip())
