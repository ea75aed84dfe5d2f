"""Can I trust this heatmap? A diagnosis of relevance conservation, layer by layer.

LRP is built to pass on, at every layer, the relevance it receives (Bach et al., 2015;
Montavon et al., 2019, "Layer-wise relevance propagation: an overview", sec. 10.2). When a
layer creates or destroys a noticeable part of it, or the magnitudes explode, the heatmap
says more about the rule than about the model. This module finds the layer where that happens
and names the likely cause from a registry (:data:`CAUSES`, filled by :func:`register_cause`),
so that a warning points at what to change (e.g. "αβ at a sum pool after a ReLU multiplies
relevance by α").

It reads a relevance trace (``Forward.relevance(..., trace=True)``: ``per_layer[k]`` is the
relevance at the input of layer/node k, ``per_layer[-1]`` the initial relevance) and works in
batches: :class:`Accumulator` collects per-sample sums (a few numbers per layer, on the host),
so that ``lrp explain`` over a whole dataset keeps nothing else. For graph models the nodes are
in topological order; each node's change is what it received at its output against what it
passed to its inputs (a tensor read by several nodes collects from all of them), and the total
at the input is the relevance crossing the cut there (:func:`.conservation.cut_sums`): a skip
branch carries part of it, so no single node's sum is the total.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..rules import AlphaBeta, Epsilon, Gamma, Gradient, Simple, ZBox, ZPlus
from ..text import elide_middle
from .conservation import cut_sums

# A layer is flagged when its ΣR changes by more than CHANGE_TOL of what arrived (or of the
# explained output, whichever is larger: small sums do not make ratios explode) ...
CHANGE_TOL = 0.10
# ... or when Σ|R| at its input exceeds BLOWUP times |f(x)| and the layer itself grew it
# by more than BLOWUP_STEP: "|R| far above the output".
BLOWUP = 25.0
BLOWUP_STEP = 2.0
# In a batch, a layer is reported when at least this fraction of the samples (and at least one)
# shows the problem, so one odd sample among thousands does not alarm anybody.
MIN_FRACTION = 0.05
# Layers described in full per cause in a warning; the rest are listed by number.
LISTED = 4
# ΣR arriving at a layer below this fraction of the explained output counts as zero: a
# change there has nothing to be measured against.
ZERO_SUM = 1e-3

# "flipped": ΣR leaves the layer with the other sign (×−1.1 is no absorption: more was
# taken than arrived)
KINDS = ("nonfinite", "blowup", "flipped", "created", "absorbed")
SUM_KINDS = ("flipped", "created", "absorbed")  # a change of the sum, not of its size
# findings of the rules against the model alone, before any sample (:func:`rule_findings`):
# "bounds": zB's bounds do not contain what its layer reads
BEFORE_KINDS = ("bounds",)


@dataclass(frozen=True)
class Site:
    """What a cause may look at: one flagged layer of one rule configuration."""

    layer_index: int
    layer: object
    rule: object  # the rule of this layer (None: relevance passes through)
    kind: str  # one of KINDS
    factor: float  # median ΣR at the input / ΣR at the output over the flagged samples
    input_nonnegative: bool | None  # whether the layer's input was ≥ 0 (after a ReLU)
    z_scale: float | None  # median |output| of the layer (its pre-activations), if known
    # median |ΣR arriving| / |f(x)| over the flagged samples, and whether a gradient layer
    # (role "gradient": a final LogSoftmax) lies between this layer and the output
    arriving: float = 1.0
    after_gradient: bool = False
    # whether a functional average pool (layers.mark_functional: zennit's gradient) reads it
    feeds_gradient_pool: bool = False
    # median Σ|R| at the layer's input / Σ|R| of the explained output's relevance (not its
    # sum): a blow-up "against the output" is only its sum cancelling when this is small
    against_output_abs: float | None = None
    output_spread: float = 1.0  # median Σ|R| / |ΣR| of the explained output's relevance


@dataclass(frozen=True)
class Cause:
    """A known reason for a conservation problem: when it applies and what to say.
    ``expected(site)``: whether the change is the rule's own, documented numerics rather
    than something to act on (reported, never warned about)."""

    key: str
    applies: Callable[[Site], bool]
    text: Callable[[Site], str]
    expected: Callable[[Site], bool] = lambda _site: False


CAUSES: list[Cause] = []


def register_cause(key: str, text: Callable[[Site], str], expected=None):
    """Decorator: register ``applies(site) -> bool`` as a cause; earlier ones win."""
    def deco(fn):
        CAUSES.append(Cause(key, fn, text, expected or (lambda _site: False)))
        return fn
    return deco


def _alpha(rule) -> float | None:
    return rule.alpha if isinstance(rule, AlphaBeta) else None


def _eps(rule) -> float | None:
    if isinstance(rule, Simple):
        return 0.0
    return rule.epsilon if isinstance(rule, Epsilon) else None


@register_cause("zero-denominator", lambda s: (
    f"a zero denominator: {s.rule.spec() if s.rule else 'the rule'} divides by z = 0; use a "
    "stabiliser ε > 0 (e.g. epsilon:0.01) or z⁺"))
def _zero_denominator(s: Site) -> bool:
    return s.kind == "nonfinite"


@register_cause("cancelling-output", lambda s: (
    f"the explained relevance cancels itself (its Σ|R| is {s.output_spread:.3g}× |ΣR|: scores of "
    "both signs, as target output explains), so |R| is large against its sum; against its "
    f"Σ|R| this layer's is {s.against_output_abs:.3g}×, under a blow-up's {BLOWUP:g}×: explain "
    "one class (target pred or a class number) for a sum that does not cancel"))
def _cancelling_output(s: Site) -> bool:
    """Before any rule's cause: a |R| that is no larger than the output's own |R| was not made
    large by the rule ("a tiny ε" was said of a random classifier's cancelling output sum)."""
    return (s.kind == "blowup" and s.against_output_abs is not None
            and s.against_output_abs <= BLOWUP)


@register_cause("alphabeta-sumpool", lambda s: (
    f"αβ (α = {s.rule.alpha:g}) at a sum pool after a ReLU multiplies relevance by α: every "
    "contribution is positive, β has nothing to take; use ε or z⁺ for pooling (as the "
    "EpsilonAlpha2Beta1 preset does)"))
def _alphabeta_sumpool(s: Site) -> bool:
    a = _alpha(s.rule)
    return (a is not None and a != 1 and s.kind in SUM_KINDS + ("blowup",)
            and not getattr(s.layer, "has_negative_weights", True)
            and s.input_nonnegative is not False)


@register_cause("alphabeta-unbalanced", lambda s: (
    f"αβ with α − β = {s.rule.alpha - s.rule.value('beta'):g} (α = {s.rule.alpha:g}, β = "
    f"{s.rule.value('beta'):g}) multiplies the relevance of every neuron with contributions of "
    "both signs by α − β: αβ conserves only with α − β = 1 (alphabeta:2 is α2β1, alphabeta:1 "
    "is z⁺)"))
def _alphabeta_unbalanced(s: Site) -> bool:
    """β set apart from α (``alphabeta:2:3``) so that α − β ≠ 1: the rule scales relevance by
    design; "conserves only where a neuron has both signs" pointed at the data instead."""
    a = _alpha(s.rule)
    return (a is not None and abs(a - s.rule.value("beta") - 1.0) > 1e-9
            and s.kind in SUM_KINDS + ("blowup",))


@register_cause("alphabeta-one-sign", lambda s: (
    f"αβ (α = {s.rule.alpha:g}, β = {s.rule.value('beta'):g}) conserves only where a neuron "
    "has both positive and negative contributions; here many have one sign only; use "
    "alphabeta:1 (z⁺) or γ"))
def _alphabeta_one_sign(s: Site) -> bool:
    a = _alpha(s.rule)
    return a is not None and a != 1 and s.kind in SUM_KINDS + ("blowup",)


@register_cause("tiny-epsilon", lambda s: (
    f"a tiny ε ({_eps(s.rule):g}) on near-zero denominators: relevance divided by almost 0 "
    "explodes; use a larger ε (e.g. epsilon:0.1), z⁺ or γ"))
def _tiny_epsilon(s: Site) -> bool:
    eps = _eps(s.rule)
    if eps is None or s.kind != "blowup":
        return False
    return s.z_scale is None or eps < 0.01 * max(s.z_scale, 1e-300)


@register_cause("large-epsilon", lambda s: (
    f"ε = {_eps(s.rule):g} is large against this layer's outputs (median |z| ≈ "
    f"{s.z_scale:.3g}): the stabiliser absorbs relevance; use a smaller ε"))
def _large_epsilon(s: Site) -> bool:
    eps = _eps(s.rule)
    return (eps is not None and s.kind == "absorbed" and s.z_scale is not None
            and eps > 0.1 * s.z_scale)


@register_cause("tiny-outputs", lambda s: (
    f"this layer's outputs (median |z| ≈ {s.z_scale:.2g}) are as small as the rule's "
    "stabiliser (1e-6 for z⁺, γ and the presets), which absorbs the relevance: the explained "
    "output is almost 0"))
def _tiny_outputs(s: Site) -> bool:
    return s.kind == "absorbed" and s.z_scale is not None and s.z_scale < 1e-4


_BIAS_VERBS = {"created": "give relevance", "absorbed": "take relevance",
               "flipped": "take more relevance than arrives, which turns its sign"}


def _bias_text(s: Site) -> str:
    verb = _BIAS_VERBS.get(s.kind, "take relevance")
    if isinstance(s.rule, (ZPlus, Gamma, AlphaBeta)):  # b⁺ (and b⁻) are in their denominators
        return (f"the layer's positive biases {verb} ({s.rule.spec()} counts them in "
                "its denominator, as zennit does): expected where biases are large against "
                "the contributions")
    return (f"the layer's biases {verb} ({s.rule.spec() if s.rule else 'this rule'} "
            "conserves only without bias); z⁺, γ or αβ ignore negative biases")


def _bias_sink(s: Site) -> bool:
    """z⁺ can only lose relevance, and only to what its denominator adds to the positive
    contributions: the positive biases and the stabiliser (zennit's ZPlus, and the toolbox's
    alphabeta:1, count b⁺). On EfficientNet-Lite0 under EpsilonPlus its depthwise convolutions
    keep 30–45 % of what arrives, in every photograph: the rule's definition, not a leak."""
    rule = s.rule
    zplus = isinstance(rule, ZPlus) or (isinstance(rule, AlphaBeta) and rule.alpha == 1
                                        and rule.value("beta") == 0)
    b = getattr(s.layer, "B", None)
    return (zplus and s.kind == "absorbed" and 0 <= s.factor <= 1  # kept a part, same sign
            and b is not None and bool(np.any(np.asarray(b) > 0)))


@register_cause("after-gradient-layer", lambda s: (
    "the relevance arriving here sums to zero (the gradient layer nearer the output), so what "
    "this layer adds or takes (its biases' share) is all of its ΣR: a consequence of that "
    "layer, not of this one's rule"), expected=lambda s: True)
def _after_gradient_layer(s: Site) -> bool:
    """Below a LogSoftmax the bias share of the last dense layer read 'ΣR ×1.62e+06
    (created)', a warning beside the note that explains it."""
    return s.kind in SUM_KINDS and s.after_gradient and s.arriving < ZERO_SUM


@register_cause("gradient-rule", lambda s: (
    "the gradient rule sends relevance back unnormalised (R_i = Σ_j w_ij R_j): it conserves "
    "only where each output's weights sum to 1 (an average pool, where zennit takes it); on "
    "other layers it is no LRP rule, and with activations passing relevance on unchanged the "
    "whole model's map is not its gradient either: for gradient baselines use sensitivity or "
    "gradxinput (Compare, lrp evaluate)"))
def _gradient_rule(s: Site) -> bool:
    """``--rule gradient`` on LeNet-5 blamed the biases ("gradient conserves only without
    bias") and, at the sum pools, found no cause at all."""
    return (isinstance(s.rule, Gradient) and s.kind in SUM_KINDS + ("blowup",)
            and not s.feeds_gradient_pool)


@register_cause("bias", _bias_text, expected=_bias_sink)
def _bias(s: Site) -> bool:
    b = getattr(s.layer, "B", None)
    return (s.kind in SUM_KINDS and b is not None
            and bool(np.any(np.asarray(b) != 0)))


@register_cause("padded-gradient-pool", lambda s: (
    "the padding of a functional average pool (F.avg_pool2d with padding, counted in the "
    "average) takes its share of every window, as zennit's gradient there gives it: lost at "
    "the border by design"), expected=lambda s: True)
def _padded_gradient_pool(s: Site) -> bool:
    return s.kind == "absorbed" and s.feeds_gradient_pool


@register_cause("normalisation", lambda s: (
    "{} passes relevance as its gradient, as zennit's autograd does (LRP has no rule for a "
    "division by the sample's own statistics): that gradient sums to zero over {}, so the "
    "relevance it passes is not conserved by design").format(*s.layer.statistics()),
    expected=lambda s: True)
def _normalisation(s: Site) -> bool:
    return getattr(s.layer, "normalises", False)


@register_cause("gradient-layer", lambda s: (
    "relevance passes this layer as its gradient, as zennit does where it has no rule: not "
    "conserved by design (a final Softmax's or LogSoftmax's gradient sums to zero per sample: "
    "explain the logits for a conserving explanation; a Scale, arithmetic in the model's forward, "
    "multiplies it by its scale)"), expected=lambda s: True)
def _gradient_layer(s: Site) -> bool:
    return getattr(s.layer, "role", None) == "gradient"


@register_cause("gate", lambda s: (
    "a gate (a map times one value per channel computed from it: squeeze-and-excitation; or "
    "times a sigmoid's one-channel map: an attention gate) passes relevance as its gradient, as "
    "zennit's autograd does: R·s to the map and the sum of R·x to the gate's branch, which is "
    "not conserved by design"), expected=lambda s: True)
def _gate(s: Site) -> bool:
    return getattr(s.layer, "passes_gradient", False)


@register_cause("unknown", lambda s: (
    "cause not recognised; look at the layer's rule in the Conservation panel"))
def _unknown(s: Site) -> bool:
    return True


def find_cause(site: Site) -> Cause:
    return next(c for c in CAUSES if c.applies(site))


@dataclass(frozen=True)
class Finding:
    """A layer that breaks conservation in ``samples`` of ``n`` samples."""

    layer: int
    description: str
    kind: str
    factor: float  # median ΣR in / ΣR out over the flagged samples
    magnitude: float  # median Σ|R| at the layer's input / |f(x)| over the flagged samples
    samples: int
    n: int
    cause: str
    reason: str
    expected: bool = False  # the rule's own numerics (Cause.expected): reported, not warned
    detail: str = ""  # what a finding of the model alone (BEFORE_KINDS) found, in words

    def text(self) -> str:
        if self.kind in BEFORE_KINDS:
            return f"layer {self.layer} ({self.description}): {self.detail}"
        what = {"nonfinite": "relevance becomes NaN/infinite",
                "blowup": f"|R| blows up to {self.magnitude:.3g}× the output",
                "created": f"ΣR ×{self.factor:.3g} (created)",
                "absorbed": f"ΣR ×{self.factor:.3g} (absorbed)",
                "flipped": f"ΣR ×{self.factor:.3g} (sign flipped)"}[self.kind]
        share = "" if self.n == 1 else f" in {self.samples}/{self.n} samples"
        return f"layer {self.layer} ({self.description}): {what}{share}"

    def to_dict(self) -> dict:
        return {"layer": self.layer, "layer_description": self.description, "kind": self.kind,
                "factor": _json_float(self.factor), "magnitude": _json_float(self.magnitude),
                "samples": self.samples, "n": self.n, "cause": self.cause,
                "reason": self.reason, "expected": self.expected,
                **({"detail": self.detail} if self.detail else {})}


@dataclass(frozen=True)
class Diagnosis:
    """Findings of one rule configuration over ``n`` samples (empty: relevance conserved)."""

    rule: str
    n: int
    total_ratio: float  # median ΣR across the cut at the input / explained output
    findings: tuple = field(default_factory=tuple)
    # changes the rule itself makes by definition (z⁺'s positive biases): not warned about
    expected: tuple = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def total_changed(self) -> bool:
        """Whether ΣR at the input departs from the explained output by more than CHANGE_TOL
        (the expected changes then explain a sum the user sees, even without a warning)."""
        return math.isfinite(self.total_ratio) and abs(self.total_ratio - 1) > CHANGE_TOL

    @property
    def layer(self) -> int | None:
        """The layer to look at first (the flagged layer nearest the output)."""
        return self.findings[0].layer if self.findings else None

    def groups(self) -> list[tuple[str, list[Finding]]]:
        """Findings grouped by cause, in flow order (output first), each with the reason given
        for its first layer."""
        out: dict[str, list[Finding]] = {}
        for f in self.findings:
            out.setdefault(f.cause, []).append(f)
        return [(found[0].reason, found) for found in out.values()]

    def warnings(self) -> list[str]:
        """The overall sum, then one line per cause: where, what, why."""
        if self.ok:
            return []
        lines = []
        conserved = not self.total_changed and all(f.kind in BEFORE_KINDS
                                                   for f in self.findings)
        if math.isfinite(self.total_ratio) and conserved:  # only zB's bounds are wrong
            lines.append(f"{self.rule}: the rule does not fit the model's inputs (ΣR at the "
                         f"input is {self.total_ratio:.3g}× the explained output, median of "
                         f"{self.n})")
        elif math.isfinite(self.total_ratio):
            flip = ", its sign flipped" if self.total_ratio < 0 else ""
            lines.append(f"{self.rule}: relevance is not conserved: ΣR at the input is "
                         f"{self.total_ratio:.3g}× the explained output{flip} (median of "
                         f"{self.n})")
        for reason, found in self.groups():
            where = "; ".join(f.text() for f in found[:LISTED])
            if len(found) > LISTED:  # EfficientNet's ε: 25 layers filled the panel and stderr
                rest = found[LISTED:]
                where += (f"; and {len(rest)} more layer{'s' if len(rest) > 1 else ''} ("
                          + ", ".join(str(f.layer) for f in rest) + ")")
            lines.append(f"{where} — {reason}")
        return lines

    def notes(self) -> list[str]:
        """What the rule changes by its own definition (:attr:`expected`), one line per cause:
        shown beside the per-layer sums, never as a warning."""
        out: dict[str, list[Finding]] = {}
        for f in self.expected:
            out.setdefault(f.reason, []).append(f)
        return [f"expected: layer{'s' * (len(found) > 1)} "
                f"{', '.join(str(f.layer) for f in found)}: {reason}"
                for reason, found in out.items()]

    def total_note(self) -> str:
        """The overall sum where only expected changes moved it (no warning line gives it);
        '' otherwise."""
        if not (self.ok and self.expected and self.total_changed):
            return ""
        return (f"{self.rule}: ΣR at the input is {self.total_ratio:.3g}× the explained output "
                f"(median of {self.n}), by design:")

    def summary(self) -> str:
        """A short line for a status bar ('' when nothing is wrong)."""
        if self.ok:
            return ""
        reason, found = self.groups()[0]
        layers = ", ".join(str(f.layer) for f in found)
        total = ("" if not math.isfinite(self.total_ratio)
                 else f"ΣR = {self.total_ratio:.3g}× f(x); ")
        more = "" if len(self.groups()) == 1 else f" (+{len(self.groups()) - 1} more)"
        return (f"⚠ {total}layer{'s' if len(found) > 1 else ''} {layers}: "
                f"{reason.split(';')[0]}{more}")

    @classmethod
    def from_dict(cls, d: dict) -> Diagnosis:
        """Back from :meth:`to_dict` (a sidecar's or a relevance store's ``diagnosis``)."""
        def finding(f):
            return Finding(f["layer"], f["layer_description"], f["kind"], _float(f["factor"]),
                           _float(f["magnitude"]), f["samples"], f["n"], f["cause"],
                           f["reason"], bool(f.get("expected", False)),
                           str(f.get("detail", "")))

        return cls(d["rule"], d["samples"], _float(d["sum_ratio"]),
                   tuple(finding(f) for f in d["findings"]),
                   tuple(finding(f) for f in d.get("expected", ())))

    def to_dict(self) -> dict:
        return {"ok": self.ok, "rule": self.rule, "samples": self.n,
                "sum_ratio": _json_float(self.total_ratio),
                "thresholds": {"change": CHANGE_TOL, "blowup": BLOWUP,
                               "min_fraction": MIN_FRACTION},
                "warnings": self.warnings(),
                "findings": [f.to_dict() for f in self.findings],
                "expected": [f.to_dict() for f in self.expected]}


def rule_findings(explainer, config) -> tuple[Finding, ...]:
    """What the rules get wrong on the model alone, before any sample: zB on the first linear
    layer with bounds that do not contain what that layer reads (a model that normalises its
    input inside, where zB's default bounds are the input's range as given, as zennit takes
    them): the bounds to give it instead, as ``--layer-rule`` takes them."""
    if not any(isinstance(rule, ZBox) for rule in config.rules):
        return ()  # (every click is diagnosed: no look at the model without a zB)
    reads = explainer.first_layer_range()
    if reads is None:
        return ()
    k = reads.layer
    rule = config.rules[k]
    if not isinstance(rule, ZBox):
        return ()
    given = rule.low is not None
    bounds = (rule.low, rule.high) if given else explainer.input_range
    if bounds is None:
        return ()
    low, high = (np.asarray(v, dtype=np.float64) for v in bounds)
    r_low, r_high = reads.low, reads.high
    tol = 1e-5 * max(1.0, float(np.max(high - low)))  # float32 rounding of the same bounds
    if not (np.any(r_low < low - tol) or np.any(r_high > high + tol)):
        return ()
    from ..explain import layer_names  # noqa: PLC0415 (explain imports rules; keep it light)

    name = layer_names(explainer.layers)[k]
    lo, hi = _round_out(float(np.min(r_low)), up=False), _round_out(float(np.max(r_high)),
                                                                    up=True)
    spec = f"zb:{lo}:{hi}"
    whose = "" if given else " (the input's range as given, as zennit takes it)"
    widest = "" if np.ptp(r_low) == 0 and np.ptp(r_high) == 0 else \
        ", the widest over its channels"
    reads = f"[{_g(r_low.min())}, {_g(r_high.max())}]"
    if given:
        detail = f"its inputs lie in {reads}, outside zB's bounds [{_g(low.min())}, " \
                 f"{_g(high.max())}]"
    else:  # said as a mapping: a wrong input range (0…255 pixels read as 0…1) shows there
        detail = (f"the model maps its input's range [{_g(low.min())}, {_g(high.max())}] (the "
                  f"input specification's; a sidecar's \"value_range\" if the samples span "
                  f"another) to {reads} before this layer, outside zB's bounds{whose}")
    reason = ("the model normalises its input before this layer, so zB's bounds are not what "
              f"it reads; give it its inputs' bounds{widest}: --layer-rule "
              f"{shlex.quote(f'{name}={spec}')} (in the explorer: {spec} in that layer's row)")
    return (Finding(k, _describe(explainer.layers, k, getattr(explainer.layers, "names", None)),
                    "bounds", math.nan, math.nan, 1, 1, "zb-bounds", reason, detail=detail),)


def _round_out(v: float, up: bool) -> str:
    """``v`` to 6 significant digits, rounded away from the range it bounds (low down, high
    up), so that the bounds written contain every input."""
    if v == 0 or not math.isfinite(v):
        return f"{v:g}"
    step = 10.0 ** (math.floor(math.log10(abs(v))) - 5)
    return f"{(math.ceil if up else math.floor)(v / step) * step:.6g}"


def _g(v) -> str:
    return f"{float(v):.4g}"


def _json_float(v: float):
    return float(v) if math.isfinite(v) else None


def _float(v) -> float:
    return math.nan if v is None else float(v)


class Accumulator:
    """Per-sample relevance sums of a rule configuration, batch after batch.

    ``layers`` are the explained layers (``Explainer.layers``), ``config`` the
    :class:`~lrpcore.explain.RuleConfig`. ``add(per_layer, activations)`` takes a trace (numpy
    or cupy) and, optionally, layer inputs of the forward pass (:func:`sample_activations`:
    they tell whether a layer's input was non-negative and how large its outputs are; a part
    of the batch is enough).
    """

    def __init__(self, layers, config, found=()):
        self.found = tuple(found)  # :func:`rule_findings`, given first in the result
        self.layers = list(layers)
        self.sources = getattr(layers, "sources", None)  # a graph's: who writes each input
        self.names = getattr(layers, "names", None)  # a graph's node names, for the warnings
        self.config = config
        self._sums: list[np.ndarray] = []
        self._input_cut: list[np.ndarray] = []  # per sample: ΣR across the cut at the input
        self._abs: list[np.ndarray] = []
        self._finite: list[np.ndarray] = []
        self._nonneg = [True] * len(self.layers)
        self._zs: list[list[float]] = [[] for _ in self.layers]
        self._have_acts = False

    def add(self, per_layer, activations=None, xp=np) -> None:
        if len(per_layer) != len(self.layers) + 1:
            raise ValueError(f"a trace of {len(per_layer)} arrays for {len(self.layers)} layers")
        for part in getattr(per_layer, "shards", None) or [per_layer]:  # a batch's shards
            self._add_sums(part, xp)                                    # one by one
        if activations is not None:
            self._add_activations(activations, xp)

    def _add_sums(self, per_layer, xp) -> None:
        # what each layer received at its output: the next entry of a chain's trace; a graph's
        # trace lists it (a tensor read by several nodes collects from all of them)
        received = getattr(per_layer, "outputs", None)
        arrays = list(per_layer) + (list(received) if received is not None else [])
        s, a = [], []
        seen = {}  # id of an array -> its sums: activations pass the same array on
        with np.errstate(all="ignore"):
            for r in arrays:  # two passes per array: this runs after every batch
                if id(r) not in seen:  # (``arrays`` keeps every array alive: ids are unique)
                    flat = r.reshape(r.shape[0], -1)
                    seen[id(r)] = (_host(flat.sum(axis=1, dtype=np.float64)),
                                   _host(xp.abs(flat).sum(axis=1, dtype=np.float64)))
                s.append(seen[id(r)][0])
                a.append(seen[id(r)][1])
        sums, mags = np.stack(s, axis=1), np.stack(a, axis=1)
        fin = np.isfinite(mags)  # Σ|R| is finite exactly when every value is
        self._sums.append(np.where(fin, sums, 0.0))
        self._input_cut.append(self._cut_at_input(per_layer, self._sums[-1]))
        self._abs.append(np.where(fin, mags, 0.0))
        self._finite.append(fin)

    def _cut_at_input(self, per_layer, sums) -> np.ndarray:
        """ΣR across the cut at the model's input per sample: in a graph the input's readers
        and every skip branch over them (a chain: the first layer's input sum)."""
        L = len(self.layers)
        if getattr(per_layer, "outputs", None) is None or self.sources is None:
            return sums[:, 0]
        branches = getattr(per_layer, "branches", None) or [None] * L
        split = [None if b is None else _host(b).astype(np.float64).reshape(sums.shape[0], -1)
                 for b in branches]
        for k in range(L):  # a merge nothing flowed back through has no split
            if split[k] is None and len(self.sources[k]) > 1:
                split[k] = np.zeros((sums.shape[0], len(self.sources[k])))
        return cut_sums([sums[:, k] for k in range(L + 1)], split, self.sources)[:, 0]

    def _add_activations(self, activations, xp) -> None:
        self._have_acts = True
        inputs = getattr(activations, "inputs", None)
        for k in range(len(self.layers)):  # fetch only what is asked: a graph model
            if self._nonneg[k]:                # recomputes some tensors on access
                x = activations[k] if inputs is None else inputs[k]
                self._nonneg[k] = bool(_host(x.min()) >= 0)
            if self.layers[k].linear_map and len(self._zs[k]) < Z_BATCHES:
                self._zs[k].append(_median_abs(activations[k + 1], xp))

    def state(self) -> dict:
        """What :meth:`merge` needs (per-sample sums: small and picklable), so that the
        accumulators of Dask workers add up on the client."""
        return {"sums": list(self._sums), "abs": list(self._abs), "finite": list(self._finite),
                "input_cut": list(self._input_cut),
                "nonneg": list(self._nonneg), "zs": [list(z) for z in self._zs],
                "have_acts": self._have_acts}

    def merge(self, state: dict) -> None:
        """Add another accumulator's :meth:`state` (same layers and rules) to this one."""
        self._sums += state["sums"]
        self._input_cut += state["input_cut"]
        self._abs += state["abs"]
        self._finite += state["finite"]
        if state["have_acts"]:
            self._have_acts = True
            self._nonneg = [a and b for a, b in zip(self._nonneg, state["nonneg"], strict=True)]
            for mine, more in zip(self._zs, state["zs"], strict=True):
                mine.extend(more[:max(0, Z_BATCHES - len(mine))])

    @classmethod
    def of(cls, explainer, config) -> Accumulator:
        """The accumulator of ``explainer``'s layers, with what its rules get wrong before any
        sample (:func:`rule_findings`)."""
        return cls(explainer.layers, config, rule_findings(explainer, config))

    def result(self) -> Diagnosis:
        if not self._sums:
            return Diagnosis(self.config.description, 0, math.nan, self.found)
        sums = np.concatenate(self._sums)
        mags = np.concatenate(self._abs)
        fin = np.concatenate(self._finite)
        found = _diagnose(sums, mags, fin, self.layers, self.config,
                          self._nonneg if self._have_acts else None,
                          [float(np.median(z)) if z else None for z in self._zs],
                          np.concatenate(self._input_cut), self.names, self.sources)
        # the cause first: a zB whose bounds miss its inputs explains the layers flagged after
        return replace(found, findings=self.found + found.findings)


Z_BATCHES = 4  # batches whose outputs give a layer's typical |z| (enough for a scale)
Z_VALUES = 4096  # values per batch the median is taken over (an even subsample: a scale)


def _median_abs(z, xp) -> float:
    flat = z.reshape(-1)
    step = max(1, flat.size // Z_VALUES)
    return float(_host(xp.median(xp.abs(flat[::step]))))


def _host(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


def _diagnose(sums, mags, fin, layers, config, nonneg, zs, input_cut=None,
              names=None, sources=None) -> Diagnosis:
    """``input_cut``: ΣR across the cut at the input per sample (default: layer 0's input);
    ``names``: a graph's node names, given in the warnings; ``sources``: a graph's, for each
    layer the layers writing its inputs."""
    n, L = sums.shape[0], len(layers)
    input_cut = sums[:, 0] if input_cut is None else input_cut
    f = sums[:, L]
    absf = np.abs(f)
    tiny = 1e-12 * np.maximum(absf.max(initial=0.0), 1e-300)
    with np.errstate(all="ignore"):
        total = np.median(input_cut / np.where(absf > tiny, f, np.nan)) if n else math.nan
    need = max(1, math.ceil(MIN_FRACTION * n))
    seen = np.zeros(n, dtype=bool)  # samples already blamed on a layer nearer the output
    gradient_at = [k for k in range(L) if getattr(layers[k], "role", None) == "gradient"]
    sources = sources or [()] * L
    gradient_pool_inputs = {i for j in range(L) if getattr(layers[j], "functional", False)
                            and getattr(layers[j], "role", None) == "linear"
                            for i in sources[j]}
    findings, notes = [], []
    graph = sums.shape[1] > L + 1  # outputs listed after the trace (see Accumulator.add)
    for k in range(L - 1, -1, -1):
        o = L + 1 + k if graph else k + 1
        out_s, in_s = sums[:, o], sums[:, k]
        scale = np.maximum(np.maximum(np.abs(out_s), absf), tiny)
        # created/absorbed in the direction of the relevance arriving: explaining an output
        # below zero, a sum moving towards 0 lost relevance, it did not gain any
        sign = np.where(out_s != 0, np.sign(out_s), np.where(f != 0, np.sign(f), 1.0))
        # sums near 1e300 (--raw inputs that large) overflow the products: inf keeps the
        # sign each test reads, and numpy's warning was printed after a finished explanation
        with np.errstate(all="ignore"):
            change = (in_s - out_s) * sign / scale
            grow = mags[:, k] / np.maximum(mags[:, o], tiny)
            mag = mags[:, k] / np.maximum(absf, tiny)
            flags = {
                "nonfinite": fin[:, o] & ~fin[:, k],
                "blowup": fin[:, k] & (mag > BLOWUP) & (grow > BLOWUP_STEP) & ~seen,
                "flipped": fin[:, k] & (in_s * out_s < 0) & (np.abs(in_s) / scale > CHANGE_TOL),
                "created": fin[:, k] & (change > CHANGE_TOL),
                "absorbed": fin[:, k] & (change < -CHANGE_TOL),
            }
        for kind in KINDS:
            hit = flags[kind]
            count = int(hit.sum())
            if count < need:
                continue
            if kind in SUM_KINDS and flags["blowup"].sum() >= need:
                continue  # the blow-up is the story; its sum change is a consequence
            with np.errstate(all="ignore"):
                factor = float(np.median(in_s[hit] / np.where(out_s[hit] != 0, out_s[hit],
                                                               np.nan)))
                magnitude = float(np.median(mag[hit]))
                arriving = float(np.median(np.abs(out_s[hit]) / np.maximum(absf[hit], tiny)))
                against = float(np.median(mags[hit, k] / np.maximum(mags[hit, L], tiny[()])))
                spread = float(np.median(mags[hit, L] / np.maximum(absf[hit], tiny)))
            layer = layers[k]
            site = Site(k, layer, config.rules[k], kind, factor,
                        None if nonneg is None else nonneg[k], zs[k], arriving,
                        any(g > k for g in gradient_at), k in gradient_pool_inputs,
                        against, spread)
            cause = find_cause(site)
            expected = cause.expected(site)
            (notes if expected else findings).append(
                Finding(k, _describe(layers, k, names), kind, factor, magnitude, count, n,
                        cause.key, cause.text(site), expected))
            if kind == "blowup":
                seen |= hit
            break  # one finding per layer: the most severe kind
    return Diagnosis(config.description, n, float(total), tuple(findings), tuple(notes))


def _describe(layers, k, names=None) -> str:
    """A layer as a warning names it; a graph node by its name too, since the 112 nodes of an
    EfficientNet are found by name (``lrp info``, ``--layer-rule``), not by index."""
    what = layers[k].describe()
    return f"{what}, node {elide_middle(names[k])}" if names else what


def sample_activations(forward) -> list:
    """Layer inputs of a part of a forward pass's batch (its first shard), without joining the
    shards: the causes only need their signs and typical sizes."""
    return forward.shards[0]


def diagnose_trace(per_layer, layers, config, activations=None, xp=np,
                   found=()) -> Diagnosis:
    """The diagnosis of one trace (``Forward.relevance(..., trace=True)[1]``); ``found``:
    :func:`rule_findings` of its explainer."""
    acc = Accumulator(layers, config, found)
    acc.add(per_layer, activations, xp)
    return acc.result()


def diagnose(forward, rule=None, target="pred", labels=None, layer_rules=None) -> Diagnosis:
    """Explain the samples of ``forward`` with a trace and diagnose it."""
    from ..explain import resolve_rules  # noqa: PLC0415 (explain imports rules; keep it light)

    ex = forward.explainer
    config = rule if hasattr(rule, "rules") else resolve_rules(ex.layers, rule, layer_rules)
    _, trace = forward.relevance(config, target, labels=labels, trace=True, to_numpy=False)
    return diagnose_trace(trace, ex.layers, config, sample_activations(forward),
                          forward.backend.xp, rule_findings(ex, config))
