"""The work the explorer does off the GUI thread, as plain functions and objects (no Qt).

Each task takes a frozen request and a :class:`Token` through which it reports progress and
learns about cancellation, so it can be tested without a window and run on any thread.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lrpcore import export as _export
from lrpcore.batch_export import explain_and_export, photo_pixels
from lrpcore.errors import Cancelled, ExportError, LRPError, RuleError  # one cancellation
from lrpcore.explain import Explainer, initial_relevance, resolve_rules
from lrpcore.insight.diagnose import diagnose_trace, rule_findings, sample_activations
from lrpcore.map_targets import class_scores, predicted_classes
from lrpcore.parallel import PASS_BYTES
from lrpcore.spec import unit_inputs
from lrpcore.targets import model_map_shape, parse_target

from . import rendering
from .explained import explained_class, target_text
from .requests import ExplainRequest


class Token:
    """Progress and cancellation channel of one task (thread-safe)."""

    def __init__(self, on_progress=None):
        self._event = threading.Event()
        self._on_progress = on_progress

    def cancel(self) -> None:
        self._event.set()

    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()

    def progress(self, done, total, payload=None) -> None:
        if self._on_progress is not None:
            self._on_progress(done, total, payload)


# -- inputs ---------------------------------------------------------------------------------
def model_input(model, raw, dtype=np.float64) -> np.ndarray:
    """Raw samples (a batch) preprocessed into the model's input layout, as the engine feeds
    them (``Explainer.prepare``): e.g. N×32×32×1 for the padded LeNet-5, N×784 for a dense net.
    Without an input specification the samples are taken as already fed (``--raw``)."""
    spec = model.input_spec
    if spec is None:
        return np.asarray(raw, dtype=dtype)
    return spec.preprocess(raw, dtype=dtype)


def model_input_unit(model, raw, dtype=np.float64) -> np.ndarray:
    """Preprocessed samples in the model's input layout, scaled to [0, 1] by its value range
    (``lrpcore.spec.unit_inputs``, the formula of ``lrp explain --png``)."""
    return unit_inputs(model.input_spec, model_input(model, raw, dtype))


def shown_inputs(raw, unit) -> np.ndarray:
    """The batch ``unit`` (inputs in [0, 1], as drawn), or the photographs' own pixels / 255
    where ``raw`` holds them (:func:`lrpcore.batch_export.photo_pixels`, as ``lrp explain
    --png`` draws them): one value range for a mean/std model's three channels shifted the
    explorer's colours (up to 128/255) and the outline drawn from them."""
    photo = photo_pixels(raw, unit)
    return unit if photo is None else photo / 255.0


# -- one explanation ------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ExplainResult:
    request: ExplainRequest
    relevance: np.ndarray  # one sample, model input layout (what lrpcore.explain returns)
    model_input: np.ndarray  # the fed sample, same layout (preprocessed, padded)
    input_unit: np.ndarray  # model_input scaled to [0, 1]: what the views and PNGs draw
    scores: np.ndarray  # of a map, the shares of its region's pixels (of all without one)
    prediction: int
    rule_description: str
    seconds: float
    backend: str
    device: str
    relevance_sum: float
    explained_output: float
    forward_reused: bool
    precomputed: bool = False  # the relevance was read from a relevance store
    # target "pred" in a region of a segmentation model's map: the class at the most pixels
    # there (``prediction`` stays the whole map's), the class explained
    region_prediction: int | None = None
    # seconds per step on the worker (forward, relevance, prepare; diagnosis once checked):
    # what ``lrp-explorer --profile`` splits a click into
    timings: dict = field(default_factory=dict)
    # what is added after the heatmap is on display: {"diagnosis": Diagnosis}
    later: dict = field(default_factory=dict, repr=False)

    @property
    def index(self) -> int:
        return self.request.index

    @property
    def diagnosis(self):
        """lrpcore.insight.diagnose.Diagnosis of this explanation; None until it is checked
        (right after the heatmap, from the same trace) and for precomputed relevance."""
        return self.later.get("diagnosis")


