"""Shards run with BLAS limited to one thread inside the shard threads themselves (two BLAS
threads per shard on two cores oversubscribe them: a batch of 16 photographs took 1.9× as
long). The README states this, so a test holds it."""

from __future__ import annotations

import pytest

from lrpcore import parallel


def _blas_threads(_item):
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_shard_threads_run_blas_single_threaded():
    pytest.importorskip("threadpoolctl")
    if not _blas_threads(None):
        pytest.skip("threadpoolctl finds no BLAS library here")
    seen = parallel.run_sharded(_blas_threads, range(4))
    assert all(threads == [1] * len(threads) for threads in seen), seen
