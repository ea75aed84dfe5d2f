"""Atomic file writes: a temporary file in the target folder, then a rename (and one
reader that turns OS errors into the project's own).

A failed write (full disk, read-only folder, interruption) leaves no partial file behind and
never touches an existing file of the same name unless the write succeeds.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile

import numpy as np

from .errors import ExportError


@contextlib.contextmanager
def atomic_open(path, mode="wb", overwrite=True):
    """Yield a file object for a temporary file that becomes ``path`` on success."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not overwrite and os.path.exists(path):
        raise ExportError(f"{path}: file exists (allow overwriting to replace it)")
    if not os.path.isdir(folder):
        raise ExportError(f"{path}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path)[-40:],
                                   dir=folder)
    except OSError as exc:
        raise ExportError(f"{path}: cannot write in {folder}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _default_mode(path))
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, ExportError):
            raise ExportError(f"{path}: write failed: {exc.strerror or exc}") from None
        raise


def _default_mode(path) -> int:
    """The mode a plain ``open(path, "w")`` would give: an existing file's, else 0666 − umask.

    (mkstemp creates its file readable by the owner only, which is wrong for exports.)
    """
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def read_bytes(path, error=ExportError, limit=None) -> bytes:
    """The file's bytes (the first ``limit`` only, if given); an unreadable file raises
    ``error`` (an LRPError subclass) naming it, never a bare OSError."""
    try:
        with open(path, "rb") as fh:
            return fh.read() if limit is None else fh.read(limit)
    except OSError as exc:
        raise error(f"{os.fspath(path)}: cannot read: {exc.strerror or exc}") from None


def atomic_write_bytes(path, data: bytes, overwrite=True) -> None:
    with atomic_open(path, "wb", overwrite) as fh:
        fh.write(data)


def atomic_write_text(path, text: str, overwrite=True) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), overwrite)


def atomic_save_npy(path, array, overwrite=True) -> None:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue(), overwrite)
