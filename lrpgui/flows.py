"""The export and download flows without Qt: what each export writes, which questions it
needs answered, what it refuses and what the status bar says afterwards. The window only
asks the questions (``lrpgui.dialogs``), shows progress and hands jobs to its workers;
tests drive every rule here without a widget.

Every refusal is a :class:`Refused` with a dialog title and a one-line message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lrpcore.errors import LRPError
from lrpcore.fileio import within
from lrpcore.io import download
from lrpcore.text import is_digits

from . import services
from .session import message

DEFAULT_FIGURE_SCALE = 8
MAX_FIGURE_SCALE = 64  # the most the scale dialog offers


class Refused(LRPError):
    """An export or download that was not started: ``title`` for a dialog."""

    def __init__(self, title: str, message: str):
        super().__init__(message)
        self.title = title


@dataclass(frozen=True)
class SingleExport:
    """One kind of export of the explanation on display.

    ``write(path, result, state, info)`` writes and returns the paths; ``name`` is the
    suggested file name (``{index}`` is the sample, ``{colormap}`` the colormap on display);
    ``filters`` None asks for a folder.
    """

    title: str
    name: str
    filters: str | None
    write: Callable
    colormap_in_info: bool = True
    needs_scale: bool = False
    image: bool = True  # draws the relevance as an image (refused for a 2-feature model)


def _png(path, result, state, info, scale=None):
    return services.export_single_png(path, result, state.colormap, state.outline, info,
                                      state.channels)


def _figure(path, result, state, info, scale=None):
    # no scale: one from the map's size (8 for digits, 1 for a 224×224 photograph)
    return services.export_figure(path, result, state.colormap, state.outline,
                                  None if scale is None else int(scale), info, state.channels)


def _npy(path, result, state, info, scale=None):
    return services.export_single_npy(path, result, info)


def _overlay(path, result, state, info, scale=None):
    return services.export_overlay(path, result, state.colormap, state.overlay_opacity,
                                   state.channels, info)


def _colormaps(folder, result, state, info, scale=None):
    return services.export_all_colormaps(folder, result, state.outline, info, state.channels)


PNG = "PNG (*.png)"
SINGLE_EXPORTS: dict[str, SingleExport] = {
    # named as lrp explain --png, the batch export and "all colormaps" name it
    "png": SingleExport("Export PNG", "heatmap_{index}_{colormap}.png", PNG, _png),
    "figure": SingleExport("Export figure", "figure_{index}.png", PNG, _figure,
                           needs_scale=True),
    "npy": SingleExport("Export relevance", "relevance_{index}.npy", "NumPy (*.npy)", _npy,
                        colormap_in_info=False, image=False),
    "overlay": SingleExport("Export overlay", "overlay_{index}.png", PNG, _overlay),
    "colormaps": SingleExport("Export all colormaps", "", None, _colormaps,
                              colormap_in_info=False),
}


def file_suffix(filters: str) -> str:
    """The suffix of a save dialog's first filter: ".png" of "PNG (*.png)"."""
    found = re.search(r"\*(\.\w+)", filters)
    return found.group(1).lower() if found else ""


def written_status(paths, what="wrote") -> str:
    """'wrote a.png and 1 more': the status bar after an export."""
    paths = list(paths)
    return f"{what} {paths[0]}" + (f" and {len(paths) - 1} more" if len(paths) > 1 else "")


def figure_scale(remembered, relevance=None, remembered_side=None) -> int:
    """The scale to offer for a figure of ``relevance``: the remembered one when it is a whole
    number from 1 to :data:`MAX_FIGURE_SCALE` chosen for maps of this size
    (``remembered_side``: their longer side; one remembered without a size was chosen for
    digits), else one from the map's size
    (:func:`lrpcore.render.figure.figure_scale_for`: 8 for digits, 1 for a 224×224 photograph,
    where the remembered 8 of digits made a 3,700-pixel-wide PNG)."""
    from lrpcore.render.figure import figure_scale_for  # noqa: PLC0415

    auto = DEFAULT_FIGURE_SCALE if relevance is None else figure_scale_for(relevance)
    text = str(remembered or "").strip()
    # a settings file's 99999999999999999999 made the scale dialog fail (OverflowError: Qt's
    # spin box takes a C int), so Export figure did nothing at all
    if not (is_digits(text) and len(text) < 4 and 1 <= int(text) <= MAX_FIGURE_SCALE):
        return auto
    side = str(remembered_side or "").strip()
    if relevance is None or (side == "" and auto == DEFAULT_FIGURE_SCALE) \
            or side == str(figure_side(relevance)):
        return int(text)
    return auto


