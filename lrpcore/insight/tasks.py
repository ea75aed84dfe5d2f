"""Progress and cancellation for long insight computations (GUI workers, the CLI)."""

from __future__ import annotations

from ..errors import Cancelled  # noqa: F401 (re-exported: the project's one cancellation)


def check_cancel(cancel) -> None:
    if cancel is not None and cancel():
        raise Cancelled("cancelled by the user")


def report(progress, done, total) -> None:
    if progress is not None:
        progress(int(done), int(total))


def spread_indices(total: int, n: int):
    """``n`` sample indices spread evenly over ``0..total-1`` (all of them when n ≥ total):
    a batch that sees every part of a dataset sorted by class, as the MNIST sample is."""
    import numpy as np  # noqa: PLC0415

    n = min(int(n), int(total))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.linspace(0, total - 1, n).round().astype(np.int64))
