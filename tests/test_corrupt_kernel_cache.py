"""A CPU kernel whose cache file numba cannot read back (a truncated or garbled index or data
file: a crash or power loss while numba wrote it, a bad sector) compiles again, with a
warning, and its fresh code replaces the bad file. Before, numba's unpickling error failed
every explanation that needed the kernel, in every process, until someone found the file.

The cache lives in a temporary NUMBA_CACHE_DIR (numba.config.CACHE_DIR), never the real one."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lrpcore import cpu_kernels

numba = pytest.importorskip("numba")


def _times_two(x, out):
    for i in range(x.shape[0]):
        out[i] = x[i] * 2.0


def _run(x):
    """The kernel's result, and whether it came from the disk cache (a new dispatcher, as in
    a new process, reads the cache)."""
    kernel = cpu_kernels._compile(_times_two)
    out = np.empty_like(x)
    kernel(x, out)
    return out, sum(kernel.stats.cache_hits.values()) == 1


def _damage(path, how):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if how == "truncated" else b"\x00not a pickle")


@pytest.mark.parametrize("how", ["truncated", "garbled"])
@pytest.mark.parametrize("suffix", [".nbi", ".nbc"])  # the index, the compiled code
def test_an_unreadable_cache_file_compiles_the_kernel_again(tmp_path, monkeypatch, suffix,
                                                            how):
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    x = np.arange(6.0)
    out, loaded = _run(x)
    assert np.array_equal(out, 2 * x) and not loaded  # compiled and saved
    assert _run(x)[1]  # loaded: the cache works in this folder
    files = sorted(tmp_path.rglob(f"*_times_two*{suffix}"))
    assert files, sorted(p.name for p in tmp_path.rglob("*"))
    for f in files:
        _damage(f, how)
    with pytest.warns(RuntimeWarning, match="cache"):
        out, loaded = _run(x)
    assert np.array_equal(out, 2 * x) and not loaded
    with warnings.catch_warnings():  # the bad file was replaced: the next process loads it
        warnings.simplefilter("error")
        out, loaded = _run(x)
    assert np.array_equal(out, 2 * x) and loaded
