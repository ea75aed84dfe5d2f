"""A ``.npy`` file read row by row with plain reads instead of a memory map.

A memory-mapped file that shrinks while it is read (rewritten by ``numpy.save``, truncated by
a copy) kills the process with SIGBUS the moment a page beyond its new end is touched: no
message, and the explorer gone with everything the user had open. Reads of a file that
shrank come back short, which is an error naming the file instead. Contiguous rows are one
read, as fast as copying them out of a map.
"""

from __future__ import annotations

import math
import os
import weakref

import numpy as np

from ..errors import DatasetError


class FileArray:
    """Read-only samples of a C-ordered array stored at ``offset`` in ``path``: ``shape``,
    ``dtype``, ``len``, ``reshape`` and indexing like a read-only ``np.memmap``; every index
    returns a new numpy array (anything but rows along the first axis reads the whole array
    first)."""

    def __init__(self, path, dtype, shape, offset, _file=None):
        self.path = os.fspath(path)
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(s) for s in shape)
        self.offset = int(offset)
        # the file as opened now, as a map would hold it: a file renamed over the path later
        # is not read with this one's header (only one that shrinks is an error)
        self._file = _OpenFile(self.path) if _file is None else _file

    # -- what the readers use of an array ---------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
        new = list(int(s) for s in shape)
        if new.count(-1) == 1:
            rest = math.prod(s for s in new if s != -1)
            new[new.index(-1)] = self.size // rest if rest else 0
        if math.prod(new) != self.size:
            raise ValueError(f"cannot reshape an array of size {self.size} into {tuple(new)}")
        return FileArray(self.path, self.dtype, new, self.offset, self._file)

    def transpose(self, *axes):
        return np.asarray(self).transpose(*axes)

    def __array__(self, dtype=None, copy=None):
        a = self._rows(0, self.shape[0]) if self.shape else \
            self._read(self.offset, self.dtype.itemsize).reshape(())
        return a if dtype is None else a.astype(dtype)

    def __getitem__(self, index):
        if not self.shape:
            return np.asarray(self)[index]
        rest = ()
        if isinstance(index, tuple):
            if not index:
                return np.asarray(self)
            index, rest = index[0], index[1:]
        n = self.shape[0]
        if isinstance(index, int | np.integer) and not isinstance(index, bool):
            i = int(index)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for axis 0 with size {n}")
            out = self._rows(i % n, i % n + 1)[0]
            return out[rest] if rest else out
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step == 1:
                out = self._rows(start, max(start, stop))
            else:
                out = self._take(np.arange(start, stop, step))
        else:
            idx = np.asarray(index)
            if idx.dtype == bool and idx.shape == (n,):
                idx = np.flatnonzero(idx)
            if idx.dtype.kind not in "iu" or idx.ndim != 1:
                return np.asarray(self)[(index, *rest)]  # anything else: as numpy does it
            if idx.size and (idx.min() < -n or idx.max() >= n):
                raise IndexError(f"index out of bounds for axis 0 with size {n}")
            out = self._take(idx % n if idx.size else idx)
        return out[(slice(None), *rest)] if rest else out

    # -- reading ----------------------------------------------------------------------------
    def _row_bytes(self) -> int:
        return math.prod(self.shape[1:]) * self.dtype.itemsize

    def _rows(self, start, stop) -> np.ndarray:
        row = self._row_bytes()
        out = self._read(self.offset + start * row, (stop - start) * row)
        return out.reshape((stop - start,) + self.shape[1:])

    def _take(self, idx) -> np.ndarray:
        out = np.empty((len(idx),) + self.shape[1:], dtype=self.dtype)
        k = 0
        while k < len(idx):  # runs of consecutive rows are one read each
            j = k + 1
            while j < len(idx) and idx[j] == idx[j - 1] + 1:
                j += 1
            out[k:j] = self._rows(int(idx[k]), int(idx[j - 1]) + 1)
            k = j
        return out

    def _read(self, at, count) -> np.ndarray:
        buf = bytearray(count)
        view, done = memoryview(buf), 0
        try:
            while done < count:
                got = os.preadv(self._file.fd, [view[done:]], at + done)
                if got == 0:
                    raise DatasetError(f"{self.path}: the file ended at byte {at + done}, "
                                       "before the data its header announces: it was "
                                       "truncated or rewritten while being read")
                done += got
        except OSError as exc:
            raise DatasetError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        return np.frombuffer(buf, dtype=self.dtype)


class _OpenFile:
    """A read-only descriptor closed when the last array reading it is gone."""

    def __init__(self, path):
        try:
            self.fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}") from None
        weakref.finalize(self, os.close, self.fd)


def open_npy_rows(path) -> FileArray | None:
    """A :class:`FileArray` of a plain C-ordered ``.npy`` file (None for one numpy must read
    itself: Fortran order, object arrays); its header already checked by the caller."""
    path = os.fspath(path)
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            return None
        shape, fortran, dtype = read_header(fh)
        offset = fh.tell()
    if fortran or dtype.hasobject or dtype.fields is not None or not hasattr(os, "preadv"):
        return None
    need = math.prod(shape) * dtype.itemsize
    if os.stat(path).st_size - offset < need:
        raise DatasetError(f"{path}: the file ends before the data its header announces "
                           "(truncated?)")
    return FileArray(path, dtype, shape, offset)


def read_npy(path):
    """A ``.npy`` file's array without a memory map: a :class:`FileArray` reading rows as they
    are used, or — where rows cannot be read one by one (Fortran order, a header numpy alone
    reads) — the whole array read now (a map of it would be SIGBUS when the file shrinks),
    once its header's claim fits the file. numpy's ValueError, OSError and EOFError pass
    through."""
    from .claims import check_npy_claim  # noqa: PLC0415

    # numpy allocates what the header claims, then reads; a negative dimension made a
    # FileArray of negative length (`lrp data info`, the explorer: an internal error)
    check_npy_claim(os.fspath(path))
    rows = open_npy_rows(path)
    return np.load(path, allow_pickle=False) if rows is None else rows


__all__ = ["FileArray", "open_npy_rows", "read_npy"]
