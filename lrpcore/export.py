"""Writing explanations to disk: PNGs in the toolbox's layouts, ``.npy`` relevance, figures.

Every file gets a JSON sidecar ``<file>.json`` recording how it was made (model file and its
SHA-256, rules, target, backend, dtype, software version, time), so an exported picture can
be traced back. Writes are atomic (:mod:`lrpcore.fileio`); an existing file is kept unless
``overwrite=True``; on failure or cancellation a call removes the files it wrote itself.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import math
import os
import stat
from pathlib import Path

import numpy as np

from . import __version__
from .errors import ExportError, ShapeError
from .fileio import (
    atomic_save_npy,
    atomic_write_bytes,
    atomic_write_text,
    discard_since,
    exists,
    stage_mark,
    staged_writes,
)
from .io.sidecar import refuse_model_sidecar
from .render import (
    TOOLBOX_COLORMAPS,
    as_map,
    check_png_name,
    check_scaling,
    compose,
    default_scaling,
    digit,
    encode_png,
    get_colormap,
    grid,
    heatmap,
    to_uint8,
)
from .render.outline import MAX_PIXELS, outline_sigma

SIDECAR_SUFFIX = ".json"


# --- provenance --------------------------------------------------------------------------
def sha256_file(path) -> str:
    """Hex SHA-256 of a regular file, read in chunks. A device or pipe is refused: a crafted
    sidecar naming ``/dev/zero`` as the model made ``lrp render --input FOLDER`` hash
    forever (opened without blocking, checked on the open descriptor: no swap in between)."""
    h = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ExportError(f"{path}: is a device, pipe or folder, not a model file")
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise ExportError(f"{path}: cannot read the model file for its checksum: "
                          f"{exc.strerror or exc}") from None
    return h.hexdigest()


def _model_file(model_path):
    from .io.models import model_file  # noqa: PLC0415 (io imports export's neighbours)

    return model_file(model_path)


DATASET_KEY = "dataset"
# what sidecars of earlier versions named the samples under ('lrp explain': "input", 'lrp
# concepts': "data"); read, never written
OLD_DATASET_KEYS = ("input", "data")


def where_found(spec, *, builtin_first=False) -> str:
    """A file or folder as an absolute path, a built-in name (``mnist-test``) as it is: a
    sidecar read from another folder (``lrp render R.npy --side-by-side``) still finds its
    model and input (a relative path was read against the reader's folder).

    ``builtin_first``: a built-in dataset name means the built-in dataset even where the
    working folder holds a file of that name, as the explorer opens its names
    (:func:`lrpcore.io.datasets.builtin_dataset`); the command line opens the file."""
    spec = os.fspath(spec)
    if builtin_first:
        from .io.datasets import DATASET_NAMES  # noqa: PLC0415 (io imports export's neighbours)

        if spec in DATASET_NAMES:
            return spec
    return os.path.abspath(spec) if os.path.exists(spec) else spec


def sidecar_info(model_path, rule_desc, target, backend, dtype, *, dataset=None,
                 builtin_first=False, **extra) -> dict:
    """The provenance every export records; ``model_path`` may be None for in-memory models.
    ``dataset`` (a file or built-in name) is recorded under one key for every writer,
    :data:`DATASET_KEY`, which :func:`sidecar_dataset` reads back; the model's and the
    samples' files are recorded absolute. ``builtin_first``: ``dataset`` was opened as the
    explorer opens names (:func:`where_found`)."""
    from .io.models import changed_since_loaded  # noqa: PLC0415

    old = sorted(set(extra) & set(OLD_DATASET_KEYS))
    if old:  # one key for the samples in every sidecar (three writers used three names)
        raise TypeError(f"sidecar_info: pass the samples as dataset=, not {old[0]}=")
    if dataset is not None:
        extra = {DATASET_KEY: where_found(dataset, builtin_first=builtin_first), **extra}
    file = None if model_path is None else _model_file(model_path)
    changed = file is not None and changed_since_loaded(file)
    info = {
        "model": None if model_path is None else where_found(model_path),
        # the hash of a file saved over the loaded one would name parameters not used here
        "model_sha256": None if file is None or changed else sha256_file(file),
        "rules": rule_desc,
        "target": target,
        "backend": backend,
        "dtype": None if dtype is None else str(np.dtype(dtype)),
        "software": "lrp-explorer",
        "version": __version__,
        "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    if changed:
        info["model_changed"] = ("the model file was replaced or removed after it was "
                                 "loaded; its checksum would not describe these results")
    info.update(extra)
    return _jsonable(info)


def _jsonable(value):
    """Plain JSON types from numpy scalars/arrays, paths, tuples and backends."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "nan"/"inf": a sidecar stays valid JSON for every reader
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return getattr(value, "name", None) or str(value)


def sidecar_dataset(side) -> str | None:
    """The samples a sidecar (a parsed JSON object) says it explained: its
    :data:`DATASET_KEY`, or a key of earlier versions; None when it names none (or not as
    text: a model sidecar's "input" is a specification, not samples)."""
    if not isinstance(side, dict):
        return None
    for key in (DATASET_KEY, *OLD_DATASET_KEYS):
        if isinstance(side.get(key), str) and side[key]:
            return side[key]
    return None


def sidecar_path(path) -> Path:
    return Path(os.fspath(path) + SIDECAR_SUFFIX)


def write_sidecar(path, info, overwrite=False, **fields) -> Path:
    """The sidecar of a file written elsewhere (e.g. streamed by ``lrp explain``)."""
    side = sidecar_path(path)
    meta = _jsonable({"file": Path(path).name, **fields, **dict(info or {})})
    atomic_write_text(side, json.dumps(meta, indent=2) + "\n", overwrite=overwrite)
    return side


# --- one file + its sidecar --------------------------------------------------------------
class _Writer:
    """Writes files with sidecars, remembers what it wrote, and can remove it again."""

    def __init__(self, info, overwrite):
        self.info = dict(info or {})
        self.overwrite = overwrite
        self.written: list[Path] = []  # every file, sidecars included (for clean-up)
        self.outputs: list[Path] = []  # the images and arrays (what callers asked for)
        self._mark = None  # where its staged block stood when it began (see remove_all)

    def _check_free(self, *paths):
        for p in paths:
            refuse_model_sidecar(p)
        if self.overwrite:
            return
        for p in paths:
            if exists(p):
                raise ExportError(f"{p}: file exists (pass overwrite=True / --overwrite to "
                                  "replace it)")

    def write(self, path, write_main, **fields) -> Path:
        path = Path(path)
        side = sidecar_path(path)
        self._check_free(path, side)
        write_main(path)
        self.written.append(path)
        self.outputs.append(path)
        self.written.append(write_sidecar(path, self.info, self.overwrite, **fields))
        return path

    def png(self, path, image, **fields) -> Path:
        check_png_name(path)
        data = encode_png(image)
        return self.write(path, lambda p: atomic_write_bytes(p, data, self.overwrite),
                          format="png", **fields)

    def npy(self, path, array, **fields) -> Path:
        array = np.asarray(array)
        return self.write(path, lambda p: atomic_save_npy(p, array, self.overwrite),
                          format="npy", shape=list(array.shape), dtype_saved=str(array.dtype),
                          **fields)

    def remove_all(self):
        """Take back everything written: staged files (still under temporary names) are
        discarded, so earlier files at those names stay as they were."""
        if self._mark is not None:
            discard_since(self._mark)
        else:
            for p in self.written:
                with contextlib.suppress(OSError):
                    p.unlink()
        self.written.clear()
        self.outputs.clear()


@contextlib.contextmanager
def _writing(info, overwrite):
    """A writer whose files (sidecars included) take their names together at the end, all or
    none (:func:`lrpcore.fileio.staged_writes`; inside a larger staged run, with that run)."""
    with staged_writes():
        w = _Writer(info, overwrite)
        w._mark = stage_mark()
        try:
            yield w
        except BaseException:
            w.remove_all()
            raise


def _ensure_dir(out_dir) -> Path:
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"{out}: cannot create the output folder: "
                          f"{exc.strerror or exc}") from None
    if not out.is_dir():
        raise ExportError(f"{out}: not a folder")
    return out


