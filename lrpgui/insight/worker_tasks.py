"""The insight tools' work, run on the controller's worker thread (no Qt here).

Each task takes a frozen :class:`ExplainRequest` (copied from the AppState on the GUI thread),
a :class:`ForwardCache` and the controller's token (``check()``, ``cancelled()``,
``progress(done, total, payload)``), and returns a plain result object. All tools looking at
the same sample share one forward pass through the cache; when the app's explain service
already holds the forward pass of that sample, it is reused.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import numpy as np

from lrpcore.backend import get_dtype
from lrpcore.errors import RuleError, ShapeError
from lrpcore.explain import Explainer, Forward, resolve_rules
from lrpcore.insight import compare, conservation_from_trace, flip_curves, layer_relevance_map
from lrpcore.insight.baselines import attribute, output_seed
from lrpcore.insight.compare import MAX_RULES
from lrpcore.insight.diagnose import diagnose_trace, rule_findings, sample_activations
from lrpcore.insight.pixelflip import DEFAULTS as PIXELFLIP_DEFAULTS
from lrpcore.insight.pixelflip import method_label
from lrpcore.targets import one_class_per_sample

from ..requests import ExplainRequest
from .digit_prep import mnist_like


def request_from_state(state, raw=None, index=None) -> ExplainRequest | None:
    """A request for the selected sample (or ``raw``), or None when nothing is open."""
    return ExplainRequest.from_state(state, raw=raw, index=index)


class ForwardCache:
    """The forward pass of the last sample seen by any insight tool (thread-safe).

    ``external`` is a callable returning the app's cached :class:`Forward` (or None); it is
    used only after checking that it belongs to the same model, backend, dtype and input.
    ``external_trace(fwd, req)`` (the explain service's ``cached_trace``) returns the traced
    backward pass the app made for ``req`` from ``fwd``, or None.
    ``computed`` counts the forward passes this cache ran (tests read it).
    """

    def __init__(self, external=None, external_trace=None):
        self._external = external
        self._external_trace = external_trace
        self._lock = threading.Lock()
        self._explainer = None
        self._forward = None
        self.computed = 0

    def explainer(self, req: ExplainRequest) -> Explainer:
        with self._lock:
            ex = self._explainer
            if (ex is None or ex.model is not req.model or ex.backend.name != req.backend
                    or ex.dtype != get_dtype(req.dtype)):
                ex = self._explainer = Explainer(req.model, req.backend, req.dtype)
                self._forward = None
            return ex

    def forward(self, req: ExplainRequest) -> Forward:
        ex = self.explainer(req)
        x = ex.prepare(np.asarray(req.raw)[None])
        with self._lock:
            cached = self._forward
        if _fits(cached, ex, x):
            return cached
        outside = self._external() if self._external is not None else None
        if _fits(outside, ex, x):
            with self._lock:
                self._forward = outside
            return outside
        fwd = ex.forward(x, raw=True)
        with self._lock:
            self._forward = fwd
            self.computed += 1
        return fwd

    def traced(self, fwd, req: ExplainRequest):
        """The app's traced backward pass of ``req`` from ``fwd`` (a ``services.Traced``),
        or None when it made none that answers it."""
        if self._external_trace is None:
            return None
        return self._external_trace(fwd, req)


def _fits(fwd, ex: Explainer, x: np.ndarray) -> bool:
    """Whether ``fwd`` is the forward pass of input ``x`` for the same model/backend/dtype."""
    if not isinstance(fwd, Forward):
        return False
    other = fwd.explainer
    if other.model is not ex.model or other.backend.name != ex.backend.name \
            or other.dtype != ex.dtype:
        return False
    a = fwd.activations[0]
    if tuple(a.shape) != (1,) + tuple(x.shape[1:]):
        return False
    return bool(np.array_equal(fwd.backend.to_numpy(a), np.asarray(x, dtype=ex.dtype)))


def input_image(model, raw) -> np.ndarray:
    """The raw sample scaled to [0, 1] (for display and outlines)."""
    lo, hi = (0.0, 255.0)
    if model.input_spec is not None:
        lo, hi = model.input_spec.raw_range
    x = (np.asarray(raw, dtype=np.float64) - lo) / ((hi - lo) or 1.0)
    return np.clip(x, 0.0, 1.0)


def to_raw_layout(model, maps) -> np.ndarray:
    """Maps in the model's input layout (K, *input) cropped/reshaped to the raw layout."""
    spec = model.input_spec
    maps = np.asarray(maps)
    return maps if spec is None else spec.unpad(maps)


# -- compare --------------------------------------------------------------------------------
MODES = ("target", "all", "contrast")


@dataclass(frozen=True, eq=False)
class CompareResult:
    request: ExplainRequest
    comparison: object  # lrpcore.insight.Comparison (maps in the model input layout)
    maps_raw: tuple  # per row: (K, *raw shape) maps for display
    mode: str
    # made on the worker, so a render (a colormap click) only colours: per row the (K, H, W)
    # maps a cell shows; the input in [0, 1]; per map shape the outline's RGBA (or None)
    cell_maps: tuple = ()
    input01: object = None
    outlines: object = None


def run_compare(req: ExplainRequest, cache: ForwardCache, rules, mode="target", pair=(0, 1),
                positive=False, token=None) -> CompareResult:
    """Up to six rules (LRP specs, presets, ``sensitivity``, ``gradxinput``) side by side."""
    rules = [r for r in rules if r]
    if not rules:
        raise RuleError("choose at least one rule to compare")
    if len(rules) > MAX_RULES:
        raise RuleError(f"{len(rules)} rules chosen; compare shows at most {MAX_RULES}")
    if mode not in MODES:
        raise RuleError(f"unknown compare mode {mode!r}: use one of {', '.join(MODES)}")
    fwd = cache.forward(req)
    cancel = None if token is None else token.cancelled
    if mode == "contrast":
        a, b = (int(c) for c in pair)
        comp = compare(fwd, rules, classes=[a, b], contrast=(a, b), positive=positive,
                       cancel=cancel, region=req.region)
    else:  # for target "output" one map of the whole output, as the main view (lrpcore)
        comp = compare(fwd, rules, classes=mode, target=req.target_value, labels=req.labels,
                       cancel=cancel, region=req.region)
    maps_raw = tuple(to_raw_layout(req.model, row.maps) for row in comp.rows)
    return CompareResult(req, comp, maps_raw, mode, *compare_pictures(req, maps_raw))


def compare_pictures(req: ExplainRequest, maps_raw) -> tuple:
    """What Compare's cells draw, made off the GUI thread: under load the maps' channel sums
    and a photograph's edge filter in the render held the window up to ~1.5 s."""
    from . import imaging  # noqa: PLC0415 (pyqtgraph; the views' helpers)

    x01 = input_image(req.model, req.raw)
    cell_maps = tuple(np.stack([imaging.map2d(m) for m in raw]) for raw in maps_raw)
    outlines = {}  # one edge filter per map shape, not one per cell
    for maps in cell_maps:
        shape = maps.shape[1:]
        if shape not in outlines:
            outlines[shape] = imaging.outline_image(x01, shape)
    return cell_maps, x01, outlines


# -- conservation ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ConservationResult:
    request: ExplainRequest
    rows: list  # ConservationRow, from the output layer down to the input
    layer_maps: list  # [k] relevance at the input of layer k (k = L: the initial relevance)
    description: str
    diagnosis: object = None  # lrpcore.insight.diagnose.Diagnosis of the trace


def run_conservation(req: ExplainRequest, cache: ForwardCache, token=None) -> ConservationResult:
    """Relevance sums at every layer and the map at every layer's input: the app's traced
    backward pass of the same sample and settings when there is one, else one of its own."""
    fwd = cache.forward(req)
    ex = fwd.explainer
    shared = cache.traced(fwd, req)
    if token is not None:
        token.check()
    if shared is not None:  # its diagnosis may still be computed: then check it here too
        diagnosis = shared.diagnosis or diagnose_trace(
            shared.trace, ex.layers, shared.config, sample_activations(fwd), fwd.backend.xp,
            rule_findings(ex, shared.config))
        return _conservation(req, fwd, shared.config, shared.trace, diagnosis)
    config = resolve_rules(ex.layers, req.rule, dict(req.layer_rules))
    _, trace = fwd.relevance(config, req.target_value, labels=req.labels, trace=True,
                             to_numpy=False, region=req.region)
    diagnosis = diagnose_trace(trace, ex.layers, config, sample_activations(fwd),
                               fwd.backend.xp, rule_findings(ex, config))
    return _conservation(req, fwd, config, trace, diagnosis)


def _conservation(req, fwd, config, trace, diagnosis) -> ConservationResult:
    """The panel's rows and per-layer maps of one trace (device arrays are brought home)."""
    ex = fwd.explainer
    trace = _host_trace(trace, fwd.backend)
    rows = conservation_from_trace(trace, ex.layers)
    maps = []
    for k in range(len(trace)):
        r = np.asarray(trace[k])
        if r.ndim == 4 and r.shape[1] * r.shape[2] > 1:
            maps.append(layer_relevance_map(fwd, k, trace=trace)[0])
        else:
            maps.append(r[0].reshape(1, -1))
    return ConservationResult(req, rows, maps, config.description, diagnosis)


def _host_trace(trace, backend):
    """The trace with host (numpy) arrays, of the same kind (a graph's keeps ``outputs``)."""
    if backend.name == "numpy":
        return trace
    if hasattr(trace, "map"):
        return trace.map(backend.to_numpy)
    return [None if r is None else backend.to_numpy(r) for r in trace]


# -- pixel-flipping -------------------------------------------------------------------------
@dataclass(frozen=True)
class FlipSettings:
    methods: tuple
    steps: int = PIXELFLIP_DEFAULTS["steps"]  # the defaults of 'lrp evaluate' too
    patch: int = PIXELFLIP_DEFAULTS["patch"]
    per_step: int = PIXELFLIP_DEFAULTS["per_step"]
    baseline: str = PIXELFLIP_DEFAULTS["baseline"]
    region: str = PIXELFLIP_DEFAULTS["region"]
    random: bool = PIXELFLIP_DEFAULTS["random"]
    seed: int = 0


@dataclass(frozen=True, eq=False)
class FlipOutcome:
    request: ExplainRequest
    settings: FlipSettings
    target: int
    results: tuple  # lrpcore.insight.FlipResult per method (random last)


def explained_class(fwd: Forward, req: ExplainRequest) -> int:
    """The class pixel-flipping follows: the request's target (``output`` means ``pred``);
    refused for a map output (a segmentation model has no one score to follow)."""
    one_class_per_sample(req.one_class_target, "pixel-flipping", model=fwd.explainer.model)
    seed = output_seed(fwd.output, req.one_class_target, req.labels, fwd.backend.xp)
    return int(fwd.backend.to_numpy(seed)[0].argmax())


def run_pixelflip(req: ExplainRequest, cache: ForwardCache, settings: FlipSettings,
                  token=None) -> FlipOutcome:
    """Perturbation curves of each method and of a random order on the request's sample.

    After each method the token's progress carries the results so far, so the plot grows
    while the work goes on; ``token.cancelled`` stops it between forward batches."""
    if not settings.methods and not settings.random:
        raise RuleError("choose at least one method or the random order")
    fwd = cache.forward(req)
    ex = fwd.explainer
    labels = [method_label(ex.layers, m) for m in settings.methods]  # bad specs fail first
    cls = explained_class(fwd, req)
    x = fwd.backend.to_numpy(fwd.activations[0])
    cancel = None if token is None else token.cancelled
    runs = [(m, lab) for m, lab in zip(settings.methods, labels, strict=True)]
    if settings.random:
        runs.append((None, "random"))
    results = []
    for done, (method, label) in enumerate(runs):
        if token is not None:
            token.check()
        rel = None if method is None else attribute(fwd, method, cls)
        results.append(flip_curves(
            ex, x, rel, cls, steps=settings.steps, patch=settings.patch,
            per_step=settings.per_step, baseline=settings.baseline, region=settings.region,
            order="relevance" if method is not None else "random", seed=settings.seed,
            label=label, cancel=cancel))
        if token is not None:
            token.progress(done + 1, len(runs), tuple(results))
    return FlipOutcome(req, settings, cls, tuple(results))


# -- drawing --------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class DrawResult:
    digit: np.ndarray  # 28×28 uint8, ink bright on dark
    scores: np.ndarray
    prediction: int
    relevance: np.ndarray  # raw layout (28×28×C)
    rule_description: str


def digit_fits(model) -> bool:
    """Whether the model takes 28×28 single-channel raw images (what the pad draws)."""
    spec = getattr(model, "input_spec", None)
    return spec is not None and int(np.prod(spec.raw_shape)) == 784 and (
        len(spec.raw_shape) < 3 or spec.raw_shape[-1] == 1)


def run_draw(req: ExplainRequest, cache: ForwardCache, ink: np.ndarray, centre=True,
             token=None) -> DrawResult:
    """Turn the pad's ink (float, any square size) into an MNIST-like digit and explain it."""
    if not digit_fits(req.model):
        raise ShapeError("the open model does not take 28×28 grayscale digits")
    one_class_per_sample("pred", "the draw pad", model=req.model)  # it plots class scores
    digit = mnist_like(ink, centre=centre)
    if token is not None:
        token.check()
    raw = digit.reshape(req.model.input_spec.raw_shape)
    sample = replace(req.with_sample(raw),  # a drawing has no label: "true" means "pred"
                     target="pred" if req.target == "true" else req.target)
    fwd = cache.forward(sample)
    config = resolve_rules(fwd.explainer.layers, sample.rule, dict(sample.layer_rules))
    R = fwd.relevance(config, sample.target_value)
    scores = fwd.outputs()[0]
    return DrawResult(digit, scores, int(scores.argmax()), to_raw_layout(req.model, R)[0],
                      config.description)
