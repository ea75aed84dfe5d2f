"""A relevance store (``R.zarr``, read by lrp render/figure and the explorer) is held to the
same chunk bounds as a Zarr input: a crafted store whose arrays declare chunks of gigabytes,
samples split into thousands of chunks, or a manifest of millions of chunks is refused when it
is opened, naming it (the arrays are metadata only, written here)."""

from __future__ import annotations

import pytest

zarr = pytest.importorskip("zarr")

from lrpcore.cli.main import main  # noqa: E402
from lrpcore.distributed import prepare_store  # noqa: E402
from lrpcore.errors import DatasetError  # noqa: E402
from lrpcore.io.relevance_store import RUN, open_relevance_store  # noqa: E402

KEY = {"n": 10, "chunk": 4, "input": "digits.npy", "rule": None, "layer_rules": [],
       "dtype": "float32", "model_sha256": "0" * 64}


def _store(tmp_path, relevance_shape=(10, 28, 28, 1), chunks=None, n=10, run_chunk=4):
    out = tmp_path / "R.zarr"
    g = prepare_store(out, dict(KEY), (10, 28, 28, 1), 10, "float32", {"model": "m.npz"},
                      False)
    if chunks is not None or n != 10:
        g.create_array("relevance", shape=relevance_shape, dtype="float32", overwrite=True,
                       chunks=chunks or (run_chunk,) + tuple(relevance_shape[1:]))
    if n != 10:
        g.create_array("outputs", shape=(n, 10), dtype="float32", chunks=(run_chunk, 10),
                       overwrite=True)
        g.create_array("predictions", shape=(n,), dtype="int64", chunks=(run_chunk,),
                       overwrite=True)
        g.create_array("done", shape=(-(-n // run_chunk),), dtype="uint8", chunks=(1,),
                       overwrite=True)
        g.attrs.update({RUN: {**KEY, "n": n, "chunk": run_chunk}})
    return out


@pytest.mark.parametrize("kw, words", [
    ({"chunks": (10_000_000, 28, 28, 1)}, "more than the 1,024 MB one read may take"),
    ({"relevance_shape": (10, 100, 100, 1), "chunks": (1, 1, 1, 1)}, "10,000 pieces"),
    ({"relevance_shape": (2_000_000, 28, 28, 1), "n": 2_000_000, "run_chunk": 1},
     "2,000,000 chunks, more than 1,000,000"),
])
def test_a_store_with_hostile_chunking_is_refused_on_open(tmp_path, capsys, kw, words):
    out = _store(tmp_path, **kw)
    with pytest.raises(DatasetError, match="R.zarr: ") as info:
        open_relevance_store(out)
    assert words in str(info.value)
    code = main(["render", str(out), "--sample", "0", "--colormap", "jet", "--out",
                 str(tmp_path / "r.png")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and words in err, err
    assert not (tmp_path / "r.png").exists()


def test_an_honest_store_opens(tmp_path):
    assert len(open_relevance_store(_store(tmp_path))) == 10
