"""Explaining: one cached forward pass, any number of (rules, target) backward passes.

``Explainer(model).forward(x)`` runs the model once and keeps every layer's input on the
device; ``Forward.relevance(rule, target)`` then propagates relevance without recomputing the
forward pass, which is what the toolbox's ``lrp_aware`` mode buys, at the memory cost of the
activations only (never a batch × inputs × outputs tensor).
"""

from __future__ import annotations

import inspect
import math
import os
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from .backend import Backend, get_backend, get_dtype
from .errors import ModelFormatError, NonFiniteSample, RuleError, ShapeError
from .graph import TOOLBOX, match_layer_key, node_label
from .io.sidecar import guessed_size_hint
from .kernels import class_relevance
from .layers import Pad
from .map_targets import map_mask, predicted_classes, region_box
from .model import chain_layer_names
from .parallel import MIN_SHARD, PASS_BYTES, cpu_count, run_sharded, shard_bounds, shard_count
from .presets import preset_or_none
from .rules import OVERFLOW_PARAMETER, Gradient, ZBox, parse_rule
from .targets import count_mismatch, resolve_classes
from .text import is_digits, short
from .user_input import as_samples, warn_if_not_raw

DEFAULT_RULE = "simple"  # the toolbox's default when no rule is given


# The parameters ``Forward.relevance`` and ``explain`` share, documented once (numpydoc).
_RULE_TARGET_LAYER_RULES = '''\
rule : str, optional
    A rule spec (``"epsilon:0.01"``, ``"alphabeta:2"``) or a preset
    (``"EpsilonGammaBox"``; ``lrp rules`` lists them). Default: the model's kind's rule,
    as ``lrp explain`` takes it (``simple`` for toolbox models, ``EpsilonPlus`` for graph
    models; see :func:`lrpcore.default_settings` for the explorer's).
target : str, int or array, default "pred"
    ``"pred"`` (the predicted class), ``"true"`` (needs ``labels``), a class index, a
    class name (``"Egyptian cat"``; any case, or its first whole words), one class per
    sample (N indices or names), or ``"output"`` (the whole output vector, the
    toolbox's ``nn.lrp(y)``).
layer_rules : dict, optional
    Per-layer overrides ``{key: spec}`` (or a list of ``(key, spec)`` pairs; where two
    keys name one layer the later wins); a key is a layer index (``lrp info`` lists
    them) or, for graph models, a node name, a glob of names or a PyTorch module path
    (``{"layer1.*": "zplus"}``), as ``--layer-rule`` takes them.
'''

# What a target means on a segmentation model's map, and its box (numpydoc, documented once).
_MAP_TARGET_REGION = '''\
region : tuple, optional
    For a model whose output is a map (a segmentation model, N×H×W×K as the engine
    computes it): ``(y0, y1, x0, x1)``, rows y0:y1 and columns x0:x1 of the map, to which
    the target's pixels are narrowed (``pred``: the class at the most pixels there). On a
    map a class target starts at its channel where it is the pixel's argmax, zero
    elsewhere (output × mask); ``output`` is the whole map; ``true`` is refused.
'''


def _documents_rule_target_layer_rules(func):
    """``func`` with its docstring's ``{rule_target_layer_rules}`` line (and a
    ``{map_target_region}`` line) replaced by the shared text, indented as that line is (as
    it is under ``python -OO``, which drops docstrings)."""
    if not func.__doc__:
        return func
    for key, text in (("{rule_target_layer_rules}", _RULE_TARGET_LAYER_RULES),
                      ("{map_target_region}", _MAP_TARGET_REGION)):
        line = next((x for x in func.__doc__.splitlines() if key in x), None)
        if line is None:
            continue
        indent = line[:len(line) - len(line.lstrip())]
        func.__doc__ = func.__doc__.replace(line, textwrap.indent(text, indent).rstrip("\n"))
    return func


@dataclass(frozen=True)
class Context:
    """What a rule needs besides the layer: array module, dtype, input range of the model."""

    xp: object
    dtype: object
    input_range: tuple | None
    # 1 over real inputs, 0 over a Pad's constant border, when the layer's input is padded
    inside: object = None


@dataclass(frozen=True)
class LayerInputRange:
    """The range the first linear layer (``layer``) reads when the model's input spans its
    range, per channel (``low``, ``high``): other than that range where the model normalises
    inside (an input BatchNorm, ``(x − mean) / std`` in ``forward``, a Keras Rescaling),
    which zB's default bounds, the input's range as given, then do not contain."""

    layer: int
    low: np.ndarray
    high: np.ndarray



def largest_parameter(rules):
    """(rule, Parameter, value) of the largest parameter magnitude above OVERFLOW_PARAMETER
    among ``rules`` (None entries skipped); None when there is none."""
    best = None
    for rule in rules:
        for param in getattr(rule, "params", ()):
            value = getattr(rule, param.name, None)
            if isinstance(value, float) and abs(value) > OVERFLOW_PARAMETER and (
                    best is None or abs(value) > abs(best[2])):
                best = (rule, param, value)
    return best


def vanishing_parameter(rules, dtype):
    """(rule, Parameter, value) of a positive parameter among ``rules`` that is 0 in
    ``dtype`` (epsilon:1e-50 in float32: a stabiliser that stabilises nothing); or None."""
    for rule in rules:
        for param in getattr(rule, "params", ()):
            value = getattr(rule, param.name, None)
            if isinstance(value, float) and value > 0 and np.dtype(dtype).type(value) == 0:
                return rule, param, value
    return None