def figure_side(relevance) -> int:
    """The longer side of a map, in its pixels: what a remembered figure scale is kept for."""
    from lrpcore.render.outline import as_map  # noqa: PLC0415

    return max(as_map(relevance).shape)


def open_files(state) -> dict:
    """{real path: path} of the files the explorer reads: the open model, its sidecar and a
    dataset file (read as it is needed, not held in memory)."""
    from lrpcore.io.sidecar import sidecar_path as model_sidecar  # noqa: PLC0415

    files = []
    if state.model_path and os.path.isfile(state.model_path):
        files += [state.model_path, model_sidecar(state.model_path)]
    if state.dataset_name and os.path.isfile(state.dataset_name):
        files.append(state.dataset_name)
    return {os.path.realpath(f): f for f in files if os.path.isfile(f)}


def refuse_open_file(state, path, title) -> None:
    """Refused (``title``) when writing ``path`` would replace a file the explorer reads (the
    save dialog's "replace?" named the file, not that the session reads it; the CLI refuses
    such an output even with --overwrite)."""
    files = open_files(state)
    real = os.path.realpath(path)
    if real in files:
        raise Refused(title, f"{path}: is {files[real]}, which the explorer reads; writing "
                      "there would replace it: choose another name")


def _an_overlay(npy) -> bool:
    """Whether ``npy`` is the array of an earlier overlay export (its sidecar says so)."""
    import json  # noqa: PLC0415

    from lrpcore.export import sidecar_path  # noqa: PLC0415

    side = sidecar_path(npy)
    if not os.path.isfile(side):  # a named pipe there would block the window
        return False
    try:
        with open(side, encoding="utf-8") as fh:
            meta = json.loads(fh.read(1 << 20))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(meta, dict) and meta.get("layout") == "overlay"


