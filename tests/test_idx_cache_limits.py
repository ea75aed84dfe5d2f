"""Gzipped IDX claims are checked against what the gzip file can hold and the cache cap before
anything is written; the cache evicts old copies so that it stays under ``LRP_CACHE_MAX_MB``."""

from __future__ import annotations

import gzip
import os

import numpy as np
import pytest

from lrpcore.errors import DatasetError
from lrpcore.io.idx import open_idx


def header(code, dims) -> bytes:
    return bytes([0, 0, code, len(dims)]) + b"".join(int(d).to_bytes(4, "big") for d in dims)


def cache_bytes(folder) -> int:
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(folder) for f in fs)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("LRP_CACHE_DIR", str(folder))
    return folder


def test_a_claim_no_gzip_of_that_size_can_hold_is_refused_before_writing(tmp_path, cache):
    # (2^32-1)^4 bytes claimed by a file of a few dozen bytes: nothing may reach the cache
    path = tmp_path / "claim-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(header(0x08, [2**32 - 1] * 4) + b"\0" * 64, mtime=0))
    with pytest.raises(DatasetError, match=r"claim-images-idx3-ubyte\.gz.*byte 4.*can hold"):
        open_idx(path)
    assert cache_bytes(cache) == 0


def test_an_honest_file_beyond_the_cache_cap_is_refused(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("LRP_CACHE_MAX_MB", "1")
    path = tmp_path / "big.gz"
    path.write_bytes(gzip.compress(header(0x08, [2, 1024, 1024]) + b"\0" * (2 << 20), mtime=0))
    with pytest.raises(DatasetError, match=r"big\.gz.*1 MB cache cap.*LRP_CACHE_MAX_MB"):
        open_idx(path)
    assert cache_bytes(cache) == 0


def test_the_cache_evicts_old_copies_to_stay_under_the_cap(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("LRP_CACHE_MAX_MB", "1")
    rng = np.random.default_rng(0)
    arrays = []
    for i in range(4):  # four 400 kB files: at most two fit under 1 MB
        data = rng.integers(0, 256, size=(400, 1000), dtype=np.uint8)
        path = tmp_path / f"part{i}.gz"
        path.write_bytes(gzip.compress(header(0x08, data.shape) + data.tobytes(), mtime=0))
        arrays.append((path, data))
        np.testing.assert_array_equal(open_idx(path), data)
        assert cache_bytes(cache) <= 2**20
    np.testing.assert_array_equal(open_idx(arrays[0][0]), arrays[0][1])  # decompressed again
