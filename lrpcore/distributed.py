"""``lrp explain ... --out R.zarr`` on a Dask cluster: a dataset explained chunk by chunk.

Why Dask and Zarr: a cluster already has a scheduler that reschedules the tasks of a dead
worker and reports progress; Zarr lets every worker write its own chunk of one array without
a coordinator. The client lists the input once and submits one task per chunk; each worker
loads the model once (cached by the model's SHA-256) and explains its chunks with the same
:class:`lrpcore.Explainer` passes as the single-process path, so float64 results are equal
bit for bit (a pass of another size may round differently in BLAS, so chunks are whole passes).
The client marks a chunk done in the store's manifest only after its data is written: a rerun
of the same command computes only the chunks not marked, and a rerun with other settings is
refused. dask and zarr are imported here only, never by the default path.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import threading
import time
from collections import OrderedDict

import numpy as np

from .errors import DatasetError, ExportError, LRPError, NonFiniteSample, RuleError, ShapeError
from .io import relevance_store as layout
from .text import short

# --- the input: listed on the client, read by the workers ---------------------------------

# A task reads its samples whole passes at a time, whatever the input's chunks; what an input's
# own chunking may make one read cost is bounded in relevance_store (stores are read alike).
MAX_CHUNK_BYTES = layout.MAX_CHUNK_BYTES
MAX_CHUNKS_PER_SAMPLE = layout.MAX_CHUNKS_PER_SAMPLE
MAX_TASKS = layout.MAX_TASKS  # tasks (passes) one run submits to the scheduler


@dataclasses.dataclass(frozen=True)
class Source:
    """Where the samples are and how a worker reads samples ``start..stop-1``: a ``.npy``
    (memory-mapped), a Zarr array, or image files (the folder is listed once, here)."""

    kind: str  # "npy" | "zarr" | "images"
    path: str
    shape: tuple
    files: tuple = ()
    fit: tuple = ()  # images: (resize, crop, channels) of the model (ImageFolder.fitting)
    # what the samples were when the run was keyed (input_stamp; not checked on the workers,
    # whose copy of a file may be their own, e.g. staged to a node's local disk)
    stamp: str = ""
    # images: the folder's files that cannot be read, left out (ImageFolder.unreadable_note)
    unreadable: str = dataclasses.field(default="", compare=False)

    def unreadable_note(self) -> str | None:
        return self.unreadable or None

    def read(self, start, stop) -> np.ndarray:
        if self.kind == "npy":
            from .cli.common import load_array  # noqa: PLC0415

            return np.array(load_array(self.path, mmap=True)[start:stop])
        if self.kind == "zarr":
            zarr = layout.import_zarr()
            return np.asarray(zarr.open_array(self.path, mode="r")[start:stop])
        from .io.image_folder import read_fitted  # noqa: PLC0415

        out = np.empty((stop - start,) + tuple(self.shape[1:]), dtype=np.uint8)
        for k, path in enumerate(self.files[start:stop]):
            img = read_fitted(path, *self.fit)
            if img.shape != tuple(self.shape[1:]):
                raise DatasetError(f"{path}: image of shape {img.shape}, but the folder's first "
                                   f"image is {tuple(self.shape[1:])}")
            out[k] = img
        return out


check_zarr_chunks = layout.check_zarr_chunks


def input_stamp(source) -> str:
    """Which samples a run explains, cheaply (no sample is read): a .npy's size and
    modification time, a digest of those of every file of a Zarr array, or of the names of an
    image folder's files (a photo repaired in place resumes). A regenerated batch.npy of the
    same shape resumed the old run's store, or was called done with the old samples'
    relevance."""
    import datetime  # noqa: PLC0415
    import hashlib  # noqa: PLC0415

    def stat(path):
        try:
            st = os.stat(path)
        except OSError:
            return "unreadable"
        when = datetime.datetime.fromtimestamp(st.st_mtime_ns // 10**9, datetime.UTC)
        return f"{st.st_size} bytes, modified {when:%Y-%m-%d %H:%M:%S}.{st.st_mtime_ns % 10**9:09d}"

    if source.kind == "npy":
        return stat(source.path)
    if source.kind == "zarr":
        items = sorted(f"{os.path.relpath(os.path.join(top, f), source.path)}: "
                       f"{stat(os.path.join(top, f))}"
                       for top, _, files in os.walk(source.path) for f in files)
    else:
        items = [os.path.relpath(f, source.path) for f in source.files]
    digest = hashlib.sha256("\n".join(items).encode("utf-8", "surrogateescape")).hexdigest()
    return f"{len(items)} files, {digest[:16]}"


def check_tasks(path, n, step) -> int:
    """The number of tasks (passes of ``step`` samples), refused beyond MAX_TASKS: a Zarr
    input may declare a trillion samples in a few bytes of metadata."""
    tasks = -(-int(n) // max(int(step), 1))
    if tasks > MAX_TASKS:
        raise DatasetError(f"{path}: {int(n):,} samples in passes of at most {step} make "
                           f"{tasks:,} tasks, more than the {MAX_TASKS:,} one run submits; "
                           "raise --batch-size or split the input")
    return tasks


def open_source(path, model=None):
    """(Source, labels or None) of INPUT: a ``.npy``, a Zarr array or an image folder; with
    ``model`` a folder is fitted to it as :func:`lrpcore.open_dataset` fits it (photographs of
    any size resized and cropped, class subfolders labelled by the model's class names)."""
    path = os.fspath(path)
    full = os.path.abspath(path)
    if layout.is_zarr_path(path):
        zarr = layout.import_zarr()
        layout.refuse_code_codecs(path)
        try:
            arr = zarr.open_array(full, mode="r")
        except Exception as exc:  # a group, a missing or foreign store
            raise DatasetError(f"{path}: not a Zarr array ({type(exc).__name__}: "
                               f"{short(exc, 200)})") from None
        check_zarr_chunks(path, arr)
        return _stamped(Source("zarr", full, _batch_shape(path, arr.shape))), None
    from .io.image_folder import is_image_file  # noqa: PLC0415

    if os.path.isdir(path) or is_image_file(path):
        from .io.datasets import open_dataset  # noqa: PLC0415

        ds = open_dataset(path, model=model)
        folder = ds._data  # the ImageFolder, fitted to the model
        return (_stamped(Source("images", full, tuple(folder.shape), tuple(folder.files),
                                folder.fitting(), unreadable=ds.unreadable_note() or "")),
                ds.labels)
    if path.lower().endswith(".npy"):
        from .cli.common import load_array  # noqa: PLC0415
        from .io.datasets import labels_beside  # noqa: PLC0415

        shape = _batch_shape(path, load_array(path, mmap=True).shape)
        return _stamped(Source("npy", full, shape)), labels_beside(path, shape[0])
    raise DatasetError(f"{path}: a distributed run reads a .npy file, a Zarr array, an image "
                       "folder or an image (convert other datasets to .npy first)")


def _stamped(source):
    return dataclasses.replace(source, stamp=input_stamp(source))


def _batch_shape(path, shape) -> tuple:
    """``shape`` of a batch (N × a sample): a single value or a 1-d vector is refused here,
    where its shape is known (the probe of one sample saw a shape of (1,), or failed)."""
    shape = tuple(int(s) for s in shape)
    if not shape:
        raise DatasetError(f"{path}: holds a single value, not a batch of samples")
    if len(shape) == 1:
        raise DatasetError(f"{path}: expected a batch of samples, got an array of shape "
                           f"{shape}; put one sample as a batch of one")
    return shape


# --- what one task needs, and the worker side ---------------------------------------------


@dataclasses.dataclass(frozen=True)
class Job:
    """Everything a worker needs to explain a chunk (small: sent with every task)."""

    model: str
    model_sha256: str
    backend: str
    dtype: str
    rule: str | None
    layer_rules: tuple
    target: object
    raw: bool
    source: Source
    store: str
    step: int  # samples per forward pass = samples per chunk


_CACHE: OrderedDict = OrderedDict()  # per worker: (sha, backend, dtype, rules) -> (Explainer,
#                                      RuleConfig), least recently used first
MAX_WORKER_MODELS = 4  # a long-lived cluster serves many runs: older explainers are dropped
_CACHE_LOCK = threading.Lock()
MODEL_LOADS = [0]  # how often this process loaded a model (tests check "once per worker")


def _explainer(job: Job):
    """The worker's Explainer for the job's model, loaded once per process and checked
    against the client's SHA-256 (a worker seeing another file at that path is refused)."""
    key = (job.model_sha256, job.backend, job.dtype, job.rule, job.layer_rules)
    with _CACHE_LOCK:
        if key not in _CACHE:
            from .explain import Explainer, resolve_rules  # noqa: PLC0415
            from .export import sha256_file  # noqa: PLC0415
            from .io import load_model  # noqa: PLC0415
            from .io.models import model_file  # noqa: PLC0415

            if sha256_file(model_file(job.model)) != job.model_sha256:
                raise ExportError(f"{job.model}: this worker sees another file than the client "
                                  "(SHA-256 differs); workers need the same model file")
            explainer = Explainer(load_model(job.model), job.backend, job.dtype)
            MODEL_LOADS[0] += 1
            _CACHE[key] = (explainer, resolve_rules(explainer.layers, job.rule,
                                                    dict(job.layer_rules)))
            while len(_CACHE) > MAX_WORKER_MODELS:
                _CACHE.popitem(last=False)
        _CACHE.move_to_end(key)
        return _CACHE[key]


class StoreWriteError(ExportError):
    """A chunk's results that the store could not take (a full disk, a read-only folder):
    the user's to fix, but not by fixing the input."""


def explain_chunk(job: Job, index: int, start: int, stop: int, labels=None) -> dict:
    """Explain samples ``start..stop-1`` (one pass) and write them into the store."""
    from .explain import check_finite_outputs  # noqa: PLC0415
    from .insight.diagnose import Accumulator, sample_activations  # noqa: PLC0415

    t0 = time.perf_counter()
    explainer, config = _explainer(job)
    x = job.source.read(start, stop)
    read_s = time.perf_counter() - t0
    try:
        fed = explainer.prepare(x, raw=job.raw)
        fwd = explainer.forward(fed, raw=True)
        y = fwd.outputs()
        check_finite_outputs(y, explainer.dtype, explainer.model, fwd)
        # the trace feeds the conservation diagnosis, as in the single-process run
        r, per_layer = fwd.relevance(config, job.target, labels=labels, trace=True,
                                     to_numpy=False)
        r = explainer.backend.to_numpy(r)
        fwd.check_finite(r, config)
        checks = Accumulator(explainer.layers, config)
        checks.add(per_layer, sample_activations(fwd), explainer.backend.xp)
    except NonFiniteSample as exc:  # numbered in the file, as every command numbers it
        raise exc.at(start + exc.index, job.source.path) from None
    except ShapeError as exc:
        raise ShapeError(f"{job.source.path} (samples {start}..{stop - 1}): {exc}") from None
    zarr = layout.import_zarr()
    written = []
    try:  # a full disk is the user's to fix (exit 2), named with the store, not a bare OSError
        group = zarr.open_group(job.store, mode="r+")
        for name, values in ((layout.RELEVANCE, r), (layout.OUTPUTS, y),
                             (layout.PREDICTIONS, np.argmax(y.reshape(len(y), -1), axis=1))):
            array = group[name]
            values = np.asarray(values, dtype=array.dtype)  # as stored: what a resume reads
            array[start:stop] = values
            written.append(values)
    except OSError as exc:
        raise StoreWriteError(f"{job.store}: cannot write samples {start}..{stop - 1}: "
                          f"{exc.strerror or exc}") from None
    return {"index": index, "seconds": time.perf_counter() - t0, "read_seconds": read_s,
            "backend": explainer.backend.name, "checks": checks.state(),
            "checksum": layout.chunk_checksum(*written)}


# --- the client ----------------------------------------------------------------------------


@dataclasses.dataclass
class Result:
    chunks: int
    computed: int
    skipped: int
    failed: list
    seconds: float
    chunk_seconds: list
    diagnosis: object = None  # conservation of the chunks computed in this run (Diagnosis)
    store: str = ""  # where the results are: --out when complete, else its partial name


def import_distributed():
    try:
        import distributed  # noqa: PLC0415
    except ImportError:
        raise LRPError("--workers/--scheduler/--out *.zarr need dask.distributed and zarr: pip "
                       "install 'lrp-explorer[cluster]'") from None
    return distributed


def run_key(job: Job, n, fed_shape, labels_sha) -> dict:
    """What a rerun must match to continue a store (anything else changes the numbers)."""
    return {"model_sha256": job.model_sha256, "rule": job.rule,
            "layer_rules": [list(p) for p in job.layer_rules], "target": str(job.target),
            "backend": job.backend, "dtype": job.dtype, "raw": job.raw,
            "input": job.source.path, "n": int(n), "fed_shape": [int(d) for d in fed_shape],
            "chunk": job.step, "labels_sha256": labels_sha, "input_stamp": job.source.stamp}


def labels_sha256(labels) -> str | None:
    if labels is None:
        return None
    import hashlib  # noqa: PLC0415

    return hashlib.sha256(np.ascontiguousarray(labels, dtype=np.int64).tobytes()).hexdigest()


def prepare_store(path, key, fed_shape, n_out, dtype, provenance, overwrite):
    """Open the store to continue it, or create it; a store of another run is refused (see
    :func:`lrpcore.io.relevance_store.prepare_store`: made under a temporary name)."""
    return layout.prepare_store(path, key, fed_shape, n_out, dtype, provenance, overwrite)


BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def connect(scheduler=None, workers=None):
    """(client, cluster or None): a client of ``scheduler`` or of a new LocalCluster with
    ``workers`` worker processes (one thread each: the Explainer spreads a pass over cores).
    Their logs are silenced below CRITICAL: a chunk failing on bad input is reported once, in
    one line naming its samples, not also as the worker's "Compute Failed" traceback."""
    distributed = import_distributed()
    if scheduler:
        try:
            return distributed.Client(scheduler, timeout="30s"), None
        except (OSError, ValueError, TypeError) as exc:  # ValueError: not an address at all
            raise LRPError(f"--scheduler {short(scheduler)}: cannot connect "
                           f"({short(exc, 200)})") from None
    import logging  # noqa: PLC0415

    import dask  # noqa: PLC0415

    # Dask pins BLAS to one thread in worker processes; a pass of few samples then rounds
    # differently from the single-process run, so local workers keep this process's setting.
    environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
               if k not in BLAS_THREAD_VARS}
    environ.update({k: os.environ[k] for k in BLAS_THREAD_VARS if k in os.environ})
    live = _live_blas_threads()
    if live:  # the client's setting as it is now (a limit may be in force), not as it began
        environ.update({k: str(live) for k in BLAS_THREAD_VARS})
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        cluster = distributed.LocalCluster(n_workers=int(workers or 1), threads_per_worker=1,
                                           processes=True, dashboard_address=":0",
                                           silence_logs=logging.CRITICAL)
    return distributed.Client(cluster), cluster