def _parameter_words(rule, param, value) -> str:
    """"epsilon's ε = 1e-50": a rule parameter as messages name it."""
    return f"{param.called(rule.name)} = {value:g}"


@dataclass(frozen=True)
class RuleConfig:
    """A rule for every layer index of a model (None = relevance passes through)."""

    rules: tuple
    description: str

    def spec_of(self, i: int) -> str | None:
        rule = self.rules[i]
        return None if rule is None else rule.spec()


GRADIENT = Gradient()
RULE_ROLES = ("linear", "maxpool")  # what a rule spec or preset acts on (merges: by name)


def _takes_rule(layer) -> bool:
    return layer.role in RULE_ROLES or layer.role == "merge"


def layer_names(layers) -> list[str]:
    """The name of each analysis layer: a graph's node names, a chain's ``convolution0``,
    ``rect1``, ... (:func:`lrpcore.model.chain_layer_names`): what 'lrp info' and the
    explorer's rule table show and per-layer rule keys take."""
    names = getattr(layers, "names", None)
    return list(names) if names is not None else chain_layer_names(layers)


def layer_labels(layers) -> list[str]:
    """:func:`layer_names` as tables and lists show them: with the module path recorded for a
    ``dynamo=True`` export's node (:func:`lrpcore.graph.node_label`)."""
    return [node_label(name, getattr(layer, "module_path", None))
            for name, layer in zip(layer_names(layers), layers, strict=True)]


def layer_indices(layers, key) -> list[int]:
    """Layers a per-layer rule key names: an index (−1 the last), a layer's name or a glob — a
    graph's node names (and module paths), a chain's ``convolution0``, ``rect1``, ... as
    'lrp info' shows them (:func:`layer_names`)."""
    names = layer_names(layers)
    hits = match_layer_key(key, names, layers)
    index = isinstance(key, (int, np.integer)) or is_digits(str(key).strip())
    if index and -len(layers) <= hits[0] < 0:  # counted from the end, as Python's -1
        hits = [hits[0] + len(layers)]
    # a glob: the layers of it that take rules (an index is range-checked by the caller)
    if not index and (len(hits) > 1 or names[hits[0]] != key):
        hits = [i for i in hits if layers[i].role in RULE_ROLES]
        if not hits:
            raise RuleError(f"no layer that takes a rule matches {key!r} (a glob names "
                            "linear and pooling layers; a merge only by its exact name "
                            "or index)")
    return hits


def reads_model_input(layers, i) -> bool:
    """Whether layer ``i`` sees the model's input, through layout changes, pads and input
    affines at most (``layers.sources`` for a graph; the layer before, for a chain)."""
    sources = getattr(layers, "sources", None)
    todo, seen = list(sources[i] if sources is not None else (i - 1,)), set()
    while todo:
        k = todo.pop()
        if k < 0:
            return True
        layer = layers[k]
        if k not in seen and (layer.role == "reshape" or getattr(layer, "unruled_pass", False)):
            seen.add(k)
            todo.extend(sources[k] if sources is not None else (k - 1,))
    return False


def _zb_problem(layers, i, rule) -> str | None:
    """zB without bounds takes the model's input range, meant for the first layer: on a hidden
    layer (e.g. ``--layer-rule '*=zb'``) it would bound that layer's inputs by the input's
    range, without a word. Explicit bounds (zb:LOW:HIGH) are the user's choice."""
    if isinstance(rule, ZBox) and rule.low is None and not reads_model_input(layers, i):
        return ("zb without bounds takes the model's input range and is meant for the first "
                "layer; this layer does not read the model's input (give it zb:LOW:HIGH, or "
                "put zb on the first layer only)")
    return None


def _refuse_zb_everywhere(layers, chosen) -> None:
    """``--rule zb`` (zB without bounds as the rule of the whole model) put zB, bounded by the
    input's range, on every hidden linear layer too: refused with the remedies, as
    ``'*=zb'`` is, unless each linear layer it reaches reads the model's input (a one-layer
    model) or a per-layer rule replaced it there."""
    hidden = [i for i, r in chosen.items() if isinstance(r, ZBox) and r.low is None
              and layers[i].role == "linear" and not reads_model_input(layers, i)]
    if not hidden:
        return
    names = layer_names(layers)
    k = next((i for i in sorted(chosen) if layers[i].role == "linear"
              and reads_model_input(layers, i)), 0)
    h = hidden[0]
    other = getattr(layers, "convention", TOOLBOX).rule  # the model's own starting rule
    raise RuleError(f"zb without bounds is meant for the layer that reads the model's input "
                    f"(layer {k}, {names[k]}); as the rule of the whole model it would also "
                    f"bound layer {h} ({names[h]}) and the other hidden layers by the input's "
                    f"range: give zb to that layer alone with another rule elsewhere (--rule "
                    f"{other} --layer-rule {k}=zb; in Python rule={other!r}, "
                    f"layer_rules={{{k}: 'zb'}}; or zb in its row of the explorer's per-layer "
                    "rules), or choose the preset EpsilonGammaBox")


