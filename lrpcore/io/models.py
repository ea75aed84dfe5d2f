"""Open and save models by file extension; every loader is safe on untrusted files."""

from __future__ import annotations

import os

from ..errors import ModelFormatError
from ..model import Sequential
from .native import read_native, save_native
from .toolbox_txt import format_toolbox_text, read_toolbox_txt

LOADERS = {".txt": read_toolbox_txt, ".npz": read_native}
WRITERS: dict = {".npz": save_native}


def load_model(path) -> Sequential:
    """Open a model file; the format is chosen by its extension."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if not os.path.exists(path):
        raise ModelFormatError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ModelFormatError(f"{path}: is a folder, not a model file")
    loader = LOADERS.get(ext)
    if loader is None:
        known = ", ".join(sorted(LOADERS))
        raise ModelFormatError(f"{path}: unknown model format {ext or '(no extension)'!r}; "
                               f"known: {known}")
    return loader(path)


def _write_txt(model, path):
    from ..fileio import atomic_write_text

    atomic_write_text(path, format_toolbox_text(model))


WRITERS[".txt"] = _write_txt


def save_model(model, path, overwrite=False) -> None:
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    writer = WRITERS.get(ext)
    if writer is None:
        raise ModelFormatError(f"{path}: cannot write models as {ext or '(no extension)'!r}; "
                               f"writable: {', '.join(sorted(WRITERS))}")
    if os.path.exists(path) and not overwrite:
        from ..errors import ExportError

        raise ExportError(f"{path}: file exists (use overwrite to replace it)")
    writer(model, path)