# --- single-sample exports ---------------------------------------------------------------
def render_fields(cmap, outline, scaling, sigma, x01=None) -> dict:
    """Sidecar fields of a heatmap; ``sigma`` None: that of ``x01``'s outline style."""
    return {"colormap": get_colormap(cmap).name, "outline": bool(outline),
            "scaling": int(scaling), "sigma": outline_sigma(x01, sigma)}


def input_heatmap_image(R, x01, cmap, outline=True, scaling=None, sigma=None) -> np.ndarray:
    """The toolbox's PNG content: input | 2-px black gap | heatmap (heatmap alone if no x).
    ``scaling`` None: from the map's size (:func:`~lrpcore.render.default_scaling`)."""
    scaling = _scaling(scaling, R)
    hm = heatmap(R, x01 if outline else None, cmap=cmap, scaling=scaling, sigma=sigma)
    if x01 is None:
        return compose([hm])
    return compose([digit(x01, scaling), hm])


def export_input_heatmap(path, R, x01, cmap="bwr", outline=True, scaling=None, sigma=None,
                         info=None, overwrite=False) -> Path:
    """PNG of input | heatmap (the toolbox demo's ``heatmap.png``) with its sidecar."""
    scaling = _scaling(scaling, R)
    image = input_heatmap_image(R, x01, cmap, outline and x01 is not None, scaling, sigma)
    with _writing(info, overwrite) as w:
        return w.png(path, image, layout="input|heatmap" if x01 is not None else "heatmap",
                     **render_fields(cmap, outline and x01 is not None, scaling, sigma, x01))