@dataclass(frozen=True, eq=False)
class Traced:
    """The one traced backward pass of the last explanation: the Conservation panel and the
    diagnosis read it instead of propagating again. ``forward`` is the pass it started from."""

    forward: object
    rule: str
    layer_rules: tuple
    target: str
    region: tuple | None
    label: int | None
    config: object  # lrpcore.explain.RuleConfig
    trace: object  # per-layer relevance (Forward.relevance(..., trace=True)[1]), on the device
    result: ExplainResult  # its diagnosis arrives after the heatmap

    @property
    def diagnosis(self):
        return self.result.diagnosis

    def answers(self, fwd, req: ExplainRequest) -> bool:
        return (fwd is self.forward and req.rule == self.rule
                and tuple(req.layer_rules) == self.layer_rules and req.target == self.target
                and req.region == self.region and req.label == self.label)


class ExplainService:
    """Explains single samples and keeps the last forward pass for rule/target changes.

    One click costs one forward pass (none when only the rule or target changed) and one
    traced backward pass; the heatmap, the diagnosis and the Conservation panel share it.
    The result is handed over twice through the token: as progress as soon as the heatmap
    can be drawn, and when its diagnosis (a check of the trace, ~a sixth of a photograph's
    click) is filled in; a newer click cancels the check of the older one.
    """

    def __init__(self):
        self._key = None
        self._forward = None
        self._traced: Traced | None = None
        self._explainers: dict = {}
        self.precomputed = None  # lrpgui.sources.PrecomputedRelevance, set by the window

    def cached_forward(self):
        """The forward pass of the last explained sample (None before the first)."""
        return self._forward

    def cached_trace(self, fwd, req: ExplainRequest) -> Traced | None:
        """The traced backward pass of ``req`` from forward pass ``fwd``, when it is the one
        this service made last (else None: the caller propagates itself)."""
        traced = self._traced
        return traced if traced is not None and traced.answers(fwd, req) else None

    def explainer(self, model, backend, dtype) -> Explainer:
        key = (id(model), backend, dtype)
        cached = self._explainers.get(key)
        if cached is None or cached.model is not model:
            self._explainers = {key: Explainer(model, backend, dtype)}
            cached = self._explainers[key]
        return cached

    def run(self, req: ExplainRequest, token: Token | None = None) -> ExplainResult:
        """Explain ``req``'s sample. In the explorer this runs on a worker that keeps it on
        one core (``lrpgui.controller``: BLAS threads spinning against the GUI thread made a
        photograph's click ~1.5× slower on 2 cores)."""
        clock = _Clock()
        ex = self.explainer(req.model, req.backend, req.dtype)
        key = (id(req.model), req.dataset_key, req.index, req.backend, req.dtype)
        reused = key == self._key and self._forward is not None
        if not reused:
            self._forward = None
            self._traced = None
            self._forward = ex.forward(np.asarray(req.raw)[None])
            self._key = key
        fwd = self._forward
        ex.backend.synchronize()
        clock.lap("forward")
        if token is not None:
            token.check()
        labels = req.labels
        config = resolve_rules(ex.layers, req.rule, dict(req.layer_rules))
        target = parse_target(req.target)
        stored = self.precomputed is not None and self.precomputed.serves(req)
        if stored:  # a relevance store (lrpgui.sources.PrecomputedRelevance): read, not computed
            R = self.precomputed.relevance(req.index)[None]
        else:  # one backward pass, traced: the diagnosis and Conservation read the trace
            R_dev, trace = fwd.relevance(config, target, labels=labels, trace=True,
                                         to_numpy=False, region=req.region)
            R = ex.backend.to_numpy(R_dev)
        clock.lap("relevance")
        if not np.all(np.isfinite(R)):  # nothing to draw; say why instead of showing noise
            raise RuleError(f"sample {req.index}: {config.description} gives NaN or infinite "
                            "relevance (a zero denominator: use a larger ε or another rule)")
        out = fwd.outputs()
        R0 = initial_relevance(out, target, labels, region=req.region)
        fed = ex.backend.to_numpy(fwd.activations[0])  # the input as fed, not prepared again
        unit = unit_inputs(req.model.input_spec, fed)
        spec = req.model.input_spec
        if spec is not None:  # the views draw images: a C×H×W model's arrays as H×W×C
            R, fed, unit = (spec.image_layout(a) for a in (R, fed, unit))
        unit = shown_inputs(None if req.raw is None else req.raw[None], unit)
        clock.lap("prepare")
        result = ExplainResult(
            request=req, relevance=R[0], model_input=fed[0],
            # of a map: the shares of the region's pixels, as ▼ and the titles follow it
            input_unit=unit[0], scores=class_scores(out, region=req.region)[0],
            prediction=int(predicted_classes(out)[0]), rule_description=config.description,
            seconds=clock.total(), backend=ex.backend.name, device=ex.backend.device,
            relevance_sum=float(R.sum()), explained_output=float(R0.sum()),
            forward_reused=reused, precomputed=stored, timings=clock.laps,
            region_prediction=None if req.region is None else
            int(predicted_classes(out, region=req.region)[0]))
        if stored:  # the store's own check (from the run that wrote it), not recomputed
            result.later["diagnosis"] = self.precomputed.diagnosis
            return result
        self._traced = Traced(fwd, req.rule, tuple(req.layer_rules), req.target, req.region,
                              req.label, config, trace, result)
        if token is not None:
            token.progress(1, 2, result)  # the heatmap can be drawn now
            token.check()  # a newer click: its heatmap first, no check of this one
        # a check of the same trace, no second backward pass
        result.later["diagnosis"] = diagnose_trace(trace, ex.layers, config,
                                                   sample_activations(fwd), fwd.backend.xp,
                                                   rule_findings(ex, config))
        clock.lap("diagnosis")
        return result


