"""The CPU kernels' disk cache (numba) on a full disk or one that refuses writes: a kernel
whose compiled code cannot be saved runs all the same (the next process compiles it again).
Before, numba's OSError failed the explanation, and ``lrp explain`` blamed its output file
("R.npy: write failed: No space left on device") on a disk with room for it."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from lrpcore import cpu_kernels


def _add_one(x, out):
    for i in range(x.shape[0]):
        out[i] = x[i] + 1.0


def test_a_kernel_whose_cache_cannot_be_written_still_runs(monkeypatch):
    caching = pytest.importorskip("numba.core.caching")
    real_open = open

    def full_disk(path, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(caching, "open", full_disk, raising=False)
    kernel = cpu_kernels._compile(_add_one)
    x = np.arange(5.0)
    for dtype in (np.float64, np.float32):  # each signature compiles (and saves) on its own
        out = np.empty_like(x, dtype=dtype)
        kernel(x.astype(dtype), out)
        assert np.array_equal(out, x + 1)
