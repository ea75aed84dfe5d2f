"""A `.zarr` folder given where samples are expected says what it is and where it is read,
instead of "no PNG or JPEG images found" (review: `lrp explain MODEL R.zarr --out R.npy` on a
relevance store, and on a Zarr array that only the Dask path reads)."""

from __future__ import annotations

import pytest

import lrpcore
from lrpcore.cli.main import main
from lrpcore.errors import DatasetError


def _store(folder, *members):
    folder.mkdir()
    (folder / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group"}')
    for m in members:
        (folder / m).mkdir()
        (folder / m / "zarr.json").write_text('{"zarr_format": 3, "node_type": "array"}')
    return folder


def test_a_relevance_store_is_named_as_one(tmp_path):
    store = _store(tmp_path / "R.zarr", "relevance", "outputs", "done")
    with pytest.raises(DatasetError) as err:
        lrpcore.open_dataset(store)
    text = str(err.value)
    assert "relevance store" in text and "Open relevance store" in text and "PNG" not in text


def test_a_zarr_array_names_the_command_that_reads_it(tmp_path, capsys):
    array = tmp_path / "digits.zarr"
    array.mkdir()
    (array / "zarr.json").write_text('{"zarr_format": 3, "node_type": "array"}')
    assert main(["explain", "mnist-lenet5", str(array), "--out", str(tmp_path / "R.npy")]) == 2
    err = capsys.readouterr().err
    assert "--out R.zarr" in err and ".npy" in err and "PNG" not in err
    assert not (tmp_path / "R.npy").exists()