def max_local_workers() -> int:
    """How many worker processes ``--workers`` may start here: 4 per core (``--workers
    100000`` started processes until the machine ran out of memory)."""
    return 4 * (os.cpu_count() or 1)


def _live_blas_threads() -> int | None:
    """The threads this process's BLAS uses now (threadpoolctl), or None when unknown."""
    try:
        from threadpoolctl import threadpool_info  # noqa: PLC0415
    except ImportError:
        return None
    counts = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    return min(counts) if counts else None


def explain_to_store(job_args: dict, out, *, client, labels=None, overwrite=False,
                     progress=None, log=None, on_chunk=None) -> Result:
    """Explain ``job_args['source']`` into the Zarr store ``out`` on ``client``'s cluster.

    ``job_args``: model (path), backend, dtype, rule, layer_rules (dict), target, raw,
    batch_size, source (a :class:`Source`). The store is filled under its partial name
    (:func:`lrpcore.io.relevance_store.partial_path`) and renamed to ``out`` when every chunk
    is done. Chunks already done are skipped; chunks failing for bad input are reported in
    the result (and the partial store, which then keeps its name), the rest completes.
    """
    from . import export  # noqa: PLC0415
    from .explain import Explainer, resolve_rules  # noqa: PLC0415
    from .insight.diagnose import Accumulator  # noqa: PLC0415
    from .io import load_model  # noqa: PLC0415
    from .io.models import NAMED_MODEL_FILES, model_file  # noqa: PLC0415

    distributed = import_distributed()
    given = job_args["model"]
    # a bundled name: its file; a named architecture (efficientnet-lite0) stays a name, as its
    # file (a PyTorch checkpoint) is weights that only the name builds into a model
    named = not os.path.isfile(given) and given in NAMED_MODEL_FILES
    model_path = given if named else os.path.abspath(model_file(given))
    source = job_args["source"]
    model = load_model(model_path)
    # the client checks rules and shapes (fast failure) with a CPU explainer; its passes are
    # the chunks, the same as a single-process numpy run of this batch size
    probe = Explainer(model, "numpy", job_args["dtype"])
    config = resolve_rules(probe.layers, job_args["rule"], job_args["layer_rules"])
    n = source.shape[0]
    if n == 0:
        raise ShapeError(f"{source.path}: no samples")
    if job_args["batch_size"] < 1:
        raise RuleError("--batch-size must be at least 1")
    try:
        first = probe.prepare(source.read(0, 1), raw=job_args["raw"])
    except ShapeError as exc:  # the message names the shape, not the file
        raise ShapeError(f"{source.path}: {exc}") from None
    fed_shape = (n,) + first.shape[1:]
    n_out = int(np.prod(probe.forward(first, raw=True).outputs().shape[1:]))
    step = probe.passes(fed_shape, job_args["batch_size"])[0][1]
    check_tasks(source.path, n, step)
    store_chunk = step * math.prod(fed_shape[1:]) * probe.dtype.itemsize
    if store_chunk > MAX_CHUNK_BYTES:  # the store's chunks are whole passes
        raise RuleError(f"--batch-size {job_args['batch_size']}: passes of {step} samples make "
                        f"store chunks of {store_chunk / 2**20:,.0f} MB, more than "
                        f"{MAX_CHUNK_BYTES >> 20:,} MB; use a smaller --batch-size")
    job = Job(model=model_path, model_sha256=export.sha256_file(model_file(model_path)),
              backend=job_args["backend"], dtype=probe.dtype.name, rule=job_args["rule"],
              layer_rules=tuple(job_args["layer_rules"].items()),  # in order: later wins
              target=job_args["target"], raw=bool(job_args["raw"]), source=source,
              store=os.path.abspath(layout.partial_path(out)), step=step)
    key = run_key(job, n, fed_shape, labels_sha256(labels))
    provenance = export.sidecar_info(model_path, config.description, str(job.target),
                                     resolved_backend(job.backend), job.dtype,
                                     dataset=source.path, raw=job.raw,
                                     format="zarr", content="relevance",
                                     shape=list(fed_shape), dtype_saved=job.dtype)
    bounds = [(i, a, min(n, a + step)) for i, a in enumerate(range(0, n, step))]
    say = log or (lambda text: None)
    if layout.finished_store(out, key, overwrite, bounds, say):  # complete and undamaged
        say(f"{out}: all {len(bounds)} chunks already done")
        return Result(chunks=len(bounds), computed=0, skipped=len(bounds), failed=[],
                      seconds=0.0, chunk_seconds=[], store=os.fspath(out))
    work = layout.partial_path(out)  # filled here; --out only when every chunk is done
    group = prepare_store(work, key, fed_shape, n_out, job.dtype, provenance, overwrite)
    done = group[layout.DONE]
    sums = group[layout.CHECKSUMS] if layout.CHECKSUMS in group else None
    finished = np.asarray(done[:]).astype(bool)
    for i, why in layout.damaged_chunks(group, finished, bounds):  # checked, not trusted
        _, a, b = bounds[i]
        say(f"{work}: chunk {i + 1}/{len(bounds)} (samples {a}..{b - 1}) is marked done but "
            f"damaged ({why}); computing it again")
        done[i], finished[i] = 0, False
    todo = [b for b in bounds if not finished[b[0]]]
    if finished.any():
        say(f"resuming {work}: {int(finished.sum())} of {len(bounds)} chunks already done, "
            f"computing {len(todo)}")
    link = dashboard_link(client)
    if link:
        say(f"Dask dashboard: {link}")
    t0 = time.perf_counter()
    futures = {}
    for i, a, b in todo:
        lab = None if labels is None else np.asarray(labels[a:b])
        futures[client.submit(explain_chunk, job, i, a, b, lab, pure=False,
                              key=f"lrp-chunk-{i}-{os.urandom(4).hex()}")] = (i, a, b)
    bar = _progress_thread(list(futures), progress)
    failed, seconds, used = [], [], set()
    refused = None  # the first chunk the store could not take: the rest is not computed
    checks = Accumulator.of(probe, config)  # conservation, merged from the workers
    try:
        pending = distributed.as_completed(list(futures))
        for fut in pending:
            i, a, b = futures[fut]
            if fut.status not in ("finished", "error", "cancelled"):
                # lost with a killed worker and being recomputed by Dask: wait for it again
                pending.add(fut)
                continue
            if fut.status == "finished":
                seconds.append(fut.result()["seconds"])
                used.add(fut.result()["backend"])
                checks.merge(fut.result()["checks"])
                if sums is not None:  # what a resumed run checks the chunk against
                    sums[i] = fut.result()["checksum"]
                done[i] = 1  # after the worker wrote the data: the manifest never lies
                if on_chunk is not None:
                    on_chunk(i, a, b)
                if bar is None:
                    say(f"chunk {i + 1}/{len(bounds)} done (samples {a}..{b - 1})")
            else:
                exc = None if fut.status == "cancelled" else fut.exception()
                why = "cancelled" if exc is None else f"{type(exc).__name__}: {exc}"
                if exc is None and refused is not None:
                    why = f"not computed: the store could not take chunk {refused + 1}"
                if isinstance(exc, StoreWriteError) and refused is None:
                    # a full disk or a read-only folder refuses every later chunk too: hours
                    # of LRP whose results could not be kept; stop at the first
                    refused = i
                    client.cancel([f for f in futures if not f.done()])
                # bad input (an undecodable image, NaN): the command's exit status 2, as
                # without a cluster; anything else (a lost worker, a bug) stays 1
                not_computed = exc is None and refused is not None
                failed.append({"chunk": i, "samples": [a, b - 1], "error": why,
                               "bad_input": isinstance(exc, LRPError) or not_computed,
                               "unwritten": isinstance(exc, StoreWriteError) or not_computed,
                               "not_computed": not_computed})
            fut.release()
    finally:
        if bar is not None:
            bar.join(timeout=5)
    group.attrs[layout.FAILED] = sorted(failed, key=lambda f: f["chunk"])
    _record_backends(group, used, resumed=len(todo) < len(bounds))
    diagnosis = checks.result()
    if diagnosis.n:
        group.attrs[layout.DIAGNOSIS] = diagnosis.to_dict()
    if not failed:
        layout.commit_store(work, out, overwrite)
    return Result(chunks=len(bounds), computed=len(todo) - len(failed),
                  skipped=len(bounds) - len(todo), failed=failed,
                  seconds=time.perf_counter() - t0, chunk_seconds=seconds,
                  diagnosis=diagnosis, store=os.fspath(out) if not failed else work)