class Exports:
    """The explorer's exports, reading the session's result on display and its state."""

    def __init__(self, session):
        self.session = session

    @property
    def state(self):
        return self.session.state

    def current(self):
        """The result on display, or Refused when there is none yet."""
        result = self.session.last_result
        if result is None or self.state.explanation is None:
            raise Refused("Nothing to export", "no explanation is on display yet")
        return result

    def check(self, kind, result) -> None:
        """Refused before a file name is asked for when export ``kind`` cannot be made of
        ``result`` (a PNG of a model whose input is no image, such as the toolbox's XOR net)."""
        if not SINGLE_EXPORTS[kind].image:
            return
        from lrpcore.render.outline import as_map  # noqa: PLC0415

        try:
            as_map(result.relevance)
        except LRPError as exc:
            raise Refused("Export failed", message(exc)) from None

    def check_target(self, kind, path) -> None:
        """Refused when export ``kind`` to ``path`` would replace a file the session reads
        (the open dataset's .npy, the model or its sidecar: the save dialog's "replace?" named
        only the file chosen, and the CLI refuses such an output even with --overwrite), land
        in the image folder being explored (its heatmaps would be read as photos next time, as
        the batch export refuses), or replace a file the dialog never named: the overlay's
        ``.npy`` beside its PNG replaced any ``NAME.npy`` there (the open samples' included)
        unless it is an earlier overlay."""
        from lrpcore.export import sidecar_path  # noqa: PLC0415

        path = os.fspath(path)
        photos = self.state.dataset_name
        if photos and os.path.isdir(photos) and within(path, photos):
            raise Refused("Cannot export", f"{path}: is inside the image folder {photos} "
                          "being explored; choose a folder outside it")
        if SINGLE_EXPORTS[kind].filters is None:
            return  # a folder: its files are new ones (refused where they exist)
        written = [path, os.fspath(sidecar_path(path))]
        if kind == "overlay":
            npy = os.path.splitext(path)[0] + ".npy"
            written += [npy, os.fspath(sidecar_path(npy))]
            if os.path.exists(npy) and not _an_overlay(npy):
                raise Refused("Cannot export", f"{npy}: exists and is no overlay export; "
                              "the overlay's .npy beside its PNG would replace it: choose "
                              "another name")
        for target in written:
            refuse_open_file(self.state, target, "Cannot export")
        suffix = file_suffix(SINGLE_EXPORTS[kind].filters)
        if not path.lower().endswith(suffix):  # as 'lrp' refuses --out heatmap.jpg
            raise Refused("Cannot export", f"{path}: this export writes a {suffix} file; "
                          f"name the file …{suffix}")

    def suggested_name(self, kind, result) -> str:
        return SINGLE_EXPORTS[kind].name.format(index=result.index, colormap=self.state.colormap)

    def write(self, kind, path, result=None, scale=None) -> list:
        """Write export ``kind`` of ``result`` (the one on display) to ``path``; Refused with
        the reason when it fails (nothing is left behind: lrpcore.export writes atomically)."""
        spec = SINGLE_EXPORTS[kind]
        result = self.current() if result is None else result
        self.check_target(kind, path)
        extra = {"colormap": self.state.colormap} if spec.colormap_in_info else {}
        info = self.session.result_info(result, **extra)
        kwargs = {"scale": int(scale)} if spec.needs_scale and scale else {}
        try:
            return list(spec.write(os.fspath(path), result, self.state, info, **kwargs))
        except Exception as exc:
            raise Refused("Export failed", message(exc)) from None

    def batch_job(self, folder, scope, formats, selected, filtered,
                  chunk=256) -> services.BatchExport:
        """The batch export of the ``selection`` or the ``filtered`` samples (index lists of
        the grid) into ``folder``; Refused when there is nothing to do."""
        s = self.state
        if s.model is None or s.dataset is None:
            raise Refused("Nothing to export", "open a model and a dataset first")
        if not formats:
            raise Refused("Nothing to export", "choose PNG, .npy or both")
        photos = s.dataset_name
        if photos and os.path.isdir(photos) and within(folder, photos):
            # the heatmaps would be read as photos the next time the folder is opened
            raise Refused("Cannot export", f"{folder}: is inside the image folder {photos} "
                          "being explored; choose a folder outside it")
        indices = np.asarray(selected if scope == "selection" else filtered, dtype=np.int64)
        if indices.size == 0:
            raise Refused("Nothing to export", f"the {scope} is empty")
        try:
            return self.session.batch_export_job(folder, indices, formats, chunk)
        except LRPError as exc:  # e.g. the model file was removed since it was opened
            raise Refused("Batch export failed", str(exc)) from None

    @staticmethod
    def batch_status(paths) -> str:
        return f"batch export wrote {len(paths):,} files"

    BATCH_CANCELLED = "batch export cancelled; no files were kept"


# -- downloading MNIST ----------------------------------------------------------------------
DOWNLOADS = {
    "all": "the MNIST training and test sets (about 11 MB)",
    "train": "the MNIST training set (about 10 MB)",
    "test": "the MNIST test set (about 2 MB)",
}
DOWNLOADED = "MNIST downloaded: choose mnist-train or mnist-test"
NOT_STARTED = "download not started"


def download_question(kind) -> str:
    """What the question before a download names (the internet is used only after a yes)."""
    if kind not in DOWNLOADS:
        raise Refused("Download failed",
                      f"MNIST {kind!r}: choose one of {', '.join(DOWNLOADS)}")
    return DOWNLOADS[kind]


def download_failure(exc) -> str:
    """The one sentence a failed download shows in the explorer: offline, what to do here
    (the engine's text names the command line's --mirror option)."""
    if isinstance(exc, download.ServersUnreachable):
        return (f"Could not reach the MNIST servers ({exc.hosts}): check the internet "
                "connection and choose File → Download MNIST… again, or open mnist-test or "
                "mnist-sample in the Browser, which need no download.")
    return message(exc)


def download_job(kind):
    """``fn(token)`` downloading MNIST ``kind`` with progress (done, total, file name) and
    cancellation through the token (partial files are removed by the downloader)."""
    download_question(kind)

    def run(token):
        return download.download_mnist(
            kind, progress=lambda done, total, name: token.progress(done, total, name),
            cancel=token.cancelled)

    return run
