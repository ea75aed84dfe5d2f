"""``lrp explain --out R.zarr`` never leaves a partial result under the result's name: the store
is filled as ``R.zarr.partial`` and renamed when every chunk is done. A failed chunk or an
interruption keeps the partial store (the same command resumes it), and a boolean Zarr array is
refused as input, as a boolean ``.npy`` is."""

from __future__ import annotations

import os

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")

from lrpcore import distributed as dist  # noqa: E402
from lrpcore import open_dataset, open_relevance_store  # noqa: E402
from lrpcore.cli.main import main  # noqa: E402
from lrpcore.errors import ExportError  # noqa: E402
from lrpcore.io.relevance_store import partial_path  # noqa: E402

MODEL = "mnist-dense-rect"


@pytest.fixture(scope="module")
def client():
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=None) as c:
        yield c


@pytest.fixture
def digits(tmp_path):
    x = tmp_path / "x.npy"
    np.save(x, open_dataset("mnist-sample").images(np.arange(20)))
    return x


def _run(client, x, out, **kw):
    source, _ = dist.open_source(str(x))
    args = {"model": MODEL, "backend": "numpy", "dtype": "float64", "rule": "epsilon:0.01",
            "layer_rules": {}, "target": "pred", "raw": False, "batch_size": 5,
            "source": source}
    return dist.explain_to_store(args, out, client=client, progress=False, **kw)


def test_a_failed_chunk_leaves_only_the_partial_store_then_the_rerun_completes(
        client, digits, tmp_path, monkeypatch):
    out = tmp_path / "R.zarr"
    real = dist.explain_chunk

    def chunk_2_fails(job, index, *a, **k):
        if index == 2:
            raise ValueError("a corrupt sample")
        return real(job, index, *a, **k)

    monkeypatch.setattr(dist, "explain_chunk", chunk_2_fails)
    result = _run(client, digits, out)
    assert [f["chunk"] for f in result.failed] == [2]
    assert not out.exists() and result.store == partial_path(out)
    partial = open_relevance_store(partial_path(out))
    assert partial.done.tolist() == [True, True, False, True]
    monkeypatch.setattr(dist, "explain_chunk", real)
    again = _run(client, digits, out)  # the same command, the input fixed: only chunk 2
    assert again.failed == [] and (again.computed, again.skipped) == (1, 3)
    assert not os.path.exists(partial_path(out)) and again.store == str(out)
    assert open_relevance_store(out).complete


def test_an_interrupted_run_keeps_its_chunks_under_the_partial_name_only(client, digits,
                                                                          tmp_path):
    out = tmp_path / "R.zarr"

    def stop(i, a, b):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(client, digits, out, on_chunk=stop)
    assert not out.exists()
    assert open_relevance_store(partial_path(out)).done.sum() == 1
    result = _run(client, digits, out)
    assert result.skipped == 1 and result.computed == 3 and open_relevance_store(out).complete


def test_a_folder_that_appears_at_out_during_the_run_is_left_alone(client, digits, tmp_path):
    out = tmp_path / "R.zarr"

    def someone_else(i, a, b):
        if i == 0:
            out.mkdir()
            (out / "theirs.txt").write_text("precious")

    with pytest.raises(ExportError, match="finished results are in .*R.zarr.partial"):
        _run(client, digits, out, on_chunk=someone_else)
    assert (out / "theirs.txt").read_text() == "precious"
    assert open_relevance_store(partial_path(out)).complete


def test_an_unfinished_store_of_an_older_version_is_resumed(client, digits, tmp_path):
    out = tmp_path / "R.zarr"
    _run(client, digits, out)
    g = zarr.open_group(str(out), mode="r+")
    g["done"][3] = 0  # as an older version left an interrupted run: under the result's name
    result = _run(client, digits, out)
    assert (result.computed, result.skipped) == (1, 3)
    assert open_relevance_store(out).complete and not os.path.exists(partial_path(out))


@pytest.mark.parametrize("raw", [False, True])
def test_a_boolean_zarr_array_is_refused_as_input(tmp_path, capsys, raw):
    array = tmp_path / "b.zarr"
    zarr.create_array(str(array), shape=(4, 784), dtype="bool", chunks=(2, 784))[:] = True
    out = tmp_path / "R.zarr"
    argv = ["explain", MODEL, str(array), "--out", str(out)] + (["--raw"] if raw else [])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(array) in err and "got dtype bool" in err
    assert not out.exists() and not os.path.exists(partial_path(out))