def resolve_rules(layers, rule=None, layer_rules=None) -> RuleConfig:
    """Expand a rule spec or preset plus per-layer overrides into one rule per layer.

    Overrides apply in their order, as repeated ``--layer-rule`` options do: where two keys
    name one layer (``0=flat`` and the glob ``conv*=zplus``) the later wins, so their order
    is kept wherever they are passed on (never sorted).

    Graph models (whose ``layers`` carry node names and a convention) keep zennit's Norm at
    merges and mean pools under a plain rule spec, and compute αβ with its stabiliser.
    Without ``rule`` a model starts from its convention's (EpsilonPlus for graph models, the
    toolbox's ``simple`` for chains), as ``lrp explain`` does."""
    convention = getattr(layers, "convention", TOOLBOX)
    if rule is None:
        rule = convention.command_rule or DEFAULT_RULE
    preset = preset_or_none(rule)
    if preset is not None:
        chosen = preset.rules_for(layers)
        base = preset.name
    else:
        r = parse_rule(rule)
        chosen = {i: r for i, layer in enumerate(layers) if layer.role in RULE_ROLES
                  and not getattr(layer, "unruled_pass", False)}
        if convention.norm is not None:
            chosen.update({i: convention.norm for i, layer in enumerate(layers)
                           if getattr(layer, "norm_role", False)})
        base = r.spec()
    # a functional average pool (a PyTorch export's F.adaptive_avg_pool2d, x.mean): zennit
    # hooks no module there and takes the gradient (layers.mark_functional)
    chosen.update({i: GRADIENT for i, layer in enumerate(layers)
                   if getattr(layer, "functional", False) and layer.role in RULE_ROLES})
    overrides = {}  # {layer: spec} as finally applied (a later key replaces an earlier's)
    for key, spec in _layer_rule_items(layer_rules):
        for i in layer_indices(layers, key):
            if not 0 <= i < len(layers):
                raise RuleError(f"layer {i} does not exist or is not explained: LRP sees layers "
                                f"0..{len(layers) - 1}, or -{len(layers)}..-1 counted from the "
                                "end (a final SoftMax, if any, is dropped)")
            layer = layers[i]
            if not _takes_rule(layer):
                how = "back as its gradient (as zennit, which has no rule there)" \
                    if layer.role == "gradient" else "through unchanged"
                raise RuleError(f"layer {i} ({layer.describe()}) passes relevance {how} and "
                                "takes no rule; choose a Linear, Convolution or pooling layer"
                                f"{_nearest_ruled(layers, i)}")
            if preset_or_none(spec) is not None:
                raise RuleError(f"layer {i}: a preset ({spec}) cannot be assigned to one layer")
            chosen[i] = parse_rule(spec)
            problem = layer.rule_problem(chosen[i]) or _zb_problem(layers, i, chosen[i])
            if problem:
                name = f" {layers.names[i]!r}" if getattr(layers, "names", None) else ""
                raise RuleError(f"layer {i}{name} ({layer.describe()}): {problem}")
            overrides.pop(i, None)
            overrides[i] = chosen[i].spec()
    if preset is None:
        _refuse_zb_everywhere(layers, chosen)
    rules = tuple(None if chosen.get(i) is None else convention.adapt(chosen.get(i))
                  for i in range(len(layers)))
    desc = base + (" with " + ", ".join(f"{i}={s}" for i, s in overrides.items())
                   if overrides else "")
    return RuleConfig(rules, desc)


def _layer_rule_items(layer_rules) -> list:
    """``layer_rules`` as (key, spec) pairs in their order: a dict, or pairs as a list (the
    order repeated ``--layer-rule`` options have). Anything else ended in "AttributeError:
    'str' object has no attribute 'items'"."""
    if layer_rules is None:
        return []
    if isinstance(layer_rules, Mapping):
        return list(layer_rules.items())
    if not isinstance(layer_rules, (str, bytes)):
        try:
            pairs = [p if isinstance(p, (str, bytes)) else tuple(p) for p in layer_rules]
        except TypeError:
            pairs = None
        if pairs is not None and all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
            return pairs
    raise RuleError(f"layer_rules: got {layer_rules!r}; give a dict {{layer: rule}} such as "
                    "{0: 'flat', 'conv*': 'zplus'}, or (layer, rule) pairs")


def _nearest_ruled(layers, i) -> str:
    """" (the nearest: layer 2, '/conv1/Conv')" for a key naming a layer that takes no rule:
    an ONNX graph's layer 0 is its channels-last step and each padded Conv's Pad comes first,
    so ``--layer-rule 0=flat`` named no convolution and the error did not say which does."""
    near = sorted((j for j in range(len(layers)) if layers[j].role in RULE_ROLES),
                  key=lambda j: (abs(j - i), j))
    if not near:
        return ""
    names = getattr(layers, "names", None)
    return f" (the nearest: layer {near[0]}" + (f", {names[near[0]]!r})" if names else ")")


def initial_relevance(y, target="pred", labels=None, xp=np, class_names=None, region=None):
    """The relevance put on the output: ``pred`` (output × one-hot of the argmax, as in the
    toolbox demo), ``true`` (needs labels), a class index or name, an array of per-sample
    classes, or ``output`` (the whole output vector, like the toolbox's ``nn.lrp(y)``);
    :func:`lrpcore.targets.resolve_classes` reads the target. On a map output (a
    segmentation model) a class starts at its channel where it is predicted, inside
    ``region`` if given (:mod:`lrpcore.map_targets`)."""
    classes = resolve_classes(y, target, labels, xp, class_names, region)
    if classes is None:
        return y.copy() if region is None else y * region_box(y, region, xp)
    if y.ndim > 2:
        return y * map_mask(y, classes, xp, class_names, region)
    return class_relevance(y, classes, xp)


