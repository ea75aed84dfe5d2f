"""Which temporary files the cleanup removes: only this project's names, of dead runs of this
host, and names of older versions (no host tag) once untouched for a day. The IDX cache removed
every ``.tmp-`` file older than an hour, whoever wrote it; untagged names stayed forever."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time

import numpy as np

from lrpcore import fileio
from lrpcore.fileio import TEMP_PREFIX, UNTAGGED_STALE_S, clean_stale_temporaries, host_tag
from lrpcore.io.idx import open_idx


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def _aged(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def _file(path, seconds):
    """A small file at ``path`` last changed ``seconds`` ago."""
    path.write_bytes(b"partial")
    return _aged(path, seconds)


def test_the_idx_cache_leaves_foreign_temporary_files_alone(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("LRP_CACHE_DIR", str(cache))
    folder = cache / "idx"
    folder.mkdir(parents=True)
    pid = _dead_pid()
    foreign = _file(folder / ".tmp-someone-elses-upload", 7200)
    other_host = _file(folder / f"{TEMP_PREFIX}{pid}-@otherhost123456-x.idx", 7200)
    mine_dead = _file(folder / f"{TEMP_PREFIX}{pid}-@{host_tag()}-y.idx", 10)
    data = np.arange(12, dtype=np.uint8).reshape(3, 4)
    gz = tmp_path / "d.gz"
    gz.write_bytes(gzip.compress(bytes([0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 4]) + data.tobytes()))
    np.testing.assert_array_equal(open_idx(gz), data)
    assert foreign.exists() and other_host.exists()  # not ours to remove
    assert not mine_dead.exists()  # this host's dead run: removed by the write


def test_untagged_names_of_older_versions_go_once_untouched_for_a_day(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio, "_cleaned", set())
    pid = _dead_pid()
    day = UNTAGGED_STALE_S + 60
    old_file = _file(tmp_path / f"{TEMP_PREFIX}{pid}-download", day)
    old_store = tmp_path / f"{TEMP_PREFIX}{pid}-R.zarr"
    (old_store / "0").mkdir(parents=True)
    _aged(old_store / "0", day)
    _aged(old_store, day)
    fresh = _file(tmp_path / f"{TEMP_PREFIX}{pid}-busy", 60)
    in_use = tmp_path / f"{TEMP_PREFIX}{pid}-S.zarr"
    (in_use / "0").mkdir(parents=True)  # its chunk written just now
    _aged(in_use, day)
    not_ours = _file(tmp_path / ".tmp-lrp-notapid", day)
    clean_stale_temporaries(tmp_path)
    assert not old_file.exists() and not old_store.exists()
    assert fresh.exists() and in_use.exists() and not_ours.exists()
