"""BLAS/OpenMP limits are process-wide: blocks that limit them on several threads (the
explorer's explain worker, a SpRAy run on another worker, parallel shards) overlap and end out
of order. Counted limits restore the original once the last block ends; each block restoring
what it saw on entry left BLAS at one thread for the rest of the process (a later float64 pass
rounded differently: the Dask equality tests failed after the GUI tests)."""

from __future__ import annotations

import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads():
    """Threads of the BLAS libraries the engine's limits act on."""
    from lrpcore import parallel

    return {i["num_threads"] for i in parallel._blas_controller().info()
            if i["user_api"] == "blas"}


def test_blocks_ending_out_of_order_restore_the_original():
    from lrpcore import parallel, spray

    if not _blas_threads():
        pytest.skip("no BLAS library that threadpoolctl controls")
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        assert _blas_threads() == {2}
        first = parallel.single_threaded_blas()
        first.__enter__()  # the explain worker starts
        second = spray.one_thread()
        second.__enter__()  # a SpRAy run starts on another worker
        assert _blas_threads() == {1}
        first.__exit__(None, None, None)  # the explanation ends first
        assert _blas_threads() == {1}  # the SpRAy run still holds its limit
        second.__exit__(None, None, None)
        assert _blas_threads() == {2}  # nothing left behind
