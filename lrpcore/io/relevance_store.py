"""Reading a Zarr relevance store written by ``lrp explain --out R.zarr`` (lrpcore.distributed).

A store holds, for the N samples of one dataset: ``relevance`` (N × the fed sample shape,
chunked by samples), ``outputs`` (N × classes), ``predictions`` (N) and ``done`` (one flag per
chunk: the resume manifest). A store is made under a temporary name and takes its working
name ``R.zarr.partial`` only when every array and attribute is written, so a killed creation
never leaves a store that looks like one (the next run removes the temporary folder); it is
filled there and renamed to ``R.zarr`` only when every chunk is done. Its attributes carry the same
provenance as the JSON sidecars of ``.npy`` exports (model SHA-256, rules, target, versions)
plus the input it explained, so the explorer and ``lrp spray`` can show a cluster's results
without recomputing anything.
zarr is imported only here and in the writer: the single-process path never needs it.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import stat

import numpy as np

from ..errors import DatasetError, ExportError
from ..fileio import (
    clean_stale_temporaries,
    lstat_or_none,
    make_temp_folder,
    move_folder_into_place,
)
from ..text import brief, short

RELEVANCE, OUTPUTS, PREDICTIONS, DONE = "relevance", "outputs", "predictions", "done"
# one 64-bit digest per chunk of what its worker wrote (chunk_checksum; 0: none recorded, as
# in stores of earlier versions): a resumed run recomputes a done chunk that no longer matches
CHECKSUMS = "checksums"
PROVENANCE = "lrp_provenance"  # attribute: the sidecar's provenance dict
RUN = "lrp_run"  # attribute: what a rerun must match to resume (see lrpcore.distributed)
FAILED = "lrp_failed"  # attribute: chunks that failed for bad input, with their samples
DIAGNOSIS = "lrp_diagnosis"  # attribute: conservation check of the last run (sidecars' too)


def import_zarr():
    """zarr, or a clear error saying which extra installs it."""
    try:
        import zarr  # noqa: PLC0415
    except ImportError:
        raise DatasetError("reading or writing a .zarr store needs zarr: pip install "
                           "'lrp-explorer[cluster]'") from None
    return zarr


def is_zarr_path(path) -> bool:
    """A Zarr store on disk (v3 ``zarr.json`` or v2 ``.zarray``/``.zgroup``) or a ``.zarr``
    name."""
    p = os.fspath(path)
    if p.rstrip("/").lower().endswith(".zarr"):
        return True
    return os.path.isdir(p) and any(os.path.exists(os.path.join(p, f))
                                    for f in ("zarr.json", ".zarray", ".zgroup"))


# What a Zarr array's own chunking may make one read cost (inputs of lrp explain and stores
# alike; checked from the metadata): a tiny file may declare chunks of gigabytes, or split each
# sample into millions of chunks, or a trillion samples.
MAX_CHUNK_BYTES = 1 << 30  # one chunk, decompressed
MAX_CHUNKS_PER_SAMPLE = 4096  # chunks one sample is split into
MAX_TASKS = 1_000_000  # passes of one run (the chunks of a store's manifest)


def _codec_names(meta):
    """The ids and names of an array's codecs in its metadata (``.zarray``: compressor and
    filters; ``zarr.json``: codecs, also those nested in a sharding codec)."""
    todo = [meta.get(k) for k in ("compressor", "filters", "codecs")]
    while todo:
        item = todo.pop()
        if isinstance(item, list):
            todo.extend(item)
        elif isinstance(item, dict):
            for key in ("id", "name"):
                if isinstance(item.get(key), str):
                    yield item[key]
            config = item.get("configuration")
            if isinstance(config, dict):
                todo.extend(config.get(k) for k in ("codecs", "index_codecs"))


def refuse_code_codecs(path) -> None:
    """Refuse a Zarr array whose codecs unpickle its chunks (numcodecs' Pickle): reading a
    chunk would run code from the file. zarr 3.1 refuses it itself; earlier 3.x did not.
    (Added by the hostile review: inputs and the arrays of a relevance store.)"""
    import json  # noqa: PLC0415

    for name in (".zarray", "zarr.json"):
        meta_path = os.path.join(path, name)
        if not os.path.isfile(meta_path):
            continue
        try:
            with open(meta_path, "rb") as fh:
                meta = json.loads(fh.read(1 << 20).decode("utf-8"))
        except (OSError, ValueError, RecursionError):
            continue  # zarr says what is wrong with it
        if not isinstance(meta, dict):
            continue
        for codec in _codec_names(meta):
            if "pickle" in codec.lower():
                raise DatasetError(f"{path}: its codec {short(codec, 40)!r} would unpickle "
                                   "every chunk, which can run code from the file; refused")


def check_zarr_chunks(path, arr) -> None:
    """Refuse, from the array's metadata alone, an array whose chunking no reader should
    follow: a chunk that decompresses to more than MAX_CHUNK_BYTES (every read of one sample
    would decompress all of it), or samples split into more than MAX_CHUNKS_PER_SAMPLE chunks
    (millions of reads per pass). Chunks of few samples are fine: a distributed run's tasks
    follow ``--batch-size``, not the input's chunks."""
    shape = tuple(int(s) for s in arr.shape)
    chunks = tuple(int(c) for c in arr.chunks)
    if not shape:
        raise DatasetError(f"{path}: holds a single value, not a batch of samples")
    try:
        dtype = np.dtype(arr.dtype)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "biuf":
        raise DatasetError(f"{path}: holds {short(arr.dtype, 40)} values, not numbers")
    shown = "×".join(map(str, chunks))
    each = math.prod(chunks) * dtype.itemsize  # Python ints: no wrap-around
    sample = math.prod(shape[1:]) * dtype.itemsize
    if each > MAX_CHUNK_BYTES:
        fit = max(1, (64 * 2**20) // max(sample, 1))
        raise DatasetError(f"{path}: its chunks of {shown} {dtype} values decompress to "
                           f"{each / 2**20:,.0f} MB each, more than the "
                           f"{MAX_CHUNK_BYTES >> 20:,} MB one read may take; rechunk it (e.g. "
                           f"{fit:,} whole samples a chunk)")
    pieces = math.prod(-(-s // c) for s, c in zip(shape[1:], chunks[1:], strict=True))
    if pieces > MAX_CHUNKS_PER_SAMPLE:
        raise DatasetError(f"{path}: its chunks of {shown} values split every sample into "
                           f"{pieces:,} pieces, more than {MAX_CHUNKS_PER_SAMPLE:,}; rechunk it "
                           "so that a chunk holds whole samples")


class RelevanceStore:
    """Precomputed relevance of a dataset, read chunk by chunk (nothing is loaded on open).

    ``relevance``/``outputs``/``predictions`` are zarr arrays (index them like numpy);
    ``provenance`` the sidecar dict; ``input`` the explained dataset (path as given);
    ``complete`` whether every chunk is done; ``failed`` the chunks that failed.
    """

    def __init__(self, path):
        zarr = import_zarr()
        self.path = os.fspath(path)
        if not os.path.isdir(self.path):
            raise DatasetError(f"{self.path}: no such relevance store (a folder written by "
                               "'lrp explain ... --out R.zarr')")
        for array in (RELEVANCE, OUTPUTS, PREDICTIONS, DONE, CHECKSUMS):
            refuse_code_codecs(os.path.join(self.path, array))
        try:
            group = zarr.open_group(self.path, mode="r")
            self.relevance = group[RELEVANCE]
            self.outputs = group[OUTPUTS]
            self.predictions = group[PREDICTIONS]
            self._done = group[DONE]
            attrs = dict(group.attrs)
        except Exception as exc:  # zarr raises many types for foreign or broken stores
            raise DatasetError(f"{self.path}: not a relevance store written by lrp explain "
                               f"({type(exc).__name__}: {short(exc, 200)})") from None
        if PROVENANCE not in attrs or RUN not in attrs:
            raise DatasetError(f"{self.path}: a Zarr store without lrp provenance; not written "
                               "by 'lrp explain'")
        self.provenance, self.run = attrs[PROVENANCE], attrs[RUN]
        self.failed = attrs.get(FAILED, [])
        diagnosis = attrs.get(DIAGNOSIS)  # None for stores of older versions
        self.diagnosis = diagnosis if isinstance(diagnosis, dict) else None
        self.chunk = self._check_layout()

    def _check_layout(self) -> int:
        """The chunk size, once the attributes and array shapes fit together (a store edited
        by hand or crafted must fail here, with its path, not later with an IndexError)."""
        def bad(what):
            return DatasetError(f"{self.path}: a damaged relevance store ({what})")

        if not (isinstance(self.provenance, dict) and isinstance(self.run, dict)
                and isinstance(self.failed, list)):
            raise bad("its lrp attributes are not of the written types")
        run = self.run
        chunk = run.get("chunk")
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise bad(f"chunk {short(repr(chunk))}")
        for name, value in (("input", run.get("input")), ("dtype", run.get("dtype")),
                            ("model_sha256", run.get("model_sha256")),
                            ("model", self.provenance.get("model"))):
            if not isinstance(value, str):
                raise bad(f"{name} {short(repr(value))}")
        pairs = run.get("layer_rules", [])
        if not (isinstance(run.get("rule"), str | None) and isinstance(pairs, list) and all(
                isinstance(p, list) and len(p) == 2 and isinstance(p[0], int | str)
                and isinstance(p[1], str) for p in pairs)):
            raise bad(f"rule {short(repr(run.get('rule')))}, layer rules {brief(pairs)}")
        n = self.relevance.shape[0] if self.relevance.ndim else -1
        if (self.outputs.ndim != 2 or self.predictions.shape != (n,)
                or self.outputs.shape[0] != n or self._done.shape != (-(-n // chunk),)):
            raise bad(f"arrays of {n} samples do not fit: outputs {self.outputs.shape}, "
                      f"predictions {self.predictions.shape}, done {self._done.shape} for "
                      f"chunks of {chunk}")
        if self._done.shape[0] > MAX_TASKS:  # its manifest is read whole
            raise bad(f"{self._done.shape[0]:,} chunks, more than {MAX_TASKS:,}")
        for array in (self.relevance, self.outputs):
            check_zarr_chunks(self.path, array)
        for array, rest in ((self.relevance, self.relevance.shape[1:]),
                            (self.outputs, self.outputs.shape[1:])):
            # chunks of one run's passes, each holding whole samples (as written): chunks
            # of 32×32 over samples edited to 28×28 were read as their top-left corners
            if tuple(array.chunks) != (chunk,) + tuple(rest):
                raise bad(f"chunks of {brief(list(array.chunks))} in an array of "
                          f"{brief(list(array.shape))}, not the run's {chunk} whole samples")
        return chunk

    def __len__(self) -> int:
        return int(self.relevance.shape[0])

    @property
    def input(self) -> str:
        return str(self.run["input"])

    def _read(self, what, read):
        """``read()``, with a chunk damaged or cut short since the store was written (zarr's
        codecs raise RuntimeError, ValueError, ...) as a DatasetError naming the store."""
        try:
            return read()
        except (DatasetError, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - the codecs' many error types
            raise DatasetError(f"{self.path}: damaged {what} data ({type(exc).__name__}: "
                               f"{short(exc, 200)})") from None

    @property
    def done(self) -> np.ndarray:
        """Bool per chunk: True where its relevance is stored."""
        return self._read(DONE, lambda: np.asarray(self._done[:]).astype(bool))

    @property
    def complete(self) -> bool:
        return bool(self.done.all())

    def available(self) -> np.ndarray:
        """Bool per sample: True where the relevance is stored (its chunk is done)."""
        return np.repeat(self.done, self.chunk)[: len(self)]

    def heatmaps(self, indices) -> np.ndarray:
        """Relevance of samples ``indices`` (int, slice or sequence), refusing samples whose
        chunk was not computed (their stored values are only the fill value)."""
        from .datasets import checked_indices  # noqa: PLC0415

        idx = checked_indices(indices, len(self), self.path, "the store")
        missing = np.atleast_1d(idx)[~self.available()[np.atleast_1d(idx)]]
        if missing.size:
            raise DatasetError(f"{self.path}: sample {int(missing[0])} has no relevance yet "
                               "(its chunk was not computed; rerun the same lrp explain "
                               "command to finish the store)")
        if np.ndim(idx) == 0:
            return self._read(RELEVANCE, lambda: np.asarray(self.relevance[int(idx)]))
        if isinstance(indices, slice):
            return self._read(RELEVANCE, lambda: np.asarray(self.relevance[indices]))
        return self._read(RELEVANCE, lambda: np.asarray(
            self.relevance.get_orthogonal_selection((np.asarray(idx),))))

    def open_dataset(self, model=None):
        """The explained dataset (:func:`lrpcore.open_dataset` of the stored input path). A
        folder of photographs (or one) is fitted to ``model`` — by default the store's own,
        while its file is unchanged — as the run read it, so that its images have the size
        of the heatmaps (read as stored, a 300×451 photograph stood beside 224×224 maps)."""
        from .datasets import open_dataset  # noqa: PLC0415
        from .image_folder import is_image_file  # noqa: PLC0415
        from .models import load_if_unchanged  # noqa: PLC0415

        if model is None and (os.path.isdir(self.input) or is_image_file(self.input)):
            model = load_if_unchanged(self.provenance.get("model"),
                                      self.run.get("model_sha256"))
        return open_dataset(self.input, model=model)

    def describe(self) -> str:
        p = self.provenance
        state = "complete" if self.complete else f"{int(self.done.sum())} of " \
            f"{self.done.size} chunks done"
        return (f"{self.path}: relevance of {len(self)} samples of {self.input} by "
                f"{p.get('model')} ({p.get('rules')}, target {p.get('target')}), {state}")


def open_relevance_store(path) -> RelevanceStore:
    """Open ``R.zarr`` (written by ``lrp explain ... --out R.zarr``) as precomputed heatmaps.

    Raises :class:`lrpcore.DatasetError` naming the path when it is not such a store or zarr is
    not installed.
    """
    return RelevanceStore(path)


# --- writing: the same promises as lrpcore.fileio, for a folder -------------------------


def prepare_store(path, key, fed_shape, n_out, dtype, provenance, overwrite):
    """The store at ``path`` to (continue to) fill: an existing store of the same run
    (``key``) is resumed; with ``overwrite`` an existing relevance store is replaced. Anything
    else at ``path`` (another folder, a file, a link, a store of other settings without
    ``overwrite``) is refused and left alone."""
    zarr = import_zarr()
    path = os.fspath(path)
    existing = _existing_store(path, overwrite)
    if existing is not None and not overwrite:
        diff = [k for k in key if existing.get(k) != key[k]]
        if diff:
            what = "; ".join(f"{k}: stored {existing.get(k)!r}, now {key[k]!r}" for k in diff)
            raise ExportError(f"{path}: holds a run with other settings ({what}); rerun the "
                              "same command to resume it, or use --overwrite or another --out")
        _check_resumable(path, fed_shape, n_out, dtype)
        return zarr.open_group(path, mode="r+")
    return _create(zarr, path, key, fed_shape, n_out, dtype, provenance,
                   replace=existing is not None)


def _check_resumable(path, fed_shape, n_out, dtype) -> None:
    """A store to resume, checked as its readers check it (arrays, chunks, codecs, a readable
    manifest) and against this run's arrays: a partial store whose 'done' manifest was
    damaged ended in an internal error, and one whose relevance array was removed or edited
    was resumed ('4 of 4 chunks already done') into an R.zarr no reader opens."""
    store = RelevanceStore(path)
    have = (tuple(store.relevance.shape), tuple(store.outputs.shape), str(store.relevance.dtype))
    want = (tuple(fed_shape), (int(fed_shape[0]), int(n_out)), str(np.dtype(dtype)))
    if have != want:
        raise DatasetError(f"{path}: a damaged relevance store (relevance {brief(list(have[0]))} "
                           f"{have[2]}, outputs {brief(list(have[1]))}; this run writes "
                           f"{brief(list(want[0]))} {want[2]}, {brief(list(want[1]))}); "
                           "use --overwrite to start it again")
    store.done  # noqa: B018 - reads the manifest: a damaged one is refused here, named


def chunk_checksum(*arrays) -> int:
    """A 64-bit digest (never 0) of the values of one chunk's arrays as stored (relevance,
    outputs, predictions; little-endian bytes): what its worker wrote, recorded when the chunk
    is marked done and compared when a run resumes (:func:`damaged_chunks`)."""
    import hashlib  # noqa: PLC0415

    digest = hashlib.blake2b(digest_size=8)
    for a in arrays:
        a = np.asarray(a)
        digest.update(str(a.shape).encode())
        digest.update(np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes())
    return int.from_bytes(digest.digest(), "little") or 1


def damaged_chunks(group, finished, bounds) -> list[tuple[int, str]]:
    """(chunk, why) of the chunks marked done in ``finished`` whose stored data is no longer
    what their worker wrote: unreadable (a chunk file damaged or cut short), not finite,
    predictions that are not the outputs' argmax, or another checksum than the one recorded
    (a chunk file removed reads as the fill value, zeros). A resumed run trusted them."""
    sums = group[CHECKSUMS] if CHECKSUMS in group else None  # absent in earlier versions
    arrays = (group[RELEVANCE], group[OUTPUTS], group[PREDICTIONS])
    damaged = []
    for i, a, b in bounds:
        if not finished[i]:
            continue
        try:
            r, y, p = (np.asarray(arr[a:b]) for arr in arrays)
            recorded = int(sums[i]) if sums is not None else 0
        except Exception as exc:  # noqa: BLE001 - zarr's codecs raise many types
            damaged.append((i, f"unreadable: {type(exc).__name__}: {short(exc, 120)}"))
            continue
        if not (np.isfinite(r).all() and np.isfinite(y).all()):
            damaged.append((i, "values that are not finite"))
        elif y.size and not np.array_equal(p, np.argmax(y.reshape(len(y), -1), axis=1)):
            damaged.append((i, "predictions that do not match its outputs"))
        elif recorded and recorded != chunk_checksum(r, y, p):
            damaged.append((i, "not the values written (its checksum differs)"))
    return damaged


def _existing_store(path, overwrite):
    """The run key of the relevance store at ``path``; None when nothing is there."""
    st = lstat_or_none(path)
    if st is None:
        return None
    link = stat.S_ISLNK(st.st_mode)
    if link and overwrite:
        raise ExportError(f"{path}: is a symbolic link; refusing to replace it (give the "
                          "store's own path)")
    run = None
    if os.path.isdir(path):
        with contextlib.suppress(Exception):  # zarr raises many types for foreign folders
            run = dict(import_zarr().open_group(path, mode="r").attrs).get(RUN)
    if not isinstance(run, dict):
        raise ExportError(f"{path}: exists and is not a relevance store of lrp explain; "
                          "refusing to replace it (remove it yourself or choose another --out)")
    return run


# --- an unfinished run: filled under R.zarr.partial, renamed to R.zarr when every chunk is done

PARTIAL_SUFFIX = ".partial"


def partial_path(path) -> str:
    """Where a run of ``--out R.zarr`` is filled: ``R.zarr.partial`` beside it. It takes the
    result's name only when every chunk is done, so ``R.zarr`` is never a partial result; an
    interrupted or failed run leaves it for the same command to resume."""
    return os.fspath(path).rstrip(os.sep) + PARTIAL_SUFFIX


@contextlib.contextmanager
def run_lock(path):
    """Held while one run fills ``path``: a lock on ``PATH.lock`` beside it, removed at the
    end. Two runs of one command at once filled one partial store, and the one finishing
    second found it renamed under it (its chunks 'failed: FileNotFoundError', a partial
    store left beside the result, exit 1); the second is refused before it starts. Where
    no lock can be taken (no fcntl, a read-only folder, a file system without locks) the
    run goes on unguarded, as before."""
    try:
        import fcntl  # noqa: PLC0415 - POSIX only
    except ImportError:
        fcntl = None
    lock = os.fspath(path).rstrip(os.sep) + ".lock"
    try:
        fd = None if fcntl is None else os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        fd = None
    held = False
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ExportError(f"{path}: another lrp explain is writing it ({lock} is "
                                  "locked); wait for it to finish, or choose another --out"
                                  ) from None
            except OSError:  # a file system without locks
                pass
            else:
                held = _same_file(fd, lock)
                if not held:  # unlinked by a run that finished after this one opened it
                    raise ExportError(f"{path}: another lrp explain was writing it just now; "
                                      "run the command again")
        yield
    finally:
        if held:
            with contextlib.suppress(OSError):
                os.unlink(lock)
        if fd is not None:
            os.close(fd)


def _same_file(fd, path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
        return False


def finished_store(path, key, overwrite, bounds=None, say=None) -> bool:
    """Whether ``path`` already holds this run (``key``), complete: nothing is left to do.
    A store of an older version left unfinished under the result's name is moved to its
    partial name to be resumed there; a store of other settings is refused without
    ``overwrite``; anything that is no relevance store is refused (never replaced).
    With ``bounds`` ((chunk, first, end) per chunk) a complete store is checked as a resumed
    one is (:func:`damaged_chunks`; it reads the whole store, far less than computing it): a
    chunk damaged on disk after the run was answered 'all chunks already done'. A damaged
    complete store is moved to its partial name too, where the run computes those chunks
    again (``say`` tells why)."""
    path = os.fspath(path)
    existing = _existing_store(path, overwrite)
    if existing is None or overwrite:
        return False
    diff = [k for k in key if existing.get(k) != key[k]]
    if diff:
        what = "; ".join(f"{k}: stored {existing.get(k)!r}, now {key[k]!r}" for k in diff)
        raise ExportError(f"{path}: holds a run with other settings ({what}); use "
                          "--overwrite or another --out")
    store = RelevanceStore(path)
    complete = store.complete
    if complete:
        group = import_zarr().open_group(path, mode="r")
        damaged = [] if bounds is None else damaged_chunks(group, store.done, bounds)
        if not damaged:
            return True
        if say is not None:
            say(f"{path}: complete, but {len(damaged)} of its {len(bounds)} chunks are damaged "
                "on disk; computing them again")
    work = partial_path(path)
    if os.path.lexists(work):
        what = "a complete store with damaged chunks" if complete else \
            "an unfinished store of an older version"
        raise ExportError(f"{path}: {what}, and {work} exists too; remove one of them")
    os.rename(path, work)
    return False


def commit_store(work, path, overwrite) -> None:
    """Give the finished store ``work`` its result name ``path``; with ``overwrite`` an earlier
    relevance store there is replaced (kept aside until the rename succeeded). Something that
    appeared at ``path`` during the run is left alone, and ``work`` kept."""
    path = os.fspath(path)
    try:
        existing = _existing_store(path, overwrite)
    except ExportError as exc:
        raise ExportError(f"{exc}; the finished results are in {work}") from None
    if existing is not None and not overwrite:
        raise ExportError(f"{path}: was created by something else while this ran; left it "
                          f"alone (the finished results are in {work})")
    try:
        move_folder_into_place(work, path, replace=existing is not None)
    except OSError as exc:
        raise ExportError(f"{path}: cannot rename {work} to it: {exc.strerror or exc} (the "
                          "finished results stay there)") from None


def _create(zarr, path, key, fed_shape, n_out, dtype, provenance, replace):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ExportError(f"{path}: folder {folder} does not exist")
    clean_stale_temporaries(folder)  # stores of killed runs
    try:
        tmp = make_temp_folder(folder, os.path.basename(path.rstrip(os.sep))[-40:])
    except OSError as exc:
        raise ExportError(f"{path}: cannot write in {folder}: {exc.strerror or exc}") from None
    try:
        n, chunk = key["n"], key["chunk"]
        group = zarr.open_group(tmp, mode="w")
        group.create_array(RELEVANCE, shape=tuple(fed_shape), dtype=dtype,
                           chunks=(chunk,) + tuple(fed_shape[1:]), fill_value=0)
        group.create_array(OUTPUTS, shape=(n, n_out), dtype=dtype, chunks=(chunk, n_out),
                           fill_value=0)
        group.create_array(PREDICTIONS, shape=(n,), dtype="int64", chunks=(chunk,),
                           fill_value=-1)
        group.create_array(DONE, shape=(-(-n // chunk),), dtype="uint8", chunks=(1,),
                           fill_value=0)
        group.create_array(CHECKSUMS, shape=(-(-n // chunk),), dtype="uint64", chunks=(1,),
                           fill_value=0)
        group.attrs.update({PROVENANCE: provenance, RUN: key, FAILED: []})  # the mark: last
        if not replace and os.path.lexists(path):
            raise ExportError(f"{path}: was created by something else while this ran; left "
                              "it alone")
        move_folder_into_place(tmp, path, replace)  # an old store goes aside only now
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise ExportError(f"{path}: cannot create the store: {exc.strerror or exc}") from None
        raise
    return zarr.open_group(path, mode="r+")
