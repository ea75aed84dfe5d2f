"""The Zarr relevance store of ``lrp explain --out R.zarr`` keeps the promises of every other
output: it is made under a temporary name (a killed creation leaves nothing that looks like a
store, and a rerun still works), nothing but a relevance store is ever replaced (not even with
--overwrite), and a crafted store is refused with one line naming it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("zarr")

from lrpcore.distributed import prepare_store  # noqa: E402 (what lrp explain calls)
from lrpcore.errors import DatasetError, ExportError  # noqa: E402
from lrpcore.fileio import TEMP_PREFIX  # noqa: E402
from lrpcore.io.relevance_store import RUN, open_relevance_store  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
KEY = {"n": 10, "chunk": 4, "input": "digits.npy", "rule": None, "layer_rules": [[0, "flat"]],
       "dtype": "float32", "model_sha256": "0" * 64}  # as distributed.run_key writes it
SHAPE = (10, 28, 28, 1)


def _make(path, overwrite=False, key=KEY):
    return prepare_store(path, dict(key), SHAPE, 10, "float32", {"model": "m.npz"}, overwrite)


def test_a_creation_killed_before_its_last_attribute_leaves_no_store(tmp_path):
    """The child kills itself while writing the store's attributes (the last step)."""
    out = tmp_path / "R.zarr"
    child = textwrap.dedent("""
        import os, signal, sys, zarr.core.attributes as attrs
        real = attrs.Attributes.update
        def update(self, *a, **kw):
            os.kill(os.getpid(), signal.SIGKILL)
        attrs.Attributes.update = update
        from lrpcore.distributed import prepare_store
        prepare_store(sys.argv[1], {"n": 10, "chunk": 4}, (10, 28, 28, 1), 10, "float32",
                      {"model": "m.npz"}, False)
    """)
    proc = subprocess.run([sys.executable, "-c", child, str(out)], cwd=REPO, timeout=120,
                          capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert not out.exists()
    assert all(p.name.startswith(TEMP_PREFIX) for p in tmp_path.iterdir())
    group = _make(out)  # the same command again: a fresh store, the killed run's folder gone
    assert group.attrs[RUN]["n"] == 10
    assert [p.name for p in tmp_path.iterdir()] == ["R.zarr"]
    store = open_relevance_store(out)
    assert len(store) == 10 and not store.done.any()


def test_resuming_keeps_the_store_and_its_done_chunks(tmp_path):
    out = tmp_path / "R.zarr"
    group = _make(out)
    group["relevance"][0:4] = 1.0
    group["done"][0] = 1
    again = _make(out)  # the same run: resumed, nothing replaced
    assert np.all(again["relevance"][0:4] == 1.0) and again["done"][0] == 1
    with pytest.raises(ExportError, match="other settings.*rule: stored None, now 'flat'"):
        _make(out, key={**KEY, "rule": "flat"})
    replaced = _make(out, overwrite=True, key={**KEY, "rule": "flat"})
    assert replaced.attrs[RUN]["rule"] == "flat" and not replaced["done"][:].any()
    assert [p.name for p in tmp_path.iterdir()] == ["R.zarr"]  # the old one not kept aside


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_folder_that_is_not_a_store_is_never_replaced(tmp_path, overwrite):
    out = tmp_path / "photos.zarr"
    out.mkdir()
    (out / "holiday.png").write_bytes(b"precious")
    with pytest.raises(ExportError, match="photos.zarr: exists and is not a relevance store"):
        _make(out, overwrite=overwrite)
    assert (out / "holiday.png").read_bytes() == b"precious"


def test_a_link_to_a_store_is_not_replaced(tmp_path):
    real = tmp_path / "real.zarr"
    _make(real)
    link = tmp_path / "R.zarr"
    link.symlink_to(real)
    with pytest.raises(ExportError, match="R.zarr: is a symbolic link"):
        _make(link, overwrite=True)
    assert link.is_symlink() and open_relevance_store(real).run["n"] == 10


@pytest.mark.parametrize("edit", [
    lambda g: g.attrs.update({RUN: [1, 2]}),
    lambda g: g.attrs.update({RUN: {**KEY, "chunk": 0}}),
    lambda g: g.attrs.update({RUN: {**KEY, "chunk": 1}}),  # 10 chunks, but 3 done flags
    lambda g: g.attrs.update({"lrp_provenance": "text"}),
])
def test_a_crafted_store_is_refused_naming_it(tmp_path, edit):
    out = tmp_path / "R.zarr"
    edit(_make(out))
    with pytest.raises(DatasetError, match="R.zarr: a damaged relevance store"):
        open_relevance_store(out)
