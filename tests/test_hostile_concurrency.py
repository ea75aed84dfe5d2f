"""Explanations at once in several threads (the GUI's worker and its diagnosis, Dask workers,
``lrpcore.explain`` from user threads): what one of them changes for the process (BLAS threads,
the switch interval) is as it was once the last has ended, whatever order they end in."""

from __future__ import annotations

import threading

import pytest
from blas_probe import blas_threads

from lrpcore import parallel, spray

threadpoolctl = pytest.importorskip("threadpoolctl")


def _spray_limit():
    pytest.importorskip("sklearn")
    return spray.one_thread()


@pytest.mark.parametrize("limits", [
    (parallel.single_threaded_blas, parallel.single_threaded_blas),
    (parallel.single_threaded_blas, _spray_limit),  # a click explained while SpRAy clusters
    (_spray_limit, parallel.single_threaded_blas)], ids=["two-explanations", "then-spray",
                                                         "spray-first"])
def test_overlapping_limits_ending_out_of_order_restore_the_blas_threads(limits):
    import numpy  # noqa: F401 (its BLAS, for threadpoolctl to find)

    if limits[0] is _spray_limit or limits[1] is _spray_limit:
        pytest.importorskip("sklearn")
        import sklearn.cluster  # noqa: F401 (its libraries loaded before counting)
    before = blas_threads()
    if not before or max(before) < 2:
        pytest.skip("no multi-threaded BLAS that threadpoolctl can see")
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    inside_alone = []

    def first():
        with limits[0]():
            first_in.set()
            second_in.wait(30)
        first_out.set()

    def second():
        first_in.wait(30)
        with limits[1]():
            second_in.set()
            first_out.wait(30)
            inside_alone.append(blas_threads())  # the first has left, this one still runs

    threads = [threading.Thread(target=f) for f in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert inside_alone == [[1] * len(before)]
    assert blas_threads() == before
