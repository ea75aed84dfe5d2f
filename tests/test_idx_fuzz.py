"""Fuzzing the IDX reader: malformed files end in DatasetError naming file and position.

No hang, no crash and no huge allocation: sizes claimed by a header are checked against the
real file (or, for gzip, the decompressed stream is cut off at the claimed size) first.
"""

from __future__ import annotations

import gzip
import os
import re
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrpcore.errors import DatasetError
from lrpcore.io.idx import IDX_TYPES, open_idx

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
POSITION = re.compile(r"byte \d+")


@pytest.fixture(scope="module", autouse=True)
def private_cache():
    with tempfile.TemporaryDirectory() as folder:
        old = os.environ.get("LRP_CACHE_DIR")
        os.environ["LRP_CACHE_DIR"] = folder
        yield
        if old is None:
            del os.environ["LRP_CACHE_DIR"]
        else:
            os.environ["LRP_CACHE_DIR"] = old


def header(code: int, dims) -> bytes:
    return bytes([0, 0, code, len(dims)]) + b"".join(int(d).to_bytes(4, "big") for d in dims)


def valid_size(data: bytes) -> int | None:
    """Independent re-statement of the format: the array size if ``data`` is a valid IDX."""
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in IDX_TYPES or not 1 <= data[3] <= 4:
        return None
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        return None
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    itemsize = np.dtype(IDX_TYPES[data[2]]).itemsize
    nonzero = int(np.prod([d for d in dims if d], dtype=object)) * itemsize
    if nonzero > np.iinfo(np.intp).max:  # no array has such a shape, even an empty one
        return None
    need = int(np.prod(dims, dtype=object)) * itemsize
    return need if len(data) == 4 + 4 * ndim + need else None


def check(data: bytes, compress: bool = False):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "fuzz.idx.gz" if compress else "fuzz.idx")
        with open(path, "wb") as fh:
            fh.write(gzip.compress(data, mtime=0) if compress else data)
        expected = valid_size(data)
        try:
            arr = open_idx(path)
        except DatasetError as exc:
            message = str(exc)
            assert path in message, message
            assert POSITION.search(message), message
            assert expected is None, f"valid file rejected: {message}"
            return None
        assert expected is not None, "malformed file accepted"
        assert arr.nbytes == expected
        return np.array(arr)


header_like = st.builds(
    lambda code, dims, body: header(code, dims) + body,
    st.sampled_from(sorted(IDX_TYPES) + [0x00, 0x07, 0xFF]),
    st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 6), min_size=0, max_size=5),
    st.binary(max_size=300),
)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(data):
    check(data)


@FUZZ
@given(header_like)
def test_header_like_bytes_and_huge_dimension_claims(data):
    check(data)


@FUZZ
@given(header_like)
def test_gzipped_header_like_bytes(data):
    check(data, compress=True)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.integers(1, 4), st.data())
def test_valid_files_round_trip_and_every_truncation_fails(ndim, data):
    dims = data.draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim))
    code = data.draw(st.sampled_from(sorted(IDX_TYPES)))
    dtype = np.dtype(IDX_TYPES[code])
    array = np.arange(int(np.prod(dims)), dtype=dtype).reshape(dims)
    full = header(code, dims) + array.tobytes()
    np.testing.assert_array_equal(check(full), array)
    cut = data.draw(st.integers(0, len(full) - 1))
    assert check(full[:cut]) is None
    assert check(full + b"\0") is None


def test_huge_claim_is_rejected_before_any_allocation(tmp_path):
    path = tmp_path / "huge-images-idx3-ubyte"
    path.write_bytes(header(0x0E, [2**32 - 1] * 3) + b"\0" * 64)
    with pytest.raises(DatasetError, match=r"huge-images-idx3-ubyte: byte \d+: file ends early"):
        open_idx(path)


def test_truncated_and_corrupt_gzip_streams(tmp_path):
    body = header(0x08, [3, 5, 5]) + bytes(range(75))
    packed = gzip.compress(body, mtime=0)
    for cut in (3, 12, len(packed) // 2, len(packed) - 4):
        path = tmp_path / f"cut{cut}.gz"
        path.write_bytes(packed[:cut])
        with pytest.raises(DatasetError, match=rf"cut{cut}\.gz.*byte \d+"):
            open_idx(path)
    bad = bytearray(packed)
    bad[-6] ^= 0xFF  # CRC of the gzip trailer
    (tmp_path / "crc.gz").write_bytes(bytes(bad))
    with pytest.raises(DatasetError, match=r"crc\.gz.*byte \d+"):
        open_idx(tmp_path / "crc.gz")
    assert not any(p.name.startswith(".tmp-") for p in (tmp_path).rglob("*"))


def test_gzip_bomb_is_cut_at_the_claimed_size(tmp_path):
    body = header(0x08, [1, 2, 2]) + b"\0" * 4 + b"\0" * (20 << 20)  # 20 MB of trailing zeros
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(body, compresslevel=9, mtime=0))
    with pytest.raises(DatasetError, match=r"bomb\.gz: decompressed byte 20: unexpected data"):
        open_idx(path)
    cache = os.environ["LRP_CACHE_DIR"]
    sizes = [os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(cache) for f in fs]
    assert all(s < 1 << 20 for s in sizes)


def test_an_empty_shape_with_huge_other_dimensions_is_a_dataset_error():
    """0 × 3e9 × 3e9 announces no data bytes, yet numpy cannot make such an array."""
    data = header(8, [0, 3036988439, 3037012561])
    assert check(data) is None
    assert check(data, compress=True) is None
