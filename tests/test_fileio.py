"""Atomic writes, including the memory-mapped .npy that ``lrp explain`` fills batch by batch."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

from lrpcore.errors import ExportError
from lrpcore.fileio import atomic_npy_memmap


def test_memmap_npy_becomes_the_file_on_success(tmp_path):
    path = tmp_path / "R.npy"
    want = np.random.default_rng(0).normal(size=(7, 4, 3)).astype(np.float32)
    with atomic_npy_memmap(path, want.shape, np.float32) as out:
        assert not path.exists()  # written under a temporary name until done
        for start in range(0, 7, 3):
            out[start:start + 3] = want[start:start + 3]
    got = np.load(path)
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    assert [p.name for p in tmp_path.iterdir()] == ["R.npy"]


def test_memmap_npy_of_no_samples(tmp_path):
    with atomic_npy_memmap(tmp_path / "e.npy", (0, 5), np.float64):
        pass
    assert np.load(tmp_path / "e.npy").shape == (0, 5)


def test_a_failure_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "R.npy"
    path.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_npy_memmap(path, (3, 2), np.float64) as out:
            out[0] = 1
            raise KeyboardInterrupt
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["R.npy"]


def test_existing_file_is_refused_without_overwrite(tmp_path):
    path = tmp_path / "R.npy"
    path.write_bytes(b"old")
    with pytest.raises(ExportError, match="exists"):
        with atomic_npy_memmap(path, (3,), np.float64, overwrite=False):
            pass
    assert path.read_bytes() == b"old"


def test_full_disk_is_an_error_before_any_write(tmp_path, monkeypatch):
    def no_space(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", no_space)
    with pytest.raises(ExportError, match=r"R\.npy: cannot reserve .*No space left"):
        with atomic_npy_memmap(tmp_path / "R.npy", (1000, 10), np.float64):
            raise AssertionError("the body must not run")
    assert list(tmp_path.iterdir()) == []


def test_file_systems_without_fallocate_get_a_sparse_file(tmp_path, monkeypatch):
    def unsupported(fd, offset, length):
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(os, "posix_fallocate", unsupported)
    with atomic_npy_memmap(tmp_path / "R.npy", (4, 2), np.int64) as out:
        out[:] = np.arange(8).reshape(4, 2)
    np.testing.assert_array_equal(np.load(tmp_path / "R.npy"), np.arange(8).reshape(4, 2))


def test_a_stopped_run_sweeps_its_own_temporaries_and_nothing_else(tmp_path, monkeypatch):
    """What a signal left between mkstemp/mkdtemp making a name and returning it is found by
    the sweep; another run's temporaries and an earlier file held aside (``-old``) are not."""
    import tempfile

    from lrpcore import fileio

    fileio.forget_written_folders()
    real = tempfile.mkstemp

    def struck(*args, **kwargs):
        fd, _ = real(*args, **kwargs)
        os.close(fd)
        raise KeyboardInterrupt

    monkeypatch.setattr(tempfile, "mkstemp", struck)
    with pytest.raises(KeyboardInterrupt):
        with fileio.atomic_open(tmp_path / "R.npy", "wb"):
            pass
    monkeypatch.undo()
    fileio.make_temp_folder(tmp_path, "-concepts")
    others = [f"{fileio.TEMP_PREFIX}1-@elsewhere000000-x", f"{fileio.temp_prefix()}abcd-old"]
    for name in others:
        (tmp_path / name).write_bytes(b"")
    assert len(list(tmp_path.iterdir())) == 4
    fileio.remove_own_temporaries()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(others)
