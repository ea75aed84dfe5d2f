"""Running a batch as parallel shards on the CPU.

numpy releases the GIL in its element-wise operations and copies, which dominate convolutional
LRP (im2col, scatter, stabilisers). Splitting a batch into one shard per core and running the
shards in threads, with BLAS limited to one thread meanwhile, roughly halves the time of a
LeNet-5 batch on two cores; matrix-bound dense networks run as fast as before. Results do not
change: every sample is computed independently.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

MIN_SHARD = 16  # below this many samples a shard costs more in overhead than it saves
# Activations one shard may hold. Convolutional layers are memory-bound: a LeNet-5 shard of 128
# float64 samples keeps ~25 MB of activations and im2col buffers live, two of them overflow the
# shared L3 cache, and the batch ran ~30 % slower than in shards of ~40 samples. Dense networks
# hold little per sample and keep one large shard per core (their weights are read per shard).
SHARD_BYTES = 12 * 2**20
# Activations one forward pass may hold on the CPU: a larger batch is explained in passes of
# this size. A pass of 5,000 LeNet-5 digits held 1 GB, left every cache, and ran 2.3× slower
# than passes of 256; results do not depend on how a batch is split.
PASS_BYTES = 64 * 2**20


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def shard_count(n: int, threads: int, sample_bytes: int = 0) -> int:
    """How many shards a batch of ``n`` samples runs as: one per core, more (a multiple of the
    cores) when a shard's activations, ``sample_bytes`` per sample, would exceed SHARD_BYTES."""
    k = max(1, min(threads, n // MIN_SHARD))
    if sample_bytes > 0 and k > 1:
        per_shard = max(MIN_SHARD, SHARD_BYTES // sample_bytes)
        wanted = -(-n // per_shard)
        if wanted > k:
            k = min(-(-wanted // threads) * threads, n // MIN_SHARD)
    return k


def shard_bounds(n: int, k: int) -> list[tuple[int, int]]:
    edges = [round(i * n / k) for i in range(k + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


@functools.lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(2, cpu_count()), thread_name_prefix="lrp-shard")


@functools.lru_cache(maxsize=1)
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController  # noqa: PLC0415 (optional)
    except ImportError:
        return None
    return ThreadpoolController()


@contextlib.contextmanager
def single_threaded_blas():
    """Limit BLAS to one thread while shards run in parallel (no oversubscription)."""
    controller = _blas_controller()
    if controller is None:
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


def run_sharded(fn, items, split=False) -> list:
    """``[fn(item) for item in items]``, the items in parallel threads; one item alone runs
    on this thread, its products and kernels split over the cores if ``split``
    (:func:`split_cores`)."""
    items = list(items)
    if len(items) == 1:
        if split:
            with split_cores():
                return [fn(items[0])]
        return [fn(items[0])]
    with single_threaded_blas():
        return list(_pool().map(functools.partial(_in_shard, fn), items))


# How this thread uses the cores: "shard" (one of several shards: everything on this thread),
# "split" (the only shard: BLAS on one thread, the engine's own splits over the cores) or
# None (BLAS threads its products itself; kernels split).
_plan = threading.local()


def _in_shard(fn, item):
    """``fn(item)`` in a shard thread: its kernels run on this thread alone (split_rows)."""
    _plan.mode = "shard"
    try:
        return fn(item)
    finally:
        _plan.mode = None


@contextlib.contextmanager
def split_cores():
    """Run one shard on every core with the engine's own threads only: BLAS on one thread,
    matrix products (:func:`matmul`) and kernels (:func:`split_rows`) split by rows.

    Mixing the two kinds of threads wastes a core: OpenBLAS's idle workers spin for ~0.1 s
    after every product, on the core a kernel's second half was handed to, and a photograph's
    depthwise layers ran no faster on two threads than on one."""
    if getattr(_plan, "mode", None) is not None or cpu_count() < 2:
        yield
        return
    with single_threaded_blas():
        _plan.mode = "split"
        try:
            yield
        finally:
            _plan.mode = None


# Below this many multiply-adds a kernel runs whole: handing rows to a second thread costs
# ~30 µs, as much as ~100 k multiply-adds of a depthwise row take.
SPLIT_WORK = 1 << 18


@functools.lru_cache(maxsize=1)
def _row_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, cpu_count() - 1),
                              thread_name_prefix="lrp-rows")


def split_rows(kernel, args, rows: int, work: int) -> None:
    """``kernel(*args, r0, r1)`` over rows 0 … ``rows`` − 1, split over the cores when the
    ``work`` (multiply-adds, or elements) is large and this thread is not already one of
    several shards, which use every core between them. The kernel must release the GIL and
    write disjoint rows; the caller's thread takes the first part."""
    parts = min(cpu_count(), rows) if work >= SPLIT_WORK else 1
    if parts <= 1 or getattr(_plan, "mode", None) == "shard":
        kernel(*args, 0, rows)
        return
    edges = [round(i * rows / parts) for i in range(parts + 1)]
    pool = _row_pool()
    futures = [pool.submit(kernel, *args, a, b) for a, b in zip(edges[1:-1], edges[2:],
                                                               strict=True)]
    try:
        kernel(*args, edges[0], edges[1])
    finally:  # never return (or raise) while another thread still writes the output
        for f in futures:
            f.result()


def _matmul_rows(a, b, out, r0, r1):
    np.matmul(a[r0:r1], b, out=out[r0:r1])  # BLAS runs without the GIL


def matmul(a, b):
    """``a @ b``, split by rows of ``a`` over the cores inside :func:`split_cores` (numpy)."""
    if (getattr(_plan, "mode", None) != "split" or not isinstance(a, np.ndarray)
            or a.ndim != 2 or b.ndim != 2 or a.shape[0] < 2):
        return a @ b
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
    split_rows(_matmul_rows, (a, b, out), a.shape[0], a.shape[0] * a.shape[1] * b.shape[1])
    return out
