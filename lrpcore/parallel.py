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

from .cpu_load import cpu_set, usable_cores

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
    return len(cpu_set())


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
            if rescan:  # libraries loaded since the first call (scikit-learn's SciPy)
                _blas_controller.cache_clear()
            if self._users == 0 or rescan:
                self._limit_unheld()
            self._users += 1

    def library_loaded(self):
        """A BLAS library was loaded after the first call: limit it too, now if a caller holds
        the limit, else on the next call."""
        with self._lock:
            _blas_controller.cache_clear()
            if self._users:
                self._limit_unheld()

    def _limit_unheld(self):
        controller = _blas_controller()
        known = {lib.filepath for lib, _ in self._held}
        for lib in [] if controller is None else controller.lib_controllers:
            if lib.filepath not in known:
                self._held.append((lib, lib.get_num_threads()))
                _set_blas_threads(lib, 1)

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


def blas_library_loaded():
    """Called by a module that loads another BLAS (``lrpcore.cpu_kernels``: SciPy's, which its
    kernels call). Found only by a rescan, it ran at two threads inside ``one_core`` and the
    shards: on a busy machine a pass's block-wise z⁺ kernel then took ~80 ms a layer instead of
    ~1 waiting for a core other processes held."""
    _one_blas_thread.library_loaded()


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


# -- one pass on all the cores ------------------------------------------------------------------
# A single photograph is one shard: there is no batch to split, so its pass splits each step
# instead. Its compiled kernels (lrpcore.cpu_kernels) and its matrix products run as numba
# parallel loops over the rows of each array, with BLAS at one thread inside each. Split by
# OpenBLAS's own threads instead, the products left workers spinning for ~0.1 s on the core the
# next kernel's second half needed (a kernel after a product took 5 ms instead of 0.1).

class _ThreadState(threading.local):
    """Per thread: whether its kernels split (``all_cores``) or stay on one core. Defaults
    on the class: a missing attribute made ``getattr(local, name, default)`` raise and catch
    inside, ~1 µs on every product and kernel of a pass (LeNet-5's digit asks ~50 times)."""

    split = False
    one_core = False


_local = _ThreadState()
_split_lock = threading.Lock()  # one pass at a time splits; overlapping ones run on one core
# The process that started numba's threads. GNU OpenMP's threads do not survive fork(): numba
# ends a forked child (multiprocessing's default start on Linux) that launches a parallel
# kernel after its parent did, so a child keeps its kernels on one core.
_split_pid = None


@functools.lru_cache(maxsize=1)
def _split_usable() -> bool:
    """Whether numba can split kernels safely and cheaply here: a threading layer that
    tolerates launches from several threads (OpenMP or TBB; numba's own workqueue costs
    ~70 µs per launch), more than one thread, and threadpoolctl to hold BLAS at one."""
    if cpu_count() < 2:
        return False
    try:
        import numba  # noqa: PLC0415
        import threadpoolctl  # noqa: F401, PLC0415
    except ImportError:
        return False
    if numba.config.NUMBA_NUM_THREADS < 2 or str(numba.config.THREADING_LAYER).lower() in (
            "workqueue", "forksafe"):
        return False
    for pool in ("tbbpool", "omppool"):
        try:
            __import__(f"numba.np.ufunc.{pool}")
            return True
        except ImportError:  # the library the layer needs is missing
            continue
    return False


def kernels_split() -> bool:
    """Whether the calling thread's compiled kernels and products split over the cores."""
    return _local.split


@contextlib.contextmanager
def all_cores(threads=None):
    """Split this thread's kernels over ``threads`` cores (default: numba's count; see above)
    when that is possible and no other pass does so already, nor ``one_core`` forbids it
    here; BLAS at one thread meanwhile."""
    global _split_pid
    if (threads is not None and threads < 2) or _local.one_core or \
            kernels_split() or _split_pid not in (None, os.getpid()) or \
            not _split_usable() or not _split_lock.acquire(blocking=False):
        yield
        return
    try:
        import numba  # noqa: PLC0415

        from .kernels import compiled  # noqa: PLC0415 (numba loads on first use)

        compiled()  # loads SciPy's BLAS, which the kernels call (blas_library_loaded)
        before = numba.get_num_threads()
        numba.set_num_threads(min(threads or before, numba.config.NUMBA_NUM_THREADS))
        with single_threaded_blas():
            _split_pid = os.getpid()
            _local.split = True
            try:
                yield
            finally:
                _local.split = False
                numba.set_num_threads(before)
    finally:
        _split_lock.release()


@contextlib.contextmanager
def one_core():
    """Keep this thread's passes on one core (BLAS included), e.g. a GUI's worker that must
    leave the other core to the GUI thread."""
    before = _local.one_core
    _local.one_core = True
    try:
        with single_threaded_blas():
            yield
    finally:
        _local.one_core = before


def run_sharded(fn, items, split=1) -> list:
    """``[fn(item) for item in items]``, the items in parallel threads; a single item runs
    on ``split`` cores (``all_cores``) when that is more than one and other processes leave
    that many free, and on one core (BLAS included) when they hold any it would use."""
    items = list(items)
    if len(items) == 1:
        free = usable_cores()
        if free < cpu_count() and (split < 2 or free < 2):
            with one_core():  # other processes hold cores (lrpcore.cpu_load): no waiting on them
                return [fn(items[0])]
        if split < 2:
            return [fn(items[0])]
        with all_cores(min(split, free)):
            return [fn(items[0])]
    with single_threaded_blas():
        return list(_pool().map(fn, items))
