"""The work the explorer does off the GUI thread, as plain functions and objects (no Qt).

Each task takes a frozen request and a :class:`Token` through which it reports progress and
learns about cancellation, so it can be tested without a window and run on any thread.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import lrpcore
from lrpcore import render as _render
from lrpcore.errors import ExportError
from lrpcore.explain import Explainer, initial_relevance, resolve_rules
from lrpcore.fileio import atomic_save_npy, atomic_write_text

from . import rendering


class Cancelled(Exception):
    """Raised inside a task when its token was cancelled."""


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
def raw_to_unit(model, raw) -> np.ndarray:
    """Raw samples scaled to [0, 1] by the model's raw value range (for drawing)."""
    lo, hi = (0.0, 255.0)
    if model is not None and model.input_spec is not None:
        lo, hi = model.input_spec.raw_range
    x = (np.asarray(raw, dtype=np.float64) - lo) / ((hi - lo) or 1.0)
    return np.clip(x, 0.0, 1.0)


def model_input_unit(model, raw) -> np.ndarray:
    """Preprocessed samples in the model's input layout, scaled to [0, 1] by its value range."""
    spec = model.input_spec
    x = spec.preprocess(raw)
    lo, hi = spec.value_range
    return np.clip((x - lo) / ((hi - lo) or 1.0), 0.0, 1.0)


# -- one explanation ------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ExplainRequest:
    """Everything one explanation depends on, frozen on the GUI thread."""

    model: object
    dataset_key: object
    index: int
    raw: np.ndarray = field(repr=False)
    label: int | None
    rule: str
    layer_rules: tuple
    target: str
    backend: str
    dtype: str


@dataclass(frozen=True, eq=False)
class ExplainResult:
    request: ExplainRequest
    relevance_full: np.ndarray  # one sample, model input layout
    relevance: np.ndarray  # one sample, raw image layout (padding cropped)
    scores: np.ndarray
    prediction: int
    rule_description: str
    seconds: float
    backend: str
    device: str
    relevance_sum: float
    explained_output: float
    forward_reused: bool

    @property
    def index(self) -> int:
        return self.request.index


class ExplainService:
    """Explains single samples and keeps the last forward pass for rule/target changes."""

    def __init__(self):
        self._key = None
        self._forward = None
        self._explainers: dict = {}

    def cached_forward(self):
        """The forward pass of the last explained sample (None before the first)."""
        return self._forward

    def explainer(self, model, backend, dtype) -> Explainer:
        key = (id(model), backend, dtype)
        cached = self._explainers.get(key)
        if cached is None or cached.model is not model:
            self._explainers = {key: Explainer(model, backend, dtype)}
            cached = self._explainers[key]
        return cached

    def run(self, req: ExplainRequest, token: Token | None = None) -> ExplainResult:
        start = time.perf_counter()
        ex = self.explainer(req.model, req.backend, req.dtype)
        key = (id(req.model), req.dataset_key, req.index, req.backend, req.dtype)
        reused = key == self._key and self._forward is not None
        if not reused:
            self._forward = None
            self._forward = ex.forward(np.asarray(req.raw)[None])
            self._key = key
        if token is not None:
            token.check()
        fwd = self._forward
        labels = None if req.label is None else np.array([req.label])
        config = resolve_rules(ex.layers, req.rule, dict(req.layer_rules))
        target = req.target if not req.target.isdigit() else int(req.target)
        R = fwd.relevance(config, target, labels=labels)
        out = fwd.outputs()
        R0 = initial_relevance(out, target, labels)
        ex.backend.synchronize()
        seconds = time.perf_counter() - start
        spec = req.model.input_spec
        raw_r = spec.unpad(R)[0] if spec is not None else R[0]
        return ExplainResult(
            request=req, relevance_full=R[0], relevance=raw_r, scores=out[0],
            prediction=int(out[0].argmax()), rule_description=config.description,
            seconds=seconds, backend=ex.backend.name, device=ex.backend.device,
            relevance_sum=float(R.sum()), explained_output=float(R0.sum()),
            forward_reused=reused)


# -- the whole dataset ----------------------------------------------------------------------
def predict_dataset(model, dataset, token: Token, batch=2000, backend="numpy",
                    dtype="float32") -> np.ndarray:
    """Predicted class of every sample, in batches; progress payload = predictions so far."""
    n = len(dataset)
    preds = np.full(n, -1, dtype=np.int64)
    ex = Explainer(model, backend, dtype)
    be = ex.backend
    for start in range(0, n, batch):
        token.check()
        stop = min(n, start + batch)
        x = ex.prepare(dataset.images(np.arange(start, stop)))
        y = model.forward(be.xp.asarray(x, dtype=ex.dtype), be, ex.dtype)
        preds[start:stop] = be.to_numpy(y).argmax(axis=1)
        token.progress(stop, n, preds.copy())
    return preds


def accuracy(predictions, labels) -> float | None:
    if labels is None or predictions is None:
        return None
    known = predictions >= 0
    if not known.any():
        return None
    return float(np.mean(predictions[known] == np.asarray(labels)[known]))


# -- exports --------------------------------------------------------------------------------
def _export_module():
    try:
        from lrpcore import export  # noqa: PLC0415 (written by a sibling task)
    except ImportError:
        return None
    return export