class Forward:
    """A forward pass kept for explaining: every layer's input and the output.

    On the CPU a large batch is kept as shards (consecutive slices of the batch, one per core)
    that the backward passes process in parallel; ``activations`` joins them on demand.
    """

    def __init__(self, explainer, activations=None, shards=None):
        self.explainer = explainer
        self.shards = shards if shards is not None else [activations]
        self._joined = activations if shards is None else None
        self._output = None

    @property
    def backend(self) -> Backend:
        return self.explainer.backend

    @property
    def activations(self) -> list:
        """[x, a1, ..., aL] on the device, for the whole batch."""
        if self._joined is None:
            xp = self.backend.xp
            self._joined = [xp.concatenate([shard[k] for shard in self.shards])
                            for k in range(len(self.shards[0]))]
        return self._joined

    @property
    def output(self):
        if self._output is None:
            outs = [shard[-1] for shard in self.shards]
            self._output = outs[0] if len(outs) == 1 else self.backend.xp.concatenate(outs)
        return self._output

    def outputs(self) -> np.ndarray:
        """The scores LRP explains (N × classes, before a dropped SoftMax), as numpy."""
        return self.backend.to_numpy(self.output)

    def subset(self, index) -> Forward:
        """The forward pass of samples ``index`` (a slice, or an index array that may repeat
        samples) without a new forward pass: what explaining one sample of a batch, or one
        sample for many classes at once, starts from."""
        return Forward(self.explainer, [a[index] for a in self.activations])

    def predictions(self) -> np.ndarray:
        """The predicted class of each sample (argmax of :meth:`outputs`; of a map, the class
        predicted at the most pixels)."""
        return predicted_classes(self.outputs())

    @_documents_rule_target_layer_rules
    def relevance(self, rule=None, target="pred", layer_rules=None, labels=None,
                  trace=False, to_numpy=True, condition=None, region=None):
        """Relevance at the model input (shape of the fed input), from this forward pass:
        many rules and targets cost one backward pass each, no new forward pass.

        Parameters
        ----------
        {rule_target_layer_rules}
        labels : array, optional
            One class index per sample, for ``target="true"``.
        trace : bool, default False
            Also return the relevance at every layer: ``(R, layers)`` where ``layers[k]`` is
            the relevance at the input of layer k and ``layers[-1]`` the initial relevance.
        to_numpy : bool, default True
            Return numpy arrays; False keeps them on the device (cupy).
        condition : dict, optional
            ``{layer: mask}`` (keys as in ``layer_rules``) multiplies the relevance arriving
            at that layer's output by the mask (per-sample shape) before the layer's own
            step: what concept relevance (CRP) conditions on.
        {map_target_region}
        """
        ex = self.explainer
        config = rule if isinstance(rule, RuleConfig) else resolve_rules(
            ex.layers, rule, layer_rules)
        xp = self.backend.xp
        with np.errstate(all="ignore"):  # outputs that overflowed: reported after propagating
            R = initial_relevance(self.output, target, labels, xp,
                                  lambda: getattr(ex.model, "class_names", None), region)
        return self.propagate(R, config, trace=trace, to_numpy=to_numpy, condition=condition)

    def propagate(self, R, config: RuleConfig, trace=False, to_numpy=True, condition=None):
        """Send the relevance R put on the output back to the input, shard by shard."""
        ex = self.explainer
        xp = self.backend.xp
        R = xp.asarray(R, dtype=ex.dtype)
        bounds, start = [], 0
        for shard in self.shards:
            bounds.append((start, start + shard[0].shape[0]))
            start += shard[0].shape[0]
        jobs = [(shard, a, b) for shard, (a, b) in zip(self.shards, bounds, strict=True)]
        masks = self.explainer.condition_masks(condition, xp)
        parts = run_sharded(
            lambda job: self._propagate_shard(job[0], R[job[1]:job[2]], config, trace, masks),
            jobs)
        per_layer = [None if p[0] is None else p[0] if len(parts) == 1 else xp.concatenate(p)
                     for p in zip(*parts, strict=True)]
        if to_numpy:
            per_layer = [None if r is None else self.backend.to_numpy(r) for r in per_layer]
            self.check_finite(per_layer[0], config)
        return (per_layer[0], per_layer) if trace else per_layer[0]

    def check_finite(self, R, config: RuleConfig) -> None:
        """NaN or infinite relevance is no explanation: say why instead of returning it."""
        if np.isfinite(R).all():
            return
        check_finite_outputs(self.outputs(), self.explainer.dtype, self.explainer.model, self)
        bad = int((~np.isfinite(R.reshape(R.shape[0], -1))).any(axis=1).sum())
        head = (f"{config.description} gives relevance that is not finite for {bad} of "
                f"{R.shape[0]} samples")
        dtype = np.dtype(self.explainer.dtype)
        large = largest_parameter(config.rules)
        if large is not None:
            raise RuleError(f"{head}: {_parameter_words(*large)} is too large, the relevance "
                            f"overflowed {dtype.name}; choose a smaller {large[1].name}")
        tiny = vanishing_parameter(config.rules, dtype)
        if tiny is not None:
            raise RuleError(f"{head}: a division by zero: {_parameter_words(*tiny)} is 0 in "
                            f"{dtype.name}, whose smallest positive number is "
                            f"{np.finfo(dtype).smallest_subnormal:.1e}; choose a larger "
                            f"{tiny[1].name} or float64")
        too_large = parameters_too_large(self.explainer.model, dtype)
        if too_large:  # a float64 file's 1e300 weight: finite outputs, relevance overflowed
            raise RuleError(f"{head}: {too_large}")
        raise RuleError(f"{head}: a division by zero (e.g. epsilon:0 where a layer's outputs "
                        "are 0); choose a rule with a stabiliser > 0")

    def _propagate_shard(self, acts, R, config, trace, masks=None):
        """Relevance at every layer's input for one shard (with ``trace``; else only at the
        model input); the last entry is R itself."""
        ex = self.explainer
        ctx = Context(self.backend.xp, ex.dtype, ex.input_range)
        layer_relevance = [None] * (len(ex.layers) + 1)
        layer_relevance[-1] = R
        with np.errstate(all="ignore"):  # a division by zero is reported by check_finite
            for i in range(len(ex.layers) - 1, -1, -1):
                layer = ex.layers[i]
                if masks and i in masks:
                    R = R * masks[i]
                try:
                    R = self._layer_relevance(i, layer, config.rules[i], acts, R, ctx)
                except RuleError as exc:
                    raise RuleError(f"layer {i} ({layer.describe()}): {exc}") from None
                if trace:
                    layer_relevance[i] = R
        layer_relevance[0] = R
        return layer_relevance

    def _layer_relevance(self, i, layer, rule, acts, R, ctx):
        """Relevance at the input of layer i, given R at its output."""
        x, y = acts[i], acts[i + 1]
        role = layer.role
        if role in RULE_ROLES:
            inside = self.explainer.inside_mask(i, acts)
            layer_ctx = ctx if inside is None else replace(ctx, inside=inside)
            if role == "linear":
                return rule.linear(layer, x, y, R, layer_ctx)
            return rule.maxpool(layer, x, y, R, layer_ctx)
        if role == "reshape":  # Flatten; Pad drops its constant border
            return layer.relevance_back(R, x, ctx.xp)
        if role == "pass":  # activations and SoftMax pass relevance through unchanged
            return R
        if role == "gradient":  # where zennit has no rule (a final LogSoftmax)
            return layer.gradient(x, y, R, ctx.xp, ctx.dtype)
        raise RuleError(f"{layer.describe()} has no LRP role a chain can propagate")