def export_heatmap(path, R, x01=None, cmap="bwr", outline=True, scaling=None, sigma=None,
                   info=None, overwrite=False) -> Path:
    """PNG of the heatmap alone (outlined when ``x01`` is given and ``outline``)."""
    scaling = _scaling(scaling, R)
    use_x = x01 if outline else None
    image = heatmap(R, use_x, cmap=cmap, scaling=scaling, sigma=sigma)
    with _writing(info, overwrite) as w:
        return w.png(path, image, layout="heatmap",
                     **render_fields(cmap, use_x is not None, scaling, sigma, x01))


def export_overlay(path, R, x01, cmap="bwr", opacity=0.6, channels="sum", scaling=1,
                   info=None, overwrite=False) -> list[Path]:
    """The heatmap blended over the greyscale photograph: ``path`` (PNG) and the same image
    as float ``.npy`` next to it, each with its sidecar."""
    from .render.overlay import channel_map, overlay  # noqa: PLC0415

    image = overlay(channel_map(R, channels), x01, opacity, cmap, scaling)
    fields = dict(render_fields(cmap, False, scaling, 2.0), opacity=float(opacity),
                  channels=channels)
    with _writing(info, overwrite) as w:
        png = w.png(path, image, layout="overlay", **fields)
        npy = w.npy(Path(path).with_suffix(".npy"), image.astype(np.float32),
                    layout="overlay", **fields)
    return [png, sidecar_path(png), npy, sidecar_path(npy)]


def export_explanation_figure(path, R, x01, cmap="bwr", outline=True, scale=None, title=(),
                              info=None, overwrite=False) -> Path:
    """A figure for papers (:func:`lrpcore.render.figure.figure`: chosen scale, colour bar,
    title) as PNG with its sidecar. Without ``scale``, one from the map's size
    (:func:`lrpcore.render.figure.figure_scale_for`: 8 for digits, 1 for photographs)."""
    from .render.figure import figure, figure_scale_for, figure_sigma  # noqa: PLC0415

    scale = figure_scale_for(R) if scale is None else int(scale)
    image = figure(R, x01, cmap=cmap, scale=scale, outline=outline, title=title)
    with _writing(info, overwrite) as w:
        return w.png(path, image, layout="figure: input|heatmap|colour bar",
                     title=list(title), **render_fields(cmap, outline and x01 is not None,
                                                        int(scale), figure_sigma(R, scale, x01)))


