"""What a dataset file claims, checked against what a valid file of its size can hold, before
anything is decompressed: ``.npz`` members (their ``.npy`` headers) and ``.mat`` variables.

Deflate expands at most ~1032:1, so a member announcing more bytes than that, or more than the
zip directory says it holds, is refused with the file and the field named.
"""

from __future__ import annotations

import lzma
import math
import os
import tokenize
import zipfile
import zlib

import numpy as np

from ..errors import DatasetError

MAX_RATIO = 1032  # deflate's largest possible expansion
_SLACK = 1 << 16  # headers and zip bookkeeping
# what numpy's parser of a .npy header lets through besides ValueError: a header cut inside
# its dictionary ("{'descr': '|u1'   ") is re-read by its Python 2 filter, whose tokenizer
# raises TokenError (or IndentationError); `lrp data info`, explain and render ended in an
# internal error. Readers that leave the header to np.load catch these too.
NPY_HEADER_ERRORS = (tokenize.TokenError, SyntaxError)
# what reading a damaged or unusual zip raises besides BadZipFile: a deflate stream that does
# not decode (zlib.error), an LZMA one (LZMAError), a zip version or compression Python does
# not read (NotImplementedError); each ended a dataset, model or result file in an internal
# error where only BadZipFile was caught
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, NotImplementedError, EOFError,
              OSError)


def read_npy_header(fh, max_header_size=1 << 16):
    """``(shape, fortran_order, dtype)`` of the ``.npy`` header at ``fh``; every malformed
    header is a ValueError (numpy's own, or one of :data:`NPY_HEADER_ERRORS` turned into one).
    Versions other than 1.0 are read as 2.0 (3.0 differs only in its encoding)."""
    try:
        version = np.lib.format.read_magic(fh)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        return read(fh, max_header_size=max_header_size)
    except NPY_HEADER_ERRORS:
        raise ValueError("damaged .npy header: not a dictionary numpy can parse (cut short?)") \
            from None
    except ValueError as exc:  # ast.literal_eval's refusal of an expression (a call, a name)
        # names the parsed node by its memory address: "<ast.Call object at 0x7f…>"
        if "malformed node or string" not in str(exc):
            raise
        raise ValueError("damaged .npy header: its dictionary holds an expression, not plain "
                         "values") from None


def check_npz_member(path: str, key: str) -> None:
    """Refuse an ``.npz`` member whose ``.npy`` header claims more than its zip entry holds or
    than its compressed bytes can expand to."""
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(key + ".npy")
            with zf.open(info) as fh:
                shape, _fortran, dtype = read_npy_header(fh)
    except (KeyError, ValueError, *ZIP_ERRORS) as exc:
        raise DatasetError(f"{path}: array {key!r} is not a readable .npy member "
                           f"({str(exc)[:160]})") from None
    need = math.prod(shape) * dtype.itemsize
    shown = "×".join(map(str, shape))
    if info.compress_size > os.path.getsize(path):
        raise DatasetError(f"{path}: array {key!r}: its zip entry claims {info.compress_size} "
                           f"stored bytes, more than the whole file holds")
    if need > info.file_size:
        raise DatasetError(f"{path}: array {key!r}: its header claims shape {shown} "
                           f"({need} bytes), the archive holds {info.file_size}")
    if info.file_size > MAX_RATIO * info.compress_size + _SLACK:
        raise DatasetError(f"{path}: array {key!r}: {info.compress_size} compressed bytes "
                           f"claim to expand to {info.file_size}, more than deflate can "
                           "(a zip bomb?)")


