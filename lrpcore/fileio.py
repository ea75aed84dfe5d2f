"""Atomic file writes: a temporary file in the target folder, then a rename (and one
reader that turns OS errors into the project's own).

A failed write (full disk, read-only folder, interruption) leaves no partial file behind and
never touches an existing file of the same name unless the write succeeds.
"""

from __future__ import annotations

import contextlib
import errno
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
    suffix = os.path.basename(path)[-40:]
    remove_stale_temporaries(folder, suffix)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=suffix,
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


TEMP_PREFIX = ".tmp-lrp-"  # + the writer's process id: a killed run's leftover is recognisable


def remove_stale_temporaries(folder, suffix) -> None:
    """Remove temporary files for ``suffix`` left by runs that were killed (SIGKILL, power
    loss): their writer's process no longer exists. A live writer's files are left alone."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not (name.startswith(TEMP_PREFIX) and name.endswith(suffix)):
            continue
        pid = name[len(TEMP_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(folder, name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


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


@contextlib.contextmanager
def atomic_npy_memmap(path, shape, dtype, overwrite=True):
    """Yield a writable array of ``shape`` backed by a temporary ``.npy`` file that becomes
    ``path`` on success, so that results larger than memory can be written batch by batch.

    The file's disk space is reserved before anything is computed: a full disk is an
    ExportError here, never a crash (SIGBUS) on a later write into a sparse mapping.
    """
    shape = tuple(int(s) for s in shape)
    dtype = np.dtype(dtype)
    with atomic_open(path, "w+b", overwrite) as fh:
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                  "shape": shape}
        try:
            np.lib.format.write_array_header_1_0(fh, header)
        except ValueError:  # a header too long for format 1.0
            np.lib.format.write_array_header_2_0(fh, header)
        fh.flush()
        offset = fh.tell()
        size = int(np.prod(shape)) * dtype.itemsize
        if size:
            _reserve(fh, offset, size, path)
            array = np.memmap(fh, dtype=dtype, mode="r+", offset=offset, shape=shape)
        else:
            array = np.empty(shape, dtype)
        yield array
        if size:
            array.flush()
        del array


def _reserve(fh, offset, size, path) -> None:
    try:
        os.posix_fallocate(fh.fileno(), offset, size)
    except AttributeError:  # no posix_fallocate on this platform: a sparse file
        fh.truncate(offset + size)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            fh.truncate(offset + size)  # a file system without fallocate
        else:
            raise ExportError(f"{path}: cannot reserve {size / 2**20:.0f} MB: "
                              f"{exc.strerror or exc}") from None


def atomic_save_npy(path, array, overwrite=True) -> None:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue(), overwrite)