def number_width(indices) -> int:
    """Digits of the largest of ``indices``: the sample numbers of the files one run writes
    are zero-padded to it, so that a file browser sorts them in order (``heatmap_02`` before
    ``heatmap_10``; unpadded, ``heatmap_10`` came before ``heatmap_2``). One sample's file
    keeps its plain number (``heatmap_7_bwr.png``)."""
    values = np.asarray(indices, dtype=np.int64).reshape(-1)
    return len(str(int(values.max()))) if values.size else 1


def colormap_file_name(index, cmap, width=0) -> str:
    """``heatmap_{index}_{cmap}.png``, the index zero-padded to ``width`` digits."""
    return f"heatmap_{int(index):0{int(width)}d}_{get_colormap(cmap).name}.png"


def relevance_file_name(index, width=0) -> str:
    """``relevance_{index}.npy``, the index zero-padded to ``width`` digits."""
    return f"relevance_{int(index):0{int(width)}d}.npy"


def explanation_file_names(indices, cmaps, npy=False, width=None) -> list[str]:
    """The names ``export_explanations`` writes for samples ``indices`` (PNGs per colormap,
    ``relevance_{i}.npy`` with ``npy``; numbers padded to ``width``, by default that of the
    largest index), sidecars included: to refuse them before computing."""
    indices = list(indices)
    width = number_width(indices) if width is None else width
    names = []
    for i in indices:
        names += [colormap_file_name(i, c, width) for c in cmaps]
        if npy:
            names.append(relevance_file_name(i, width))
    return names + [sidecar_path(n).name for n in names]


def refuse_existing(folder, names, hint="choose an empty folder or remove them first") -> None:
    """ExportError when ``folder`` already holds any of ``names`` (one listing of the folder,
    however many names); a missing folder holds none."""
    try:
        present = set(os.listdir(folder))
    except OSError:
        return
    clash = [n for n in names if n in present]
    if clash:
        more = f" and {len(clash) - 1} more of its files" if len(clash) > 1 else ""
        raise ExportError(f"{Path(folder) / clash[0]}{more} already exist: nothing was "
                          f"written; {hint}")


def export_colormaps(out_dir, R, x01, index, cmaps=TOOLBOX_COLORMAPS, outline=True,
                     scaling=None, sigma=None, info=None, overwrite=False) -> list[Path]:
    """One sample in every colormap: ``heatmap_{index}_{cmap}.png`` (input | heatmap)."""
    out = _ensure_dir(out_dir)
    scaling = _scaling(scaling, R)
    images = {c: input_heatmap_image(R, x01, c, outline, scaling, sigma) for c in cmaps}
    with _writing(info, overwrite) as w:
        for c, image in images.items():
            w.png(out / colormap_file_name(index, c), image, sample=int(index),
                  layout="input|heatmap" if x01 is not None else "heatmap",
                  **render_fields(c, outline and x01 is not None, scaling, sigma, x01))
        return list(w.outputs)


def export_relevance(path, R, info=None, overwrite=False, **fields) -> Path:
    """The relevance as ``.npy`` (in the input's shape, as given) with its sidecar."""
    R = _finite(R, "relevance")
    with _writing(info, overwrite) as w:
        return w.npy(path, R, **fields)


def export_relevance_batch(path, R, info=None, overwrite=False, per_sample=False,
                           indices=None) -> list[Path]:
    """A batch as one N×… ``.npy``; with ``per_sample`` also ``relevance_{i}.npy`` beside it."""
    R = _finite(R, "relevance")
    if R.ndim < 2:
        raise ShapeError(f"a batch of relevance maps needs a sample axis, got shape {R.shape}")
    indices = _indices(indices, R.shape[0])
    width = number_width(indices)
    path = Path(path)
    _ensure_dir(path.parent)
    with _writing(info, overwrite) as w:
        w.npy(path, R, samples=indices)
        if per_sample:
            for k, i in enumerate(indices):
                w.npy(path.parent / relevance_file_name(i, width), R[k], sample=i)
        return list(w.outputs)


# --- figures -----------------------------------------------------------------------------
MAX_FIGURE_PIXELS = MAX_PIXELS  # a figure grid in all: 64 Mi pixels (192 MB as RGB)