class _Clock:
    """Seconds per named step (``lap``), for the profile's split of a click."""

    def __init__(self):
        self.start = self._last = time.perf_counter()
        self.laps: dict = {}

    def lap(self, name) -> None:
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self._last
        self._last = now

    def total(self) -> float:
        return self._last - self.start


# -- the whole dataset ----------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Predicted:
    """The samples one batch of :func:`predict_dataset` predicted (dataset indices and their
    classes; ``first``: the job's first batch). The progress carried the whole array so far,
    copied at every batch (quadratic in the dataset's size); the GUI now writes each batch
    into its own array in place (:meth:`lrpgui.session.Session.add_predicted`)."""

    indices: np.ndarray
    classes: np.ndarray
    first: bool = False


def predict_dataset(model, dataset, token: Token, batch=2000, backend="numpy",
                    dtype="float32") -> np.ndarray:
    """Predicted class of every sample, in batches; progress payload = the batch's
    :class:`Predicted`.

    A sample that cannot be read (NaN, an undecodable file in an image folder) keeps −1
    (unknown), so one broken file does not cost the predictions of all the others."""
    n = len(dataset)
    preds = np.full(n, -1, dtype=np.int64)
    ex = Explainer(model, backend, dtype)
    be = ex.backend
    batch = predict_batch(ex, batch)
    for start in range(0, n, batch):
        token.check()
        stop = min(n, start + batch)
        idx, raw = readable_samples(dataset, np.arange(start, stop))
        if idx.size:
            x = ex.prepare(raw)
            y = model.forward(be.xp.asarray(x, dtype=ex.dtype), be, ex.dtype)
            preds[idx] = predicted_classes(be.to_numpy(y))  # of a map: at the most pixels
        token.progress(stop, n, Predicted(idx, preds[idx], first=start == 0))
    return preds


