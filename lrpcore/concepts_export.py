"""Writing a concept analysis to a folder (``lrp concepts``): ranking, conditional heatmaps,
PNGs, reference galleries, each with its JSON sidecar.

Everything is written into a fresh temporary folder beside the destination, which is renamed
into place at the end: an error or Ctrl-C leaves no partial output, and ``--overwrite``
replaces an old folder only once the new one is complete.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil

import numpy as np

from .errors import ExportError
from .export import export_input_heatmap, write_sidecar
from .fileio import (
    atomic_save_npy,
    atomic_write_bytes,
    atomic_write_text,
    clean_stale_temporaries,
    make_temp_folder,
    move_folder_into_place,
    no_folder_error,
)
from .relmax import _spatial
from .render.compose import compose, digit, encode_png, heatmap
from .render.outline import DIGIT_SCALING
from .text import short

TILE = 28  # reference crops are shown at this side (nearest neighbour), before scaling


def ranking_csv(ranking) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["channel", "relevance", "share"])
    for c, r, s in ranking.rows():
        w.writerow([c, repr(float(r)), repr(float(s))])
    return buf.getvalue()


def _nearest(a, side=TILE) -> np.ndarray:
    a = np.asarray(a)
    if a.size == 0:
        return np.zeros((side, side) + a.shape[2:])
    ys = (np.arange(side) * a.shape[0] // side).clip(0, a.shape[0] - 1)
    xs = (np.arange(side) * a.shape[1] // side).clip(0, a.shape[1] - 1)
    return a[ys][:, xs]


def gallery_image(crops, cmap="bwr", scaling=DIGIT_SCALING) -> np.ndarray:
    """One row per reference sample: the input crop above its conditional heatmap crop."""
    columns = []
    for _, image, heat in crops:
        top = digit(_nearest(image), scaling)
        bottom = heatmap(_nearest(heat), None, cmap=cmap, scaling=scaling)
        gap = np.zeros((2,) + top.shape[1:])
        columns.append(np.concatenate([top, gap, bottom], axis=0))
    return compose(columns)


def image01(explainer, images, spec, raw=False):
    """dataset index → the fed input as an (H, W) or (H, W, 3) image in [0, 1] (``raw``:
    ``images`` are arrays in the model's own layout, fed as stored)."""
    from .relmax import take  # noqa: PLC0415
    from .spec import unit_inputs  # noqa: PLC0415

    def get(i):
        fed = explainer.prepare(take(images, [i]), raw)
        x = unit_inputs(spec, fed)[0]
        if x.ndim == 3 and x.shape[0] in (1, 3) and x.shape[-1] not in (1, 3):
            x = np.moveaxis(x, 0, -1)
        if x.ndim == 1:  # a dense model's flat input, drawn as relmax draws its heatmaps
            x = x.reshape(int(round(np.sqrt(x.size))), -1)
        return x[..., 0] if x.ndim == 3 and x.shape[-1] == 1 else x
    return get


# what write_concepts puts in a folder: --overwrite replaces only a folder of these
_WRITTEN = re.compile(r"(ranking\.csv|conditional\.npy|heatmap\.png|conditional_\d+_ch\d+\.png"
                      r")(\.json)?|references")
_WRITTEN_REFS = re.compile(r"(channel_\d+\.png|references\.npz)(\.json)?")


def _foreign(out) -> str | None:
    """Why ``out`` is no output folder of lrp concepts (None: it is one, or empty): a typo in
    ``--out ~/thesis --overwrite`` must not delete the folder and everything in it."""
    if os.path.islink(out) or not os.path.isdir(out):
        return "it is not a folder" if not os.path.islink(out) else "it is a symbolic link"
    refs = os.path.join(out, "references")
    try:
        names = os.listdir(out)
        if "references" in names:
            if os.path.islink(refs) or not os.path.isdir(refs):
                return "its references is not a folder"
            names += [f"references/{n}" for n in os.listdir(refs)
                      if not _WRITTEN_REFS.fullmatch(n)]
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    other = sorted(n for n in names if not _WRITTEN.fullmatch(n))
    if other:
        return f"it holds {short(other[0])}" + (f" and {len(other) - 1:,} more" if len(other) > 1
                                                else "")
    return None


def check_output_folder(out, overwrite) -> str:
    """``out`` as an absolute path, once it may become the output folder: refused when its
    parent is missing, or it exists (not as an empty folder) without ``overwrite``, or
    ``overwrite`` would replace something that is no output folder of lrp concepts."""
    out = os.path.abspath(os.fspath(out))
    parent = os.path.dirname(out)
    if not os.path.isdir(parent):
        raise no_folder_error(out, parent)
    if os.path.lexists(out) and not (os.path.isdir(out) and not os.listdir(out)):
        if not overwrite:
            raise ExportError(f"{out}: exists (use --overwrite to replace it)")
        why = _foreign(out)
        if why:
            raise ExportError(f"{out}: exists and is not an output folder of lrp concepts "
                              f"({why}); --overwrite replaces only such a folder: give "
                              "another --out")
    return out


@contextlib.contextmanager
def output_folder(out, overwrite):
    """A temporary folder that becomes ``out`` when the block succeeds (checked again: the
    folder may have changed while the analysis ran)."""
    out = check_output_folder(out, overwrite)
    parent = os.path.dirname(out)
    clean_stale_temporaries(parent)  # folders of killed runs of this machine
    try:
        tmp = make_temp_folder(parent, "-concepts")
    except OSError as exc:  # a read-only or full disk: one line, not an internal error
        raise ExportError(f"{out}: cannot write in {parent}: {exc.strerror or exc}") from None
    try:
        try:
            yield tmp
        except ExportError as exc:  # named as the user finds it, not the hidden temporary
            raise ExportError(str(exc).replace(tmp, out)) from None
        except OSError as exc:  # e.g. a full disk under np.savez
            raise ExportError(f"{out}: write failed: {exc.strerror or exc}; nothing was "
                              "changed") from None
        # without overwrite a folder another run finished meanwhile stays (the rename then
        # fails: it is not empty); it was replaced, as if --overwrite had been given
        move_folder_into_place(tmp, out, replace=overwrite and os.path.exists(out))
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, ExportError):
            raise ExportError(f"{out}: cannot give the finished folder its name: "
                              f"{exc.strerror or exc}; nothing was changed") from None
        raise