def check_figure_size(rows: int, cols: int, one_map, scaling) -> int:
    """Refuse a figure grid of more than MAX_FIGURE_PIXELS before anything is drawn (each
    repeated sample or colormap adds a cell: without a bound, a long command line asked for
    gigabytes); returns the pixels it will have."""
    h, w = as_map(one_map).shape[:2]
    s = check_scaling(scaling, h, w)
    total = int(rows) * int(cols) * (h * s + 2) * (w * s + 2)
    if total > MAX_FIGURE_PIXELS:
        raise ShapeError(f"a figure of {rows:,} rows × {cols:,} columns of {h * s}×{w * s}-pixel "
                         f"cells would have {total:,} pixels, more than {MAX_FIGURE_PIXELS:,}; "
                         "show fewer samples or colormaps, or lower the scaling")
    return total


def figure_image(R, x01, cmaps, indices=None, outline=True, scaling=3, sigma=None,
                 row_titles=None) -> np.ndarray:
    """A grid: one row per sample (input first when given), one column per colormap."""
    R = np.asarray(R)
    n = R.shape[0] if R.ndim >= 2 else 0
    if n == 0:
        raise ShapeError(f"a figure needs a batch of relevance maps, got shape {R.shape}")
    if x01 is not None and np.shape(x01)[0] != n:
        raise ShapeError(f"{np.shape(x01)[0]} inputs for {n} relevance maps")
    cmaps = [get_colormap(c).name for c in cmaps]
    if not cmaps:
        raise ShapeError("a figure needs at least one colormap")
    indices = _indices(indices, n)
    check_figure_size(n, len(cmaps) + (x01 is not None), R[0], scaling)
    cells = []
    for k in range(n):
        x = None if x01 is None else x01[k]
        row = [digit(x, scaling)] if x is not None else []
        row += [heatmap(R[k], x if outline else None, cmap=c, scaling=scaling, sigma=sigma)
                for c in cmaps]
        cells.append([to_uint8(cell) for cell in row])  # 3 bytes a pixel, not 24, until drawn
    titles = (["input"] if x01 is not None else []) + cmaps
    rows = row_titles if row_titles is not None else [f"#{i}" for i in indices]
    return grid(cells, col_titles=titles, row_titles=rows)


def export_figure(path, R, x01, cmaps, indices=None, outline=True, scaling=3, sigma=None,
                  info=None, overwrite=False, row_titles=None, samples=None) -> Path:
    """The figure grid as one PNG with its sidecar; ``samples``: the sample each row is of,
    where it is not its index (maps that are all of one sample: lrp concepts' channels)."""
    image = figure_image(R, x01, cmaps, indices, outline, scaling, sigma, row_titles)
    n = np.shape(R)[0]
    samples = _indices(indices, n) if samples is None else [int(s) for s in samples]
    with _writing(info, overwrite) as w:
        return w.png(path, image, layout="figure grid", samples=samples,
                     colormaps=[get_colormap(c).name for c in cmaps], outline=bool(outline),
                     scaling=int(scaling),
                     sigma=outline_sigma(None if x01 is None else x01[0], sigma))


