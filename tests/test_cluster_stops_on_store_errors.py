"""A cluster run whose store cannot take a chunk (a full disk, a read-only folder) stops there:
every later chunk would be computed, possibly for hours, and then refused the same way."""

from __future__ import annotations

import threading

import numpy as np
import pytest

# the in-process cluster still pickles its tasks: what the stand-in chunk shares lives here
_STOPPED = threading.Event()  # set when the client cancels the rest
_COMPUTED: list[int] = []


def _chunk(job, index, *args, **kwargs):
    from lrpcore import distributed as dist

    if index == 0:
        raise dist.StoreWriteError(f"{job.store}: cannot write samples 0..15: No space left "
                                   "on device")
    _STOPPED.wait(30)  # the next chunk starts before the client has seen the failure
    _COMPUTED.append(index)
    return dist.real_explain_chunk_for_tests(job, index, *args, **kwargs)


def test_the_first_chunk_the_store_refuses_stops_the_run(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("zarr")
    from local_store import explain_to_local_store

    from lrpcore import distributed as dist

    x = tmp_path / "x.npy"
    np.save(x, np.random.RandomState(0).randint(0, 255, (96, 28, 28)).astype(np.uint8))
    source, _ = dist.open_source(str(x), None)
    real_cancel = distributed.Client.cancel

    def cancel(self, futures, *args, **kwargs):
        result = real_cancel(self, futures, *args, **kwargs)
        _STOPPED.set()
        return result

    _STOPPED.clear()
    _COMPUTED.clear()
    monkeypatch.setattr(dist, "real_explain_chunk_for_tests", dist.explain_chunk, raising=False)
    monkeypatch.setattr(dist, "explain_chunk", _chunk)
    monkeypatch.setattr(distributed.Client, "cancel", cancel)
    out = tmp_path / "R.zarr"
    failed = explain_to_local_store("mnist-dense-rect", source, out, batch_size=16).failed
    assert _STOPPED.is_set()
    assert len(_COMPUTED) <= 1  # at most the one already running when the failure arrived
    failed = sorted(failed, key=lambda f: f["chunk"])
    assert [f["chunk"] for f in failed] == list(range(6))
    assert failed[0]["unwritten"] and "No space left" in failed[0]["error"]
    later = failed[2:]
    assert all(f["not_computed"] and f["unwritten"] for f in later)
    assert all(f["error"] == "not computed: the store could not take chunk 1" for f in later)
    assert not out.exists()
