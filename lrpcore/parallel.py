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

MIN_SHARD = 16  # below this many samples a shard costs more in overhead than it saves
# ... unless its samples are larger: a graph model's shard needs only this many bytes of
# activations. 16 MNIST digits through the ResNet (0.36 MB each in float32) ran as one shard;
# as two of 8 their float64 EpsilonPlus took 20 ms instead of 26 (float32: 12.6 instead of 13).
MIN_SHARD_BYTES = 2 * 2**20
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


def shard_count(n: int, threads: int, sample_bytes: int = 0, min_shard: int = MIN_SHARD) -> int:
    """How many shards a batch of ``n`` samples runs as: one per core, more (a multiple of the
    cores) when a shard's activations, ``sample_bytes`` per sample, would exceed SHARD_BYTES;
    no shard of fewer than ``min_shard`` samples."""
    k = max(1, min(threads, n // min_shard))
    if sample_bytes > 0 and k > 1:
        per_shard = max(min_shard, SHARD_BYTES // sample_bytes)
        wanted = -(-n // per_shard)
        if wanted > k:
            k = min(-(-wanted // threads) * threads, n // min_shard)
    return k


def shard_bounds(n: int, k: int) -> list[tuple[int, int]]:
    edges = [round(i * n / k) for i in range(k + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


@functools.lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(2, cpu_count()), thread_name_prefix="lrp-shard")


@functools.lru_cache(maxsize=1)
def _blas_controller():
    """threadpoolctl's controller of the BLAS libraries loaded now (None without it)."""
    try:
        from threadpoolctl import ThreadpoolController  # noqa: PLC0415 (optional)
    except ImportError:
        return None
    return ThreadpoolController().select(user_api="blas")


class _OneBlasThread:
    """BLAS at one thread while at least one caller needs it, the count it had restored when
    the last one leaves. threadpoolctl's own limit saves and restores per call: explanations
    overlapping in threads (GUI worker and diagnosis, user threads, Dask workers) restored out
    of order and left BLAS at one thread for the rest of the process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._users = 0
        self._held = []  # (library controller, its thread count before)

    def enter(self, rescan=False):
        with self._lock:
            if self._users == 0 or rescan:
                if rescan:  # libraries loaded since the first call (scikit-learn's SciPy)
                    _blas_controller.cache_clear()
                controller = _blas_controller()
                known = {lib.filepath for lib, _ in self._held}
                for lib in [] if controller is None else controller.lib_controllers:
                    if lib.filepath not in known:
                        self._held.append((lib, lib.get_num_threads()))
                        _set_blas_threads(lib, 1)
            self._users += 1

    def leave(self):
        with self._lock:
            self._users -= 1
            if self._users == 0:
                for lib, n in self._held:
                    _set_blas_threads(lib, n)
                self._held = []


def _set_blas_threads(lib, n):
    """A BLAS library to ``n`` threads (None: left alone). threadpoolctl lets only the thread
    that last set OpenBLAS set it again until it lets go; this lets go at once, so whichever
    thread leaves last can restore it."""
    if n is None:
        return
    lib.set_num_threads(n)
    let_go = getattr(type(lib), "clear_controlling_thread", None)  # threadpoolctl ≥ 3.6
    if let_go is not None:
        let_go()


_one_blas_thread = _OneBlasThread()


@contextlib.contextmanager
def single_threaded_blas(rescan=False):
    """Limit BLAS to one thread while shards run in parallel (no oversubscription), however
    many threads do so at once. ``rescan``: look again for BLAS libraries loaded since the
    first call, when no other thread holds the limit."""
    _one_blas_thread.enter(rescan)
    try:
        yield
    finally:
        _one_blas_thread.leave()


def run_sharded(fn, items) -> list:
    """``[fn(item) for item in items]``, the items in parallel threads."""
    items = list(items)
    if len(items) == 1:
        return [fn(items[0])]
    with single_threaded_blas():
        return list(_pool().map(fn, items))
