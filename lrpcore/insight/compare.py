"""Side-by-side relevance maps of one sample: rules × classes, and class-versus-class contrast.

All maps come from ONE forward pass: :class:`~lrpcore.explain.Forward` keeps the activations,
and every (rule, class) map is a backward pass over them; the maps of all classes for one rule
are a single backward pass with the sample repeated once per class.

The contrast map "A versus B" is R_A − R_B, the simple difference form of contrastive LRP
(Gu, Yang and Tresp, 2018, "Understanding individual decisions of CNNs via contrastive
backpropagation"); ``positive=True`` keeps only its positive part, as their CLRP does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import RuleError, ShapeError
from ..explain import Forward, resolve_rules
from ..map_targets import class_scores
from ..targets import explains_all_outputs, parse_target, resolve_classes
from .baselines import attribute, baseline_name, model_class_names
from .tasks import check_cancel, report
from .views import repeated_view, sample_view

MAX_RULES = 6


@dataclass(frozen=True)
class MapRow:
    """One rule's maps for one sample, with the row's colour scale.

    ``maps`` has shape (K, *input shape); ``titles`` names each map (class or contrast);
    ``vmax`` is max |R| over the row (0 when every map is zero).
    """

    label: str
    maps: np.ndarray
    titles: tuple
    vmax: float


@dataclass(frozen=True)
class Comparison:
    """Rows of maps for one sample and the scale shared by all rows (``vmax``)."""

    rows: tuple
    vmax: float
    index: int
    outputs: np.ndarray  # the sample's class scores (of a map: pixel shares in the region)
    classes: tuple  # the classes shown in every row (before any contrast column)
    contrast: tuple | None  # (A, B) when a contrast column was added

    def row_scales(self) -> np.ndarray:
        return np.array([row.vmax for row in self.rows])


def _max_abs(a) -> float:
    return float(np.max(np.abs(a))) if np.size(a) else 0.0


def _check_class(c, k, what="class", names=None):
    """Class ``c`` (an index, or a name of ``names``: a callable giving the model's class
    names, as explain takes them; 'tabby' was "not an integer") checked against k outputs."""
    if isinstance(c, str) and names is not None:
        c = parse_target(c, what=what, class_names=names)
        if not isinstance(c, int):
            raise ShapeError(f"{what} {c!r}: give a class index or name")
    try:
        c = int(c)
    except (TypeError, ValueError):
        raise ShapeError(f"{what} {c!r} is not an integer") from None
    if not 0 <= c < k:
        raise ShapeError(f"{what} {c} is out of range: the model has {k} outputs (0..{k - 1})")
    return c


def _class_names(model, k):
    names = list(model.class_names)
    return [names[c] if c < len(names) else str(c) for c in range(k)]


def _method_label(forward, method) -> str:
    name = baseline_name(method)
    if name is not None:
        return name
    return resolve_rules(forward.explainer.layers, method).description


def class_relevance(forward: Forward, rule, index=0, classes=None, region=None) -> np.ndarray:
    """Maps (len(classes), *input shape) of sample ``index`` for each class (default: all);
    of a segmentation model, the class's pixels inside ``region`` only.

    One backward pass: the sample's activations are repeated once per class.
    """
    one = sample_view(forward, index)
    k = int(one.output.shape[-1])  # a segmentation model's map: its classes per pixel
    names = model_class_names(forward)
    classes = list(range(k)) if classes is None else [_check_class(c, k, names=names)
                                                      for c in classes]
    if not classes:
        return np.zeros((0,) + tuple(one.activations[0].shape[1:]))
    many = repeated_view(one, len(classes))
    return np.asarray(attribute(many, rule, target=np.asarray(classes), region=region))


def contrast_map(forward: Forward, rule, class_a, class_b, index=0, positive=False):
    """R_A − R_B for sample ``index`` (optionally clipped at 0), shape of one input sample."""
    k = int(forward.output.shape[-1])
    a = _check_class(class_a, k, "class A", model_class_names(forward))
    b = _check_class(class_b, k, "class B", model_class_names(forward))
    ra, rb = class_relevance(forward, rule, index, [a, b])
    diff = ra - rb
    return np.maximum(diff, 0) if positive else diff


def compare(forward: Forward, rules, index=0, classes="target", target="pred", labels=None,
            contrast=None, positive=False, progress=None, cancel=None,
            region=None) -> Comparison:
    """Maps of sample ``index`` for up to six rules (rows) and several classes (columns).

    ``classes``: ``"target"`` (the explained class only, from ``target``/``labels``; for target
    ``output`` one map of the whole output, column :data:`WHOLE_OUTPUT`, as the explorer's
    main view explains it), ``"all"`` (the top MAX_ALL_CLASSES by score for models with
    more) or a list of class indices.
    ``contrast=(A, B)`` appends an "A vs B" column to every row.
    Rules may be LRP specs, presets or the baselines ``sensitivity`` / ``gradxinput``.
    ``region``: a segmentation model's box of its map (:mod:`lrpcore.map_targets`); "all"
    then takes the classes predicted inside it.
    """
    rules = [rules] if isinstance(rules, str) else list(rules)
    if not rules:
        raise RuleError("no rule given to compare")
    if len(rules) > MAX_RULES:
        raise RuleError(f"{len(rules)} rules given; compare shows at most {MAX_RULES}")
    one = sample_view(forward, index)
    # of a map: the share of its pixels (of the region explained) predicted as each class
    outputs = class_scores(one.outputs(), region=region)[0]
    k = outputs.shape[0]
    chosen = _chosen_classes(one, classes, target, labels, index, k, region)
    pair = None
    if contrast is not None:
        names = model_class_names(forward)
        pair = (_check_class(contrast[0], k, "class A", names),
                _check_class(contrast[1], k, "class B", names))
    names = _class_names(forward.explainer.model, k)
    rows = []
    for done, rule in enumerate(rules):
        check_cancel(cancel)
        report(progress, done, len(rules))
        wanted = list(chosen or ()) + [c for c in (pair or ()) if c not in (chosen or ())]
        maps = class_relevance(one, rule, 0, wanted, region)
        if chosen is None:  # target "output": one map of every output's relevance at once
            shown = np.asarray(attribute(one, rule, target="output", region=region))
            titles = [WHOLE_OUTPUT]
        else:
            shown = maps[:len(chosen)]
            titles = [names[c] for c in chosen]
        if pair is not None:
            diff = maps[wanted.index(pair[0])] - maps[wanted.index(pair[1])]
            diff = np.maximum(diff, 0) if positive else diff
            shown = np.concatenate([shown, diff[None]], axis=0)
            titles.append(f"{names[pair[0]]} vs {names[pair[1]]}")
        rows.append(MapRow(_method_label(forward, rule), shown, tuple(titles), _max_abs(shown)))
    report(progress, len(rules), len(rules))
    vmax = max(row.vmax for row in rows)
    return Comparison(tuple(rows), vmax, int(index), outputs, tuple(chosen or ()), pair)


# the column of target "output" (the whole output explained at once), named as the explorer's
# target box names that target; compare showed the top ten classes one by one instead
WHOLE_OUTPUT = "all outputs"


MAX_ALL_CLASSES = 10


def _all_or_top(one, k, region=None):
    """Every class of a model with up to MAX_ALL_CLASSES, else the highest-scoring ones in
    score order: "all" 1000 ImageNet classes would be 1000 backward passes and columns. Of a
    map (a segmentation model), the classes it predicts somewhere: the others have no pixels
    to explain (inside ``region``)."""
    y = one.outputs()
    scores = class_scores(y)[0]
    inside = class_scores(y, region=region)[0]  # the pixels of the box only
    candidates = range(k) if one.output.ndim <= 2 else np.flatnonzero(inside > 0)
    if len(candidates) <= MAX_ALL_CLASSES:
        return [int(c) for c in candidates]
    return [int(c) for c in np.argsort(-scores, kind="stable")[:MAX_ALL_CLASSES]]


def _chosen_classes(one, classes, target, labels, index, k, region=None):
    if not isinstance(classes, str):
        return [_check_class(c, k, names=model_class_names(one)) for c in classes]
    mode = classes.strip().lower()
    if mode == "all":
        return _all_or_top(one, k, region)
    if mode != "target":
        raise ShapeError(f"classes must be 'target', 'all' or a list, got {classes!r}")
    if explains_all_outputs(target):
        return None  # the whole output, one map (see compare)
    if not isinstance(target, (str, int, np.integer)):  # one target per sample of the batch
        target = np.asarray(target).reshape(-1)[index]
    lab = None if labels is None else np.asarray(labels).reshape(-1)[[index]]
    classes = resolve_classes(one.output, target, lab, one.backend.xp,
                              model_class_names(one), region)  # a map's (not the seed's argmax)
    return [int(one.backend.to_numpy(classes)[0])]
