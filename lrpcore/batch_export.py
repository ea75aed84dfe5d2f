"""Explain a batch and export it: the routine behind ``lrp demo``, ``lrp explain --png`` and
the GUI's batch export (three copies before).

``export_explained`` writes one explained chunk (heatmap PNGs in each colormap, input beside
it, and the relevance as ``.npy``, each with its sidecar); ``explain_and_export`` reads,
explains and writes samples chunk by chunk, refuses existing files before computing, and
leaves no file of its own behind when it is cancelled or fails.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import Cancelled
from .export import (
    explanation_file_names,
    export_explanations,
    number_width,
    refuse_existing,
)
from .fileio import discard_since, stage_mark, staged_writes
from .map_targets import predicted_classes
from .spec import unit_inputs
from .targets import resolve_classes


def sample_classes(model, y, target, labels=None, files=None, region=None) -> list[dict]:
    """Per sample of the outputs ``y`` (N×K; a map's: the class at the most pixels,
    :mod:`lrpcore.map_targets`): its predicted class and the class explained
    (none for target "output"), by index and name, as the GUI's single exports record them:
    a heatmap of target "pred" said nowhere which of 1000 classes it explains. ``files``
    (:meth:`Dataset.sample_files`, one per sample) adds ``"sample_file"``; ``region``: a
    map's box the target was narrowed to (:mod:`lrpcore.map_targets`)."""
    y = np.asarray(y)
    names = list(model.class_names or [])
    explained = resolve_classes(y, target, labels, class_names=names, region=region)

    def name(k):
        return str(names[k]) if 0 <= k < len(names) else str(k)

    out = []
    for n, k in enumerate(predicted_classes(y)):
        fields = {"predicted_class": int(k), "predicted_name": name(int(k))}
        if explained is not None:
            e = int(explained[n])
            fields.update(explained_class=e, explained_name=name(e))
        if files is not None:
            fields["sample_file"] = files[n]
        out.append(fields)
    return out


def photo_pixels(raw, x01, to_image=None):
    """``raw`` (the samples as read, before the model's preprocessing) when they are uint8
    colour images of the size drawn: a photograph's input panel and outline show its own
    pixels (in every PNG and the explorer), where ``x01`` (x/255 through the model's scaling
    and back, truncated as the toolbox draws) came out one lower in about half its values
    and, with one value range for a mean/std model's channels, shifted colours; else None
    (digits keep the toolbox's)."""
    if raw is None or x01 is None:
        return None
    raw = np.asarray(raw)
    drawn = np.shape(x01[0] if to_image is None else to_image(x01[0]))
    if raw.dtype != np.uint8 or raw.ndim != 4 or raw.shape[-1] != 3 or raw.shape[1:] != drawn:
        return None
    return raw


def export_explained(out_dir, explainer, R, fed, indices, cmaps=(), npy=True, outline=True,
                     scaling=None, info=None, overwrite=False, progress=None,
                     cancel=None, classes=None, width=None, raw=None) -> list[Path]:
    """Write the explained chunk (``R`` for the model inputs ``fed``, samples ``indices``):
    PNGs draw the input scaled as ``lrp explain --png`` does; ``classes`` (from
    :func:`sample_classes`) names each sample's classes in its sidecars; ``width``: the
    digits of the whole run's file numbers (a chunk's own largest index by default);
    ``raw``: the samples before preprocessing, a photograph's drawn as they are
    (:func:`photo_pixels`). Returns images and arrays."""
    cmaps = list(cmaps)
    spec = explainer.model.input_spec
    x01 = unit_inputs(spec, fed) if cmaps else None
    # PNGs draw images H×W×C; a C×H×W model's maps were drawn as 3-pixel-high strips
    to_image = (lambda a: spec.image_layout(a[None])[0]) if spec is not None else None
    return export_explanations(out_dir, R, x01, indices, cmaps, outline=outline,
                               scaling=scaling, info=info, overwrite=overwrite,
                               progress=progress, cancel=cancel, npy=npy, to_image=to_image,
                               per_sample=classes, width=width,
                               pixels=photo_pixels(raw, x01, to_image))


def explain_and_export(out_dir, explainer, read, indices, rules, target="pred", labels=None,
                       cmaps=(), npy=True, outline=True, scaling=None, info=None,
                       overwrite=False, chunk=256, progress=None, cancel=None,
                       files=None, region=None) -> list[Path]:
    """Explain samples ``indices`` and write them into ``out_dir``.

    ``read(idx)`` returns the raw samples of an index array (``Dataset.images``);
    ``labels`` are all labels of the dataset (indexed like it) or None. ``progress(done,
    total)`` counts samples; when ``cancel()`` turns True the call raises
    :class:`~lrpcore.errors.Cancelled`. ``files(idx)``: the samples' image files
    (:meth:`Dataset.sample_files`), recorded in their sidecars; ``region``: a segmentation
    model's box of its map (:mod:`lrpcore.map_targets`). Returns the images and arrays
    written (sidecars beside each).
    """
    indices = [int(i) for i in np.asarray(indices).reshape(-1)]
    cmaps = list(cmaps)
    width = number_width(indices)  # every chunk's files numbered alike
    if not overwrite:
        refuse_existing(out_dir, explanation_file_names(indices, cmaps, npy=npy, width=width),
                        hint="choose an empty folder, or overwrite")
    n = len(indices)
    written: list[Path] = []
    with staged_writes():  # every file takes its name at the end, all or none
        mark = stage_mark()
        try:
            for start in range(0, n, max(int(chunk), 1)):
                if cancel is not None and cancel():
                    raise Cancelled("export cancelled; no files were kept")
                idx = np.asarray(indices[start:start + chunk], dtype=np.int64)
                raw = read(idx)
                fed = explainer.prepare(raw)
                lab = None if labels is None else np.asarray(labels)[idx]
                fwd = explainer.forward(fed, raw=True)
                R = fwd.relevance(rules, target, labels=lab, region=region)
                classes = sample_classes(explainer.model, fwd.outputs(), target, lab,
                                         None if files is None else files(idx), region)
                step = None if progress is None else (lambda d, _t, s=start: progress(s + d, n))
                paths = export_explained(out_dir, explainer, R, fed, idx, cmaps, npy, outline,
                                         scaling, info, overwrite, step, cancel, classes,
                                         width, raw)
                if cancel is not None and cancel():  # the chunk took its own files back
                    raise Cancelled("export cancelled; no files were kept")
                written += [Path(p) for p in paths]
        except BaseException:
            discard_since(mark)  # staged files only: earlier files at those names stay
            raise
    return written
