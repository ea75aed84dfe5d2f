"""MNIST's IDX format: a big-endian header, then one raw array (LeCun et al., MNIST page).

Header: two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
0x0D float32, 0x0E float64), the number of dimensions, then one big-endian uint32 per
dimension. Images are 0x00000803 (N × H × W uint8), labels 0x00000801 (N uint8).

Files are memory-mapped, never read whole. Gzipped files are decompressed once into the cache
(with the size the header promises as a hard limit, so a gzip bomb cannot fill the disk) and the
cached copy is mapped. Every malformed file raises :class:`DatasetError` naming the file and
the byte position of the problem, after checking claimed sizes against the real file size and
before allocating anything.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import zlib
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..fileio import atomic_open, read_bytes
from ..limits import CACHE_MAX
from .cache import cache_dir
from .file_array import FileArray

IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"
_MAX_NDIM = 4
_CHUNK = 1 << 20
_GZIP_MAX_RATIO = 1032  # deflate cannot expand beyond ~1032:1, so a claim beyond it is a lie


def looks_like_idx(head: bytes) -> bool:
    """True when the first bytes could start an IDX file."""
    return len(head) >= 4 and head[:2] == b"\0\0" and head[2] in IDX_TYPES and head[3] >= 1


def parse_header(head: bytes, name) -> tuple[np.dtype, tuple, int]:
    """Decode an IDX header; returns (dtype, shape, header length). ``head`` may be longer."""
    if len(head) < 4:
        raise DatasetError(f"{name}: byte {len(head)}: file ends inside the 4-byte IDX magic "
                           "number (truncated?)")
    if head[:2] != b"\0\0":
        raise DatasetError(f"{name}: byte 0: not an IDX file (magic number "
                           f"0x{head[:4].hex()} does not start with two zero bytes)")
    if head[2] not in IDX_TYPES:
        raise DatasetError(f"{name}: byte 2: unknown IDX data type 0x{head[2]:02x}")
    ndim = head[3]
    if not 1 <= ndim <= _MAX_NDIM:
        raise DatasetError(f"{name}: byte 3: IDX files here have 1 to {_MAX_NDIM} dimensions, "
                           f"this one claims {ndim}")
    length = 4 + 4 * ndim
    if len(head) < length:
        raise DatasetError(f"{name}: byte {len(head)}: file ends inside the IDX header, which "
                           f"needs {length} bytes for {ndim} dimensions (truncated?)")
    shape = tuple(int.from_bytes(head[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.dtype(IDX_TYPES[head[2]]), shape, length


def _expected_size(dtype, shape) -> int:
    count = 1
    for d in shape:
        count *= d  # Python ints: a huge claim cannot overflow
    return count * dtype.itemsize


def map_idx(path, name=None) -> FileArray:
    """An uncompressed IDX file's array, read as used, after checking its header against its
    size."""
    path = os.fspath(path)
    name = name or path
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(4 + 4 * _MAX_NDIM)
    except OSError as exc:
        raise DatasetError(f"{name}: cannot read: {exc.strerror or exc}") from None
    dtype, shape, offset = parse_header(head, name)
    need = _expected_size(dtype, shape)
    have = size - offset
    if have < need:
        raise DatasetError(f"{name}: byte {size}: file ends early: the header claims shape "
                           f"{'×'.join(map(str, shape))} ({need} data bytes after byte "
                           f"{offset}), the file has {have} (truncated?)")
    if have > need:
        raise DatasetError(f"{name}: byte {offset + need}: {have - need} unexpected bytes after "
                           f"the {'×'.join(map(str, shape))} data the header announces")
    try:
        if need == 0:
            return np.zeros(shape, dtype=dtype.newbyteorder("="))
        # read, not mapped: a mapped file that shrinks kills the process (see file_array.py)
        return FileArray(path, dtype, shape, offset)
    except (ValueError, OverflowError):  # e.g. 0 × 3e9 × 3e9: empty, yet no array can say it
        raise DatasetError(f"{name}: byte 4: the header's shape {'×'.join(map(str, shape))} "
                           "is too large for an array") from None


def _cached_name(path: str) -> Path:
    st = os.stat(path)
    key = f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}".encode()
    stem = os.path.basename(path)
    if stem.endswith(".gz"):
        stem = stem[:-3]
    digest = hashlib.sha256(key).hexdigest()[:16]
    return cache_dir("idx") / f"{stem}-{digest}.idx"


class _CacheUnwritable(Exception):
    """The cache cannot take a decompressed copy (a full disk, a read-only folder)."""


class _CacheFile:
    """The cache file being written, whose OS errors mean the cache is unwritable (not that
    the data is bad): the caller then decompresses into memory instead."""

    def __init__(self, target: Path, need: int):
        self.target, self.need = target, need

    def __enter__(self):
        try:
            _make_room(self.target.parent, self.need)
            self._cm = atomic_open(self.target, "wb")
            self._fh = self._cm.__enter__()
        except OSError as exc:
            raise _CacheUnwritable(exc) from None
        return self

    def write(self, data):
        try:
            self._fh.write(data)
        except OSError as exc:
            raise _CacheUnwritable(exc) from None

    def __exit__(self, *exc):
        if exc[0] is not None:  # bad data (or a failed write) on its way out: as it is
            return self._cm.__exit__(*exc)
        try:
            return self._cm.__exit__(*exc)  # the rename into place
        except OSError as error:
            raise _CacheUnwritable(error) from None


def _in_memory(path: str) -> np.ndarray:
    """The decompressed array of a gzipped IDX file held in memory (the same checks as a
    cached copy; at most the cache cap): for when the cache cannot be written."""
    buf = io.BytesIO()
    _gunzip_checked(path, None, path, sink=contextlib.nullcontext(buf))
    view = buf.getbuffer()
    dtype, shape, offset = parse_header(bytes(view[:4 + 4 * _MAX_NDIM]), path)
    arr = np.frombuffer(view, dtype=dtype, offset=offset).reshape(shape)
    return arr


def _gunzip_checked(path: str, target: Path | None, name, sink=None) -> None:
    """Decompress ``path`` into ``target`` atomically (or into ``sink``, a context manager
    giving a writable file), stopping at the size the header claims."""
    done = 0  # decompressed bytes so far, for error positions
    try:
        with gzip.open(path, "rb") as src:
            head = src.read(4 + 4 * _MAX_NDIM)
            done = len(head)
            dtype, shape, offset = parse_header(head, f"{name} (decompressed)")
            total = offset + _expected_size(dtype, shape)
            _check_claim(path, total, shape, name)
            with (_CacheFile(target, total) if sink is None else sink) as out:
                out.write(head[:total])
                while done <= total:
                    chunk = src.read(min(_CHUNK, total + 1 - done))
                    if not chunk:
                        break
                    done += len(chunk)
                    if done > total:
                        break
                    out.write(chunk)
                if done > total:
                    raise DatasetError(
                        f"{name}: decompressed byte {total}: unexpected data after the "
                        f"{'×'.join(map(str, shape))} array the header announces")
                if done < total:
                    raise DatasetError(
                        f"{name}: decompressed byte {done}: data ends early: the header claims "
                        f"shape {'×'.join(map(str, shape))} ({total} bytes in all) (truncated?)")
                src.read(1)  # reach the end so that the gzip trailer (CRC, length) is checked
    except EOFError:
        raise DatasetError(f"{name}: decompressed byte {done}: compressed stream ends early "
                           "(truncated download?)") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise DatasetError(f"{name}: decompressed byte {done}: corrupt gzip data: {exc}") from None
    except OSError as exc:
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(f"{name}: decompressed byte {done}: cannot decompress: "
                           f"{exc.strerror or exc}") from None


def _check_claim(path: str, total: int, shape, name) -> None:
    """Refuse, before writing anything, a header claiming more than the gzip file can hold or
    more than the cache may take (``LRP_CACHE_MAX_MB``)."""
    shown = "×".join(map(str, shape))
    possible = os.path.getsize(path) * _GZIP_MAX_RATIO + 64
    if total > possible:
        raise DatasetError(f"{name}: byte 4: the header's shape {shown} needs {total} bytes, "
                           f"more than a {os.path.getsize(path)}-byte gzip file can hold")
    cap = CACHE_MAX.bytes()
    if total > cap:
        raise DatasetError(f"{name}: byte 4: the header's shape {shown} decompresses to "
                           f"{total / 2**20:.0f} MB, more than the {cap / 2**20:g} MB cache "
                           f"cap ({CACHE_MAX.env}); decompress it yourself and open the .idx")


def _make_room(folder: Path, need: int) -> None:
    """Remove the least recently used cached copies until ``need`` more bytes fit under the
    cache cap: the cache never grows without bound. Temporary files are not this function's:
    the write that follows (``atomic_open``) removes those of this host's dead runs, and any
    other ``.tmp-`` file (another host's run in progress, a user's file) stays."""
    cap = CACHE_MAX.bytes()
    entries = []
    for entry in folder.iterdir():
        if entry.name.startswith(".tmp-"):
            continue
        try:
            st = entry.stat()
        except OSError:
            continue
        if entry.suffix == ".idx":
            entries.append((max(st.st_atime, st.st_mtime), st.st_size, entry))
    used = sum(size for _, size, _ in entries)
    for _, size, entry in sorted(entries):
        if used + need <= cap:
            break
        entry.unlink(missing_ok=True)
        used -= size


def open_idx(path) -> np.ndarray:
    """Open an IDX file, gzipped or not, as a read-only memory-mapped array."""
    path = os.fspath(path)
    magic = read_bytes(path, DatasetError, limit=2)
    if magic != GZIP_MAGIC:
        return map_idx(path)
    try:
        target = _cached_name(path)
    except DatasetError:  # no cache folder can be made: the data need not wait for one
        return _in_memory(path)
    if target.exists():
        try:
            return map_idx(target, name=f"{path} (cached copy {target})")
        except DatasetError:
            target.unlink(missing_ok=True)  # damaged cache entry: decompress again
    try:
        _gunzip_checked(path, target, path)
    except _CacheUnwritable:  # a full disk: the bundled mnist-test still opens
        return _in_memory(path)
    return map_idx(target, name=f"{path} (cached copy {target})")