def _flat_as_stored(x, spec):
    """Raw samples of a model that takes flat vectors, as vectors: every dataset reader shows
    a file's N×784 rows as 28×28×1 images, so ``--raw`` in lrp sweep, sanity, spray and
    concepts fed a dense MNIST network 28×28×1 (refused: "takes 784"), while lrp explain and
    evaluate, reading the .npy itself, fed it as stored."""
    if spec is None or len(spec.shape) != 1 or x.ndim <= 2:
        return x
    return x.reshape(x.shape[0], -1) if math.prod(x.shape[1:]) == spec.shape[0] else x


class Explainer:
    """Explains one model on one backend and dtype; parameters are moved to the device once.

    A graph model gets a :class:`lrpcore.graph_explain.GraphExplainer` (same interface).

    Parameters
    ----------
    model : Sequential or GraphModel
        What :func:`lrpcore.load_model` returns.
    backend : {"numpy", "cupy", "auto"}, optional
        Array backend; default (None, "auto"): cupy when a GPU is available, else numpy.
    dtype : {"float64", "float32"}, optional
        Precision; default float64 (the commands and the explorer take float32 for graph
        models: pass it for their results).
    threads : int, optional
        CPU threads a batch is spread over (default: every core), and that one large sample
        of a graph model splits its steps over (``lrpcore.parallel.all_cores``; 1: none);
        a GPU runs it whole.

    Examples
    --------
    >>> fwd = Explainer(model).forward(digits)       # one forward pass
    >>> R = fwd.relevance("epsilon:0.01", target=3)  # one backward pass per call
    """

    def __new__(cls, model=None, *args, **kwargs):
        if cls is Explainer and getattr(model, "is_graph", False):
            from .graph_explain import GraphExplainer

            return super().__new__(GraphExplainer)
        return super().__new__(cls)

    def run_layers(self, a):
        """The explained layers applied to a device array (no checks, nothing kept)."""
        xp = self.backend.xp
        for layer in self.layers:
            a = layer.forward(a, xp)
        return a

    def condition_masks(self, condition, xp) -> dict:
        """{layer index: mask on the device} for ``Forward.relevance(condition=...)``."""
        out = {}
        for key, mask in (condition or {}).items():
            if isinstance(key, str) and not is_digits(key.strip()):  # a name or glob
                hits = match_layer_key(key, chain_layer_names(self.layers))
            else:
                try:
                    hits = [int(key)]
                except (TypeError, ValueError):
                    raise RuleError(f"layer index {key!r} is not an integer") from None
            for k in hits:
                if not 0 <= k < len(self.layers):
                    raise RuleError(f"layer {k} does not exist (0..{len(self.layers) - 1})")
                out[k] = xp.asarray(mask, dtype=self.dtype)
        return out

    def __init__(self, model, backend=None, dtype=None, threads=None):
        if not hasattr(model, "analysis_layers"):  # a name or path: AttributeError deep inside
            shown = repr(os.fspath(model)) if isinstance(model, (str, os.PathLike)) else \
                type(model).__name__
            raise ModelFormatError(f"model: got {shown}; pass what lrpcore.load_model returns "
                                   "(model = lrpcore.load_model(path or bundled name))")
        # -1 or 2.5 threads were taken silently (2.5 as 2, -1 as a nonsense count)
        _check_count("threads", threads, "every core")
        self.model = model
        self.layers = model.analysis_layers()
        self.backend = get_backend(backend)
        self.dtype = get_dtype(dtype)
        spec = model.input_spec
        self.input_range = tuple(spec.value_range) if spec is not None else None
        # CPU threads a batch is spread over (see lrpcore.parallel); a GPU runs it whole
        self.threads = 1 if self.backend.name != "numpy" else int(threads or cpu_count())
        self._inside = {}  # border masks of padded inputs, see inside_mask

    def first_layer_range(self) -> LayerInputRange | None:
        """What the first linear layer reads where the model maps its input before it (None:
        the input's range as it is, as in every chain)."""
        return None

    def inside_mask(self, i, acts):
        """For a layer whose input is a Pad's output (through Rect, Tanh or Flatten): 1 over
        the real input, 0 over the padded border, shaped (1, input of layer i); else None."""
        j = i - 1
        while j >= 0 and self.layers[j].pad_transparent:
            j -= 1
        if j < 0 or not isinstance(self.layers[j], Pad):
            return None
        key = (i, tuple(acts[j].shape[1:]))
        mask = self._inside.get(key)
        if mask is None:
            mask = self.layers[j].inside(acts[j].shape[1:], self.backend.xp, self.dtype)
            mask = mask.reshape((1,) + tuple(acts[i].shape[1:]))
            self._inside[key] = mask
        return mask

    def prepare(self, x, raw=False) -> np.ndarray:
        """Preprocess raw samples (unless ``raw``) and check the batch fits the model."""
        if raw:
            x = np.asarray(x) if not hasattr(x, "__cuda_array_interface__") else x
            if x.ndim < 2:
                raise ShapeError(f"expected a batch of samples, got an array of shape {x.shape}")
            if x.shape[0] == 0:
                raise ShapeError("no samples given")
            # text would fail deep inside, complex lose a part; bool is refused as the
            # preprocessed path (InputSpec.preprocess) and the Dask path's probe refuse it
            if x.dtype.kind not in "iuf":
                raise ShapeError(f"samples must be real numbers, got dtype {x.dtype}")
            x = _flat_as_stored(x, self.model.input_spec)
        else:
            if self.model.input_spec is None:
                raise ShapeError("the model's input format is unknown: pass raw=True (--raw) "
                                 "with inputs in the model's own layout")
            try:
                x = self.model.input_spec.preprocess(x, dtype=self.dtype)
            except NonFiniteSample:
                raise
            except ShapeError as exc:  # data of a size the layers take, not the guessed one
                hint = guessed_size_hint(self.model, np.shape(x)[1:])
                if not hint:
                    raise
                raise ShapeError(f"{exc}{hint}") from None
        self.model.check_input(x)
        return x

    def user_prepare(self, x, raw=False) -> np.ndarray:
        """:meth:`prepare` for ``x`` as a script passed it (:func:`lrpcore.user_input.as_samples`:
        a file name, photographs of different sizes or one sample without its batch axis are
        refused naming ``x``), with a :class:`~lrpcore.errors.RawValuesWarning` when raw
        samples that fit the model do not look raw."""
        given = as_samples(x, self.model.input_spec, raw)
        fed = self.prepare(given, raw)
        if not raw:
            warn_if_not_raw(given, self.model.input_spec, self.dtype)
        return fed

    def device_input(self, x, raw=False):
        """The prepared, finite batch on the device (what every forward pass starts from)."""
        return self.on_device(self.prepare(x, raw))

    def on_device(self, x):
        """:meth:`device_input` of a batch :meth:`prepare` has made already."""
        xp = self.backend.xp
        if isinstance(x, np.ndarray):  # checked on the host: on a GPU a check is a round trip
            # before the cast, which printed numpy's warning for a signalling NaN ('invalid')
            # and for --raw float64 samples beyond float32 ('overflow'; refused as NaN then)
            finite = bool(np.isfinite(x).all())
            narrowed = x.dtype.kind == "f" and x.dtype.itemsize > np.dtype(self.dtype).itemsize
            top = float(np.abs(x).max()) if finite and narrowed and x.size else 0.0
            if top > float(np.finfo(self.dtype).max):
                name = np.dtype(self.dtype).name
                raise ShapeError(f"samples reach {top:.3g}, beyond {name}; use --dtype float64 "
                                 "(dtype='float64' in Python)")
            a = xp.asarray(np.asarray(x, dtype=self.dtype)) if finite else None
        else:
            a = xp.asarray(x, dtype=self.dtype)
            finite = bool(xp.all(xp.isfinite(a)))
        if not finite:  # the one wording of every refusal, numbered in this batch
            NonFiniteSample.check(x if a is None else self.backend.to_numpy(a))
        return a

    def forward(self, x, raw=False) -> Forward:
        """One forward pass over the batch ``x``, kept for :meth:`Forward.relevance`;
        ``raw`` as in :func:`lrpcore.explain`."""
        return self.forward_prepared(self.user_prepare(x, raw))

    def forward_prepared(self, x) -> Forward:
        """:meth:`forward` of a batch :meth:`prepare` has made already: :meth:`explain`'s
        passes were prepared and checked two more times each (a fifth of a digit's click)."""
        a = self.on_device(x)
        n = a.shape[0]
        several = self.threads > 1 and n >= 2 * MIN_SHARD  # else one shard, no budget needed
        sample_bytes = self.sample_bytes(a.shape[1:]) if several else 0
        bounds = shard_bounds(n, shard_count(n, self.threads, sample_bytes))
        shards = run_sharded(lambda ab: self._forward_shard(a[ab[0]:ab[1]]), bounds)
        if len(shards) == 1:
            return Forward(self, shards[0])
        return Forward(self, shards=shards)

    def sample_bytes(self, sample_shape) -> int:
        """Bytes of the activations one sample of the fed shape keeps through the forward
        pass, and of the most a layer holds only while it runs (a dilated convolution's
        gathered phases, as ``GraphExplainer.sample_bytes`` counts them); 0 when the shape
        does not fit the model: the input check reports that."""
        shape, total, working = tuple(sample_shape), int(np.prod(sample_shape)), 0
        try:
            for layer in self.layers:
                if hasattr(layer, "work_values"):
                    working = max(working, layer.work_values(shape))
                shape = layer.output_shape(shape)
                total += int(np.prod(shape))
        except ShapeError:
            return 0
        return (total + working) * self.dtype.itemsize

    def passes(self, fed_shape, batch_size=None) -> list[tuple[int, int]]:
        """(start, stop) of the forward passes that explain a batch of ``fed_shape``:
        ``batch_size`` samples each (the whole batch when None), and on the CPU no more than
        fit PASS_BYTES of activations. A GPU takes the batch as given."""
        n = int(fed_shape[0])
        step = n if not batch_size else max(1, int(batch_size))
        if self.backend.name == "numpy":
            per_sample = self.sample_bytes(fed_shape[1:])
            if per_sample:
                step = min(step, max(self.min_pass_samples, PASS_BYTES // per_sample))
        return [(start, min(n, start + step)) for start in range(0, n, max(1, step))]

    min_pass_samples = 1  # graph models: one per CPU thread, so large samples still shard

    def _forward_shard(self, a) -> list:
        xp = self.backend.xp
        acts = [a]
        with np.errstate(all="ignore"):  # an overflow is reported by Forward.check_finite
            for layer in self.layers:
                a = layer.forward(a, xp)
                acts.append(a)
        return acts

    def explain(self, x, rule=None, target="pred", layer_rules=None, labels=None, raw=False,
                batch_size=None, region=None):
        """Relevance for the batch ``x``, in passes of at most ``batch_size`` samples (see
        ``passes``); ``rule``, ``target``, ``layer_rules``, ``labels``, ``raw`` and
        ``region`` as in :func:`lrpcore.explain`."""
        config = resolve_rules(self.layers, rule, layer_rules)
        _check_batch_size(batch_size)
        x = self.user_prepare(x, raw)
        n = x.shape[0]
        out = None
        for start, stop in self.passes(x.shape, batch_size):
            fwd = self.forward_prepared(x[start:stop])
            lab = None if labels is None else _slice_labels(labels, start, stop, n)
            tgt = _slice_labels(target, start, stop, n, "target classes") \
                if _is_per_sample(target) else target
            r = fwd.relevance(config, tgt, labels=lab, region=region)
            if out is None:
                out = np.empty((n,) + r.shape[1:], dtype=r.dtype)
            out[start:stop] = r
        return out


# help(Explainer) and inspect showed __new__'s (model=None, *args, **kwargs)
Explainer.__signature__ = inspect.signature(Explainer.__init__).replace(
    parameters=list(inspect.signature(Explainer.__init__).parameters.values())[1:])


def as_explainer(model_or_explainer, backend=None, dtype=None) -> Explainer:
    """An :class:`Explainer` as given, or one of the model given (``backend`` and ``dtype`` as
    in :func:`explain`): the tools that take either (spray, relmax, sweeps, pixel-flipping)
    accept both alike; ``spray(model, ...)`` was "'Sequential' object has no attribute
    'model'"."""
    if isinstance(model_or_explainer, Explainer):
        return model_or_explainer
    return Explainer(model_or_explainer, backend, dtype)


def host_trace(trace, backend):
    """A trace (``relevance(..., trace=True)[1]``) copied to the host, keeping what a graph's
    trace carries besides the list (the relevance each node received)."""
    if hasattr(trace, "map"):
        return trace.map(backend.to_numpy)
    return [None if r is None else backend.to_numpy(r) for r in trace]


def check_finite_outputs(y, dtype, model=None, forward=None) -> None:
    """Raise ShapeError when model outputs are not finite: (with ``forward``, the pass of
    ``y``) a layer's operator got input outside its domain, inputs too large for the dtype,
    or (with ``model``) parameters beyond its range, which no input can fix."""
    y = np.asarray(y)
    bad = int((~np.isfinite(y.reshape(y.shape[0], -1))).any(axis=1).sum())
    if bad:
        head = f"the model's outputs are not finite for {bad} of {y.shape[0]} samples"
        origin = None if forward is None else domain_origin(forward)
        if origin:
            raise ShapeError(f"{head}: {origin}")
        why = parameters_too_large(model, dtype) if model is not None else None
        raise ShapeError(f"{head} ({why or f'input values too large for {np.dtype(dtype).name}?'})")


def parameters_too_large(model, dtype) -> str | None:
    """Why a pass in ``dtype`` overflowed when the model's own parameters are the cause (a
    crafted or damaged file), else None."""
    name = np.dtype(dtype).name
    top = _largest_parameter(model)
    if top <= 1e30:
        return None
    return (f"the model's parameters reach {top:.3g}, too large for {name}: a crafted or "
            "damaged model file" + ("" if name == "float64" else ", or use float64"))


def domain_origin(forward) -> str | None:
    """The first layer (a graph's node) whose output is not finite, named with the reason its
    :meth:`~lrpcore.layers.Layer.domain_problem` gives; None where it gives none."""
    xp = forward.backend.xp
    layers = forward.explainer.layers
    names = getattr(layers, "names", None)
    acts = forward.activations
    inputs = getattr(acts, "inputs", None)  # a graph's: node k's (first) input
    for k, layer in enumerate(layers):
        if bool(xp.all(xp.isfinite(acts[k + 1]))):
            continue
        x = acts[k] if inputs is None else inputs[k]
        why = layer.domain_problem(x, xp) if bool(xp.all(xp.isfinite(x))) else None
        if why is None:
            return None
        where = f"node {k} {names[k]!r}" if names else f"layer {k}"
        return f"{where} ({layer.describe()}): {why}"
    return None


def _largest_parameter(model) -> float:
    """The largest magnitude among the model's weights and biases, and the numbers of its
    activations (an ONNX Selu of γ 3e38 was blamed on the input), 0 without any."""
    top = 0.0
    for layer in model.analysis_layers():
        params = layer.native_params() if hasattr(layer, "native_params") else None
        for p in params or ():
            if np.size(p):
                top = max(top, float(np.max(np.abs(np.asarray(p, dtype=np.float64)))))
        if getattr(layer, "role", None) == "pass" and hasattr(layer, "native_fields"):
            for v in layer.native_fields().values():
                if isinstance(v, float) and math.isfinite(v):
                    top = max(top, abs(v))
    return top


def _check_batch_size(batch_size) -> None:
    """RuleError unless ``batch_size`` is None or a whole number ≥ 1, as ``--batch-size`` is
    checked (0 explained the whole batch at once, -1 one sample a pass, 2.5 two)."""
    _check_count("batch_size", batch_size, "the whole batch")


def _check_count(name, value, default) -> None:
    """RuleError naming ``name`` unless ``value`` is None (``default``) or a whole number ≥ 1."""
    if value is None:
        return
    whole = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not whole or value < 1:
        raise RuleError(f"{name} must be a whole number of at least 1 (or None: {default}), "
                        f"got {short(repr(value), 40)}")


def _is_per_sample(target) -> bool:
    return not isinstance(target, (str, int, np.integer)) and np.ndim(target) == 1


def _slice_labels(labels, start, stop, n, what="labels"):
    arr = np.asarray(labels).reshape(-1)
    if arr.size != n:  # named as given: a target list was called "labels"
        raise count_mismatch(labels, n, what)
    return arr[start:stop]


@_documents_rule_target_layer_rules
def explain(model, x, rule=None, target="pred", layer_rules=None, raw=False, backend=None,
            dtype=None, labels=None, batch_size=None, region=None) -> np.ndarray:
    """Relevance of ``x`` for ``model`` as a numpy array with the shape of the fed input.

    Parameters
    ----------
    model : Sequential or GraphModel
        What :func:`lrpcore.load_model` returns.
    x : array
        A batch of samples (N first).
    {rule_target_layer_rules}
    raw : bool, default False
        False: ``x`` holds raw samples (e.g. uint8 digits, N×28×28 or N×784; photographs
        H×W×C) that the model's input specification prepares; True: ``x`` is fed as it is,
        in the model's own layout.
    backend : {"numpy", "cupy", "auto"}, optional
        Default: cupy when a GPU is available, else numpy.
    dtype : {"float64", "float32"}, optional
        Default float64 (``lrp explain`` takes float32 for graph models).
    labels : array, optional
        One class index per sample, for ``target="true"``.
    batch_size : int, optional
        Samples per forward/backward pass (default: the whole batch; on the CPU a pass
        holds at most 64 MB of activations).
    {map_target_region}

    Returns
    -------
    numpy.ndarray
        The relevance in ``dtype``, shaped like the fed input (``raw=False``: the prepared
        input, e.g. N×32×32×1 for the toolbox's padded LeNet-5, N×C×H×W for a PyTorch
        export), also when computed on a GPU.

    Examples
    --------
    >>> model = lrpcore.load_model("mnist-lenet5")
    >>> R = lrpcore.explain(model, digits, rule="EpsilonGammaBox", layer_rules={0: "flat"})
    """
    return Explainer(model, backend, dtype).explain(
        x, rule=rule, target=target, layer_rules=layer_rules, labels=labels, raw=raw,
        batch_size=batch_size, region=region)


def predict(model, x, raw=False, backend=None, dtype=None) -> np.ndarray:
    """Outputs of the whole model (SoftMax included, if it has one) as a numpy array in
    ``dtype``: N×K (a segmentation model's map: N×H×W×K).

    ``raw``, ``backend`` and ``dtype`` as in :func:`explain`; the scores LRP explains (before
    the SoftMax) come from ``Explainer(model).forward(x).outputs()``.
    """
    ex = Explainer(model, backend, dtype)
    return model_outputs(ex, ex.user_prepare(x, raw), raw=True)


def model_outputs(ex, x, raw=False) -> np.ndarray:
    """:func:`predict` through the explainer ``ex``, for samples as the caller read them (no
    warning about their values: a command says that in its own words)."""
    x = ex.prepare(x, raw)
    be = ex.backend
    return be.to_numpy(ex.model.forward(be.xp.asarray(x, dtype=ex.dtype), be, ex.dtype))