def rank_width(count) -> int:
    """Digits of the ranks in ``count`` file names: three (000…999, the names scripts know),
    more where there are more maps, so that the names sort in rank order (conditional_1000
    sorted before conditional_101)."""
    return max(3, len(str(max(int(count) - 1, 0))))


def write_concepts(folder, ranking, conditional, x01, info, refs=None, gallery=None,
                   cmap="bwr", scaling=None, sample_fields=None) -> list[str]:
    """Write ranking.csv, conditional.npy, heatmap.png, conditional_<rank>_ch<c>.png and the
    reference galleries into ``folder`` (a fresh folder); returns the names written.

    ``sample_fields`` (:func:`lrpcore.batch_export.sample_classes` of the sample: its
    predicted and explained class) go into the sidecars of the files about the sample, not
    into those of the references, which are other samples."""
    names = []
    sample_info = {**info, **(sample_fields or {})}

    def side(name, about=sample_info, **fields):
        write_sidecar(os.path.join(folder, name), about, **fields)
        names.append(name)

    atomic_write_text(os.path.join(folder, "ranking.csv"), ranking_csv(ranking))
    side("ranking.csv", format="csv", content="channels ranked by relevance",
         layer=ranking.layer, layer_name=ranking.name)
    atomic_save_npy(os.path.join(folder, "conditional.npy"), conditional)
    side("conditional.npy", format="npy", content="conditional heatmaps, ranking order",
         channels=ranking.channels[:len(conditional)].tolist(), shape=list(conditional.shape))
    flat = _spatial(np.asarray(ranking.heatmap)[None])[0]
    export_input_heatmap(os.path.join(folder, "heatmap.png"), flat, x01, cmap,
                         scaling=scaling, info=sample_info)
    names.append("heatmap.png")
    width = rank_width(len(conditional))
    for rank, (c, R) in enumerate(zip(ranking.channels, conditional, strict=False)):
        name = f"conditional_{rank:0{width}d}_ch{int(c)}.png"
        export_input_heatmap(os.path.join(folder, name), _spatial(R[None])[0], x01, cmap,
                             scaling=scaling, info={**sample_info, "channel": int(c), "rank": rank})
        names.append(name)
    if refs is not None:
        ref_dir = os.path.join(folder, "references")
        os.mkdir(ref_dir)
        searched = refs.searched()
        np.savez(os.path.join(ref_dir, "references.npz"), samples=refs.samples,
                 relevance=refs.relevance, boxes=refs.boxes_by_channel(),
                 searched_channels=searched)
        write_sidecar(os.path.join(ref_dir, "references.npz"), info, format="npz",
                      content="RelMax reference samples: dataset indices (channel × rank), "
                      "their channel relevance, crop boxes y0,y1,x0,x1 in the fed input "
                      "(-1 in the rows of channels not searched)",
                      searched_channels=searched.tolist())
        for c in ranking.channels[:len(conditional)]:
            name = os.path.join("references", f"channel_{int(c)}.png")
            image = gallery_image(refs.crops(int(c), gallery), cmap, scaling or DIGIT_SCALING)
            atomic_write_bytes(os.path.join(folder, name), encode_png(image))
            side(name, info, format="png", channel=int(c),
                 samples=refs.samples[int(c)].tolist(), layout="input crop over its "
                 "conditional heatmap, one column per reference sample")
    return names


__all__ = ["check_output_folder", "gallery_image", "image01", "output_folder", "rank_width",
           "ranking_csv", "write_concepts"]