def predict_batch(ex: Explainer, batch: int) -> int:
    """Samples per prediction pass: ``batch``, fewer on the CPU where they would hold more
    than PASS_BYTES of activations (``Explainer.passes``'s budget). 500 photographs through
    EfficientNet at once held gigabytes, and closing the window waited for the whole pass."""
    spec = ex.model.input_spec
    if spec is None or ex.backend.name != "numpy":
        return batch
    try:
        fed = ex.prepare(np.zeros((1, *spec.raw_shape), dtype=np.uint8)).shape[1:]
        per_sample = ex.sample_bytes(tuple(fed))
    except (LRPError, ValueError, TypeError):  # a layout the budget cannot size: as asked
        return batch
    return max(1, min(batch, PASS_BYTES // per_sample)) if per_sample else batch


def readable_samples(dataset, indices) -> tuple[np.ndarray, np.ndarray]:
    """(indices that could be read, their raw samples): the whole batch at once, else one by
    one, skipping the samples the dataset refuses."""
    try:
        return indices, dataset.images(indices)
    except LRPError:
        pass
    good, raws = [], []
    for i in indices:
        try:
            raws.append(dataset.images(np.array([i]))[0])
        except LRPError:
            continue
        good.append(i)
    if not good:
        return np.zeros(0, dtype=np.int64), None
    return np.asarray(good, dtype=np.int64), np.stack(raws)


def accuracy(predictions, labels) -> float | None:
    if labels is None or predictions is None:
        return None
    known = predictions >= 0
    if not known.any():
        return None
    return float(np.mean(predictions[known] == np.asarray(labels)[known]))


# -- exports (all through lrpcore.export: atomic files, JSON sidecars, clean-up) -------------
def sidecar(model_path, rule_description, target, backend, dtype, **extra) -> dict:
    """The provenance every exported file records (see :func:`lrpcore.export.sidecar_info`):
    a built-in dataset name is the built-in dataset, as the explorer opened it."""
    return dict(_export.sidecar_info(model_path, rule_description, target, backend, dtype,
                                     builtin_first=True, **extra))


def input_and_heatmap_png(result: ExplainResult, cmap, outline) -> np.ndarray:
    """The toolbox figure of the displayed sample: input | heatmap, uint8, model input layout."""
    return _export.input_heatmap_image(result.relevance, result.input_unit, cmap, outline)


def shown_map(result, channels, info):
    """(relevance, info) of the heatmap on display: a colour image's relevance reduced over
    its channels as the Colour panel says (``channels``, recorded in the sidecar), so that an
    export holds the map the view shows; other relevance as it is."""
    from lrpcore.render.overlay import channel_map  # noqa: PLC0415

    R = rendering.displayable(result.relevance)
    if R.ndim != 3 or R.shape[2] != 3:
        return result.relevance, info
    return channel_map(R, channels), {**(info or {}), "channels": channels}


def export_single_png(path, result, cmap, outline, info, channels="sum") -> list[Path]:
    """Input | heatmap of the displayed sample (model input layout, the picture ``lrp explain
    --png`` draws) and its sidecar."""
    R, info = shown_map(result, channels, info)
    path = _export.export_input_heatmap(path, R, result.input_unit, cmap,
                                        outline, info=info, overwrite=True)
    return [path, _export.sidecar_path(path)]


def export_figure(path, result, cmap, outline, scale, info, channels="sum") -> list[Path]:
    """The paper figure of the displayed explanation: input | heatmap | colour bar at
    ``scale`` pixels per input pixel, titled with rule, explained class and its score."""
    from lrpcore.render.figure import figure_title  # noqa: PLC0415

    k = explained_class(result)
    # a segmentation model's "scores" are shares of its pixels, no score of the class
    scored = k is not None and not model_map_shape(result.request.model)
    score = float(np.asarray(result.scores).reshape(-1)[k]) if scored else None
    model = os.path.basename(result.request.model_path or "") or None
    title = figure_title(result.rule_description, target_text(result), score,
                         result.index, model)
    R, info = shown_map(result, channels, info)
    path = _export.export_explanation_figure(path, R, result.input_unit, cmap,
                                             outline, scale, title, info=info, overwrite=True)
    return [path, _export.sidecar_path(path)]


def export_overlay(path, result, cmap, opacity, channels, info) -> list[Path]:
    """The overlay on display (heatmap over the greyscale input): PNG, .npy and sidecars."""
    return _export.export_overlay(path, result.relevance, result.input_unit, cmap, opacity,
                                  channels, info=info, overwrite=True)


def export_single_npy(path, result, info) -> list[Path]:
    """The relevance in the model's input layout (what ``lrp explain`` and the batch export
    write) + sidecar: a C×H×W model's map is drawn H×W×C, and was written so."""
    R = np.asarray(result.relevance)
    spec = result.request.model.input_spec
    if spec is not None and R.ndim == 3:
        R = spec.model_layout(R[None])[0]
    path = _export.export_relevance(path, R, info=info, overwrite=True)
    return [path, _export.sidecar_path(path)]


def planned_files(indices, formats, cmaps) -> list[str]:
    """The names (sidecars included) an export of samples ``indices`` writes: PNGs per
    colormap with "png" in ``formats``, ``relevance_{i}.npy`` with "npy"."""
    return _export.explanation_file_names(indices, cmaps if "png" in formats else [],
                                          npy="npy" in formats)


def export_all_colormaps(folder, result, outline, info, channels="sum") -> list[Path]:
    """``heatmap_{i}_{cmap}.png`` for every colormap, each with its sidecar."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ExportError(f"{folder}: folder does not exist")
    cmaps = rendering.colormap_names()
    _export.refuse_existing(folder, planned_files([result.index], ("png",), cmaps))
    R, info = shown_map(result, channels, info)
    paths = _export.export_colormaps(folder, R, result.input_unit, result.index,
                                     cmaps=cmaps, outline=outline, info=info)
    return [q for p in paths for q in (Path(p), _export.sidecar_path(p))]


@dataclass(frozen=True, eq=False)
class BatchExport:
    """A batch export job: the explanation settings (the explorer's one
    :class:`~lrpgui.requests.ExplainRequest`, without a sample) and where and how to write."""

    request: ExplainRequest
    dataset: object
    indices: np.ndarray
    out_dir: str
    formats: tuple  # subset of ("png", "npy")
    cmap: str
    outline: bool
    info: dict
    chunk: int = 256


def batch_export(req: BatchExport, token: Token) -> list[Path]:
    """Explain and write the chosen samples; on cancel or error, no file of this call stays.
    Existing files are never replaced (refused before anything is computed).

    Returns every path written, sidecars included.
    """
    out = Path(req.out_dir)
    if not out.is_dir():
        raise ExportError(f"{out}: folder does not exist")
    _export.refuse_existing(out, planned_files(req.indices, req.formats, [req.cmap]))
    settings = req.request
    ex = Explainer(settings.model, settings.backend, settings.dtype)
    config = resolve_rules(ex.layers, settings.rule, dict(settings.layer_rules))
    paths = explain_and_export(  # the routine of 'lrp demo' and 'lrp explain --png' too
        out, ex, lambda idx: model_read(req.dataset, idx), req.indices, config,
        settings.target_value, getattr(req.dataset, "labels", None),
        cmaps=[req.cmap] if "png" in req.formats else [], npy="npy" in req.formats,
        outline=req.outline, info=req.info, chunk=req.chunk,
        progress=lambda d, t: token.progress(d, t), cancel=token.cancelled,
        files=getattr(req.dataset, "sample_files", None), region=settings.region)
    return [q for p in paths for q in (Path(p), _export.sidecar_path(p))]


def model_read(dataset, idx):
    """Raw samples ``idx`` of ``dataset`` (the batch export reads through here)."""
    return dataset.images(idx)