def check_npy_claim(path: str, error=DatasetError) -> None:
    """Refuse a ``.npy`` whose header claims a negative size or more data than the file holds:
    numpy allocates the claim before reading (a 100-byte file claimed 3 PiB) and a negative
    dimension ended in an internal error."""
    try:
        with open(path, "rb") as fh:
            shape, _fortran, dtype = read_npy_header(fh)
            start = fh.tell()
    except (ValueError, OSError, EOFError) as exc:
        raise error(f"{path}: not a plain .npy array ({str(exc)[:160]})") from None
    shown = "×".join(map(str, shape[:8])) + ("×…" if len(shape) > 8 else "")
    if any(n < 0 for n in shape):
        raise error(f"{path}: its header claims shape {shown[:80]}, with a negative size")
    need, have = math.prod(shape) * dtype.itemsize, os.path.getsize(path) - start
    if need > have:
        raise error(f"{path}: its header claims shape {shown[:80]} ({need:,} bytes), the file "
                    f"holds {have:,}")


def check_npz_budget(path: str, budget: int, error=DatasetError, what="arrays") -> None:
    """Refuse an ``.npz`` whose members together would inflate to more than ``budget`` bytes
    (what the reader knows a valid file needs: e.g. a model's parameters), or one whose
    ``.npy`` header claims more than its zip entry holds (numpy allocates the claim first).
    Headers and the zip directory only: nothing is decompressed beyond a header."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            total = sum(i.file_size for i in infos)
            if total > budget:
                raise error(f"{path}: its {what} would take {total:,} bytes; a valid file "
                            f"needs at most {budget:,}")
            for info in infos:
                with zf.open(info) as fh:
                    shape, _fortran, dtype = read_npy_header(fh)
                if math.prod(shape) * dtype.itemsize > info.file_size:
                    raise error(f"{path}: member {info.filename[:40]!r} claims shape "
                                f"{'×'.join(map(str, shape))[:60]}, more than its "
                                f"{info.file_size} bytes hold")
    except error:
        raise
    except (ValueError, *ZIP_ERRORS) as exc:
        raise error(f"{path}: not a readable .npz ({str(exc)[:160]})") from None


_MAT_ITEMSIZE = {"double": 8, "single": 4, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2,
                 "int32": 4, "uint32": 4, "int64": 8, "uint64": 8, "logical": 1}


def check_mat_claims(path: str) -> None:
    """Refuse a ``.mat`` file whose variables claim more data than a file of its size can hold
    (read from the variable headers only)."""
    import scipy.io

    try:
        variables = scipy.io.whosmat(path)
    except NotImplementedError:
        return  # v7.3 (HDF5): the caller reports it
    except Exception as exc:  # noqa: BLE001 - scipy raises many types for malformed files
        raise DatasetError(f"{path}: cannot read .mat: {str(exc)[:200]}") from None
    possible = MAX_RATIO * os.path.getsize(path) + _SLACK
    total = 0
    for name, shape, kind in variables:
        if any(d < 0 for d in shape):  # scipy read such a file as some other shape
            raise DatasetError(f"{path}: variable {name[:40]!r} has impossible dimensions "
                               f"{_dims(shape)} ({kind}); a damaged or hand-edited file")
        total += math.prod(shape) * _MAT_ITEMSIZE.get(kind, 8)
        if total > possible:
            shown = _dims(shape)
            raise DatasetError(f"{path}: variable {name[:40]!r} claims a {shown} {kind} "
                               f"matrix; the file's {os.path.getsize(path)} bytes cannot "
                               "hold that much data")


def mat_mismatch(path: str) -> str | None:
    """Which variable of a ``.mat`` file claims dimensions its stored data does not match,
    in words (scipy says only "cannot reshape array of size 2000 into shape (40,60)",
    transposed and without the variable); None when each variable loads alone."""
    import scipy.io

    try:
        variables = scipy.io.whosmat(path)
    except Exception:  # noqa: BLE001 - the caller reports the file as unreadable
        return None
    for name, shape, kind in variables:
        try:
            scipy.io.loadmat(path, variable_names=[name])
        except ValueError:
            return (f"variable {name[:40]!r} claims dimensions {_dims(shape)} ({kind}), which "
                    "do not match the data stored for it; a damaged or hand-edited file")
        except Exception:  # noqa: BLE001 - another fault: the caller's message
            return None
    return None


def _dims(shape) -> str:
    return "×".join(map(str, shape))
