"""Shards run with BLAS limited to one thread inside the shard threads themselves (two BLAS
threads per shard on two cores oversubscribe them: a batch of 16 photographs took 1.9× as
long). The README states this, so a test holds it."""

from __future__ import annotations

import pytest
from blas_probe import blas_threads

from lrpcore import parallel


def _blas_threads(_item):
    """:func:`blas_threads` as a shard's work (``run_sharded`` passes each its item)."""
    return blas_threads()


def test_shard_threads_run_blas_single_threaded():
    pytest.importorskip("threadpoolctl")
    if not _blas_threads(None):
        pytest.skip("threadpoolctl finds no BLAS library here")
    seen = parallel.run_sharded(_blas_threads, range(4))
    assert all(threads == [1] * len(threads) for threads in seen), seen


_LATE_BLAS = r"""
import json, sys
from threadpoolctl import threadpool_info
from lrpcore import parallel

def blas():
    return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

assert "lrpcore.cpu_kernels" not in sys.modules
with parallel.one_core():          # the first limit, before the kernels' BLAS is loaded
    pass
with parallel.one_core():
    before = blas()
    from lrpcore.kernels import compiled
    compiled()                     # loads SciPy's BLAS while the limit is held
    during = blas()
with parallel.one_core():
    later = blas()
print(json.dumps({"before": before, "during": during, "later": later, "after": blas()}))
"""


def test_a_blas_loaded_by_the_kernels_is_held_to_one_thread_too(tmp_path):
    """SciPy's BLAS, which the compiled kernels call, loads after the limit first looked for
    BLAS libraries. It stayed at its own thread count inside ``one_core`` and the shards (on a
    busy machine a block-wise z⁺ layer took ~80 ms instead of ~1, waiting for a held core)."""
    import json
    import os
    import subprocess
    import sys

    pytest.importorskip("threadpoolctl")
    pytest.importorskip("numba")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", _LATE_BLAS], env=env, capture_output=True,
                         text=True, timeout=300, check=True).stdout
    seen = json.loads(out.strip().splitlines()[-1])
    new = set(seen["during"]) - set(seen["before"])
    if not new:
        pytest.skip("numpy and SciPy share one BLAS library here")
    assert all(seen["during"][lib] == 1 for lib in new), seen
    assert all(seen["later"][lib] == 1 for lib in new), seen
    assert all(seen["after"][lib] == 2 for lib in new), seen  # given back when the limit ends