# --- batch export with progress and cancellation ------------------------------------------
def export_explanations(out_dir, R, x01, indices, cmaps, outline=True, scaling=None, info=None,
                        overwrite=False, progress=None, cancel=None, *, sigma=None,
                        npy=False, to_image=None, per_sample=None, width=None,
                        pixels=None) -> list[Path]:
    """Write ``heatmap_{i}_{cmap}.png`` for every sample and colormap (and, with ``npy``,
    ``relevance_{i}.npy``), each with a sidecar; ``i`` is zero-padded to ``width`` digits,
    by default those of the largest of ``indices`` (a caller writing one run in parts gives
    the run's width: :func:`number_width`).

    ``R`` is (N, H, W[, C]) or (N, D) relevance in the model-input layout, ``x01`` the inputs
    scaled to [0, 1] in the same layout (or None: heatmaps alone), ``indices`` the sample
    numbers used in file names, ``cmaps`` colormap names (or one name). ``progress(done,
    total)`` is called after every sample; when ``cancel()`` returns True the call stops and
    removes the files it wrote, returning an empty list. On an error it removes them too and
    raises (ExportError for I/O).
    ``to_image`` maps one sample of the model's layout to the H×W×C image the PNGs draw
    (C×H×W models); the ``.npy`` keeps the model's layout. ``per_sample`` (one dict per
    sample, e.g. its predicted and explained class) adds fields to that sample's sidecars.
    ``pixels``: the samples' uint8 images (N×H×W×C, as drawn), drawn and outlined instead of
    ``x01`` (:func:`~lrpcore.batch_export.photo_pixels`), as the explorer shows them.
    Returns the paths of the images and arrays written (sidecars not listed).
    """
    R = np.asarray(R)
    if R.ndim < 2 or R.shape[0] == 0:
        raise ShapeError(f"expected a batch of relevance maps (N, ...), got shape {R.shape}")
    n = R.shape[0]
    if x01 is not None:
        x01 = np.asarray(x01)
        if x01.shape[0] != n or x01[0].size != R[0].size:
            raise ShapeError(f"inputs of shape {x01.shape} do not match relevance of shape "
                             f"{R.shape}")
    indices = _indices(indices, n)
    width = number_width(indices) if width is None else int(width)
    extra = [{}] * n if per_sample is None else [dict(d) for d in per_sample]
    if len(extra) != n:
        raise ShapeError(f"{len(extra)} per-sample sidecar fields for {n} samples")
    # one name is one colormap ('bwr' was read as 'b', 'w', 'r': "unknown colormap 'b'")
    cmaps = [get_colormap(c).name for c in ([cmaps] if isinstance(cmaps, str) else cmaps)]
    out = _ensure_dir(out_dir)
    use_outline = bool(outline) and x01 is not None
    with _writing(info, overwrite) as w:
        for k, i in enumerate(indices):
            if cancel is not None and cancel():
                w.remove_all()
                return []
            x = None if x01 is None else x01[k]
            r = R[k]
            if to_image is not None:
                r = to_image(r)
                x = None if x is None else to_image(x)
            if pixels is not None:  # a photograph: its own pixels, outline included
                x = pixels[k] / 255.0
            s = _scaling(scaling, r)
            for c in cmaps:
                image = input_heatmap_image(r, x, c, use_outline, s, sigma)
                w.png(out / colormap_file_name(i, c, width), image, sample=i,
                      layout="input|heatmap" if x is not None else "heatmap",
                      **render_fields(c, use_outline, s, sigma, x), **extra[k])
            if npy:
                w.npy(out / relevance_file_name(i, width), _finite(R[k], "relevance"), sample=i,
                      **extra[k])
            if progress is not None:
                progress(k + 1, n)
        return list(w.outputs)


# --- helpers -----------------------------------------------------------------------------
def _scaling(scaling, R) -> int:
    """``scaling``, or without one the map's own (3 for a digit, 1 for a photograph)."""
    return default_scaling(R) if scaling is None else scaling


def _indices(indices, n) -> list[int]:
    if indices is None:
        return list(range(n))
    out = [int(i) for i in np.asarray(indices).reshape(-1)]
    if len(out) != n:
        raise ShapeError(f"{len(out)} sample indices for {n} samples")
    return out


def _finite(R, what) -> np.ndarray:
    R = np.asarray(R)
    if not np.issubdtype(R.dtype, np.floating) and not np.issubdtype(R.dtype, np.integer):
        raise ShapeError(f"{what} must be real numbers, got dtype {R.dtype}")
    if not np.all(np.isfinite(R)):
        raise ShapeError(f"{what} contains NaN or infinite values")
    return R


__all__ = [
    "sha256_file", "sidecar_info", "sidecar_dataset", "sidecar_path", "input_heatmap_image",
    "export_input_heatmap", "export_heatmap", "export_colormaps", "colormap_file_name",
    "relevance_file_name", "explanation_file_names", "number_width",
    "export_relevance", "export_relevance_batch", "figure_image", "export_figure",
    "export_explanations",
]