def sidecar(model_path, rule_description, target, backend, dtype, **extra) -> dict:
    module = _export_module()
    if module is not None and hasattr(module, "sidecar_info"):
        return dict(module.sidecar_info(model_path, rule_description, target, backend, dtype,
                                        **extra))
    import hashlib

    digest = None
    if model_path and Path(model_path).is_file():
        digest = hashlib.sha256(Path(model_path).read_bytes()).hexdigest()
    return {"model": str(model_path) if model_path else None, "model_sha256": digest,
            "rules": rule_description, "target": target, "backend": backend, "dtype": dtype,
            "version": lrpcore.__version__, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **extra}


def write_sidecar(path, info, overwrite=True) -> Path:
    side = Path(str(path) + ".json")
    atomic_write_text(side, json.dumps(info, indent=2, default=str) + "\n", overwrite)
    return side


def save_png(path, image_uint8, overwrite=True) -> None:
    _render.save_png(path, image_uint8, overwrite=overwrite)


def input_and_heatmap_png(result: ExplainResult, cmap, outline) -> np.ndarray:
    """The toolbox figure: input | heatmap, uint8."""
    model = result.request.model
    x01 = raw_to_unit(model, result.request.raw)
    hm = rendering.heatmap(result.relevance, x01 if outline else None, cmap=cmap)
    return rendering.compose([rendering.digit(x01), hm])


def export_single_png(path, result, cmap, outline, info) -> list[Path]:
    path = Path(path)
    save_png(path, input_and_heatmap_png(result, cmap, outline))
    return [path, write_sidecar(path, info)]


def export_single_npy(path, result, info) -> list[Path]:
    path = Path(path)
    atomic_save_npy(path, result.relevance_full)
    return [path, write_sidecar(path, info)]


def export_all_colormaps(folder, result, outline, info) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ExportError(f"{folder}: folder does not exist")
    model = result.request.model
    x01 = raw_to_unit(model, result.request.raw)
    written = []
    try:
        for cmap in rendering.colormap_names():
            path = folder / f"heatmap_{result.index}_{cmap}.png"
            hm = rendering.heatmap(result.relevance, x01 if outline else None, cmap=cmap)
            save_png(path, rendering.to_uint8(hm))
            written.append(path)
        written.append(write_sidecar(folder / f"heatmap_{result.index}", info))
    except BaseException:
        _remove(written)
        raise
    return written


@dataclass(frozen=True, eq=False)
class BatchExportRequest:
    model: object
    dataset: object
    indices: np.ndarray
    out_dir: str
    formats: tuple  # subset of ("png", "npy")
    rule: str
    layer_rules: tuple
    target: str
    backend: str
    dtype: str
    cmap: str
    outline: bool
    info: dict
    chunk: int = 256


def batch_export(req: BatchExportRequest, token: Token) -> list[Path]:
    """Explain and write the chosen samples; on cancel or error, no file of this call stays."""
    out = Path(req.out_dir)
    if not out.is_dir():
        raise ExportError(f"{out}: folder does not exist")
    module = _export_module()
    ex = Explainer(req.model, req.backend, req.dtype)
    config = resolve_rules(ex.layers, req.rule, dict(req.layer_rules))
    labels_all = getattr(req.dataset, "labels", None)
    indices = np.asarray(req.indices, dtype=np.int64)
    n = len(indices)
    written: list[Path] = []
    try:
        for start in range(0, n, req.chunk):
            token.check()
            idx = indices[start:start + req.chunk]
            raw = req.dataset.images(idx)
            labels = None if labels_all is None else np.asarray(labels_all)[idx]
            fwd = ex.forward(raw)
            target = int(req.target) if req.target.isdigit() else req.target
            R = fwd.relevance(config, target, labels=labels)
            if "png" in req.formats:
                written.extend(_write_pngs(module, out, R, req, raw, idx, token, start, n))
            elif "npy" in req.formats:
                for k, i in enumerate(idx):
                    token.check()
                    path = out / f"relevance_{int(i)}.npy"
                    atomic_save_npy(path, R[k])
                    written.append(path)
                    written.append(write_sidecar(path, {**req.info, "sample": int(i)}))
            token.check()
            token.progress(min(n, start + len(idx)), n)
    except BaseException:
        _remove(written)
        raise
    return written


def _write_pngs(module, out, R, req, raw, idx, token, done, total):
    """PNG input | heatmap per sample (and .npy when asked), through ``lrpcore.export``."""
    x01 = model_input_unit(req.model, raw)
    with_npy = "npy" in req.formats
    if module is not None and hasattr(module, "export_explanations"):
        paths = [Path(p) for p in module.export_explanations(
            out, R, x01, [int(i) for i in idx], [req.cmap], outline=req.outline,
            info=req.info, overwrite=True, npy=with_npy,
            progress=lambda d, t: token.progress(done + d, total),
            cancel=token.cancelled)]
        return paths + [Path(str(p) + ".json") for p in paths]
    written = []
    try:
        for k, i in enumerate(idx):
            token.check()
            path = out / f"heatmap_{int(i)}_{req.cmap}.png"
            hm = rendering.heatmap(R[k], x01[k] if req.outline else None, cmap=req.cmap)
            save_png(path, rendering.compose([rendering.digit(x01[k]), hm]))
            written.append(path)
            written.append(write_sidecar(path, {**req.info, "sample": int(i)}))
            if with_npy:
                path = out / f"relevance_{int(i)}.npy"
                atomic_save_npy(path, R[k])
                written.append(path)
                written.append(write_sidecar(path, {**req.info, "sample": int(i)}))
    except BaseException:
        _remove(written)
        raise
    return written


def _remove(paths) -> None:
    for p in paths:
        try:
            Path(p).unlink()
        except OSError:
            pass