def resolved_backend(name) -> str:
    """The backend ``name`` ("auto", None, "numpy", "cupy") stands for on this machine, as the
    provenance records it: "auto" says nothing about how the numbers were made. Workers
    resolve it again; :func:`_record_backends` corrects the record when they differ."""
    if name not in (None, "auto"):
        return str(name)
    from .backend import get_backend  # noqa: PLC0415

    return get_backend(None).name


def _record_backends(group, used, resumed) -> None:
    """The provenance names the backends the workers really used (with those recorded by the
    earlier run a ``resumed`` one continues): "numpy", or e.g. "cupy, numpy" on a mixed
    cluster."""
    if not used:
        return
    prov = dict(group.attrs[layout.PROVENANCE])
    before = {b.strip() for b in str(prov.get("backend") or "").split(",") if b.strip()}
    names = ", ".join(sorted(set(used) | ((before - {"auto"}) if resumed else set())))
    if names != prov.get("backend"):
        prov["backend"] = names
        group.attrs[layout.PROVENANCE] = prov


def dashboard_link(client):
    """The scheduler's dashboard address, or None when it serves none. A scheduler without
    bokeh (local, or an existing cluster's) still announces one that only answers 404, so
    the scheduler is asked whether it can serve it."""
    try:
        if "dashboard" not in client.scheduler_info().get("services", {}):
            return None
        return client.dashboard_link if client.run_on_scheduler(_has_bokeh) else None
    except Exception:  # noqa: BLE001 - only a hint
        return None


def _has_bokeh() -> bool:
    import importlib.util  # noqa: PLC0415

    return importlib.util.find_spec("bokeh") is not None


def _progress_thread(futures, progress):
    """Dask's own console progress bar (on a terminal, or when asked), in a thread beside the
    loop that records finished chunks; None when off."""
    show = sys.stderr.isatty() if progress is None else bool(progress)
    if not show or not futures:
        return None
    distributed = import_distributed()

    def draw():
        try:
            distributed.progress(futures, notebook=False, multi=False, complete=True)
        except Exception:  # noqa: BLE001 - a bar that cannot draw must not stop the run
            pass

    thread = threading.Thread(target=draw, name="lrp-dask-progress", daemon=True)
    thread.start()
    return thread
