"""What the BLAS libraries threadpoolctl sees are set to now: the probe of every test that
checks a pass, a worker or a limit leaves BLAS on the threads it should (callers skip without
threadpoolctl)."""

from __future__ import annotations


def blas_threads() -> list:
    """The thread count of each BLAS library loaded in this process."""
    from threadpoolctl import threadpool_info  # noqa: PLC0415 (the callers skip without it)

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
