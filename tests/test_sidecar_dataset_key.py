"""Every sidecar names the explained samples under one key, ``dataset``
(:data:`lrpcore.export.DATASET_KEY`), written by one helper (``sidecar_info(dataset=...)``).
Before, ``lrp explain`` (and its Dask store) wrote ``input``, ``lrp concepts`` ``data`` and
``lrp demo`` and the explorer ``dataset``. Readers still take the old keys."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lrpcore import export
from lrpcore.cli.main import main

OLD = ("input", "data")


def _sidecars(folder):
    return {p.name: json.loads(p.read_text()) for p in Path(folder).rglob("*.json")}


def test_explain_writes_the_samples_under_dataset_in_every_sidecar(tmp_path):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 28, 28), dtype=np.uint8) + 30)
    assert main(["explain", "mnist-lenet5", str(x), "--out", str(tmp_path / "R.npy"),
                 "--outputs", str(tmp_path / "Y.npy"), "--png", str(tmp_path / "png")]) == 0
    sides = _sidecars(tmp_path)
    assert {"R.npy.json", "Y.npy.json", "heatmap_0_bwr.png.json"} <= set(sides)
    for name, side in sides.items():
        assert side["dataset"] == str(x), name
        assert not set(OLD) & set(side), name


def test_concepts_writes_the_samples_under_dataset(tmp_path):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 28, 28), dtype=np.uint8) + 30)
    assert main(["concepts", "mnist-lenet5", str(x), "--layer", "convolution1", "--top", "1",
                 "--references", "0", "--out", str(tmp_path / "c")]) == 0
    sides = _sidecars(tmp_path / "c")
    assert sides
    for name, side in sides.items():
        assert side["dataset"] == str(x), name
        assert not set(OLD) & set(side), name


def test_the_helper_takes_the_samples_only_as_dataset():
    info = export.sidecar_info(None, "epsilon", "pred", "numpy", "float64", dataset="mnist-test")
    assert info[export.DATASET_KEY] == "mnist-test"
    for old in OLD:
        with pytest.raises(TypeError, match="dataset="):
            export.sidecar_info(None, "epsilon", "pred", "numpy", "float64", **{old: "x.npy"})


@pytest.mark.parametrize("key", ["dataset", "input", "data"])
def test_render_finds_the_samples_under_the_new_and_the_old_keys(tmp_path, key):
    """A relevance .npy whose sidecar (of this version or an earlier one) names its samples
    is drawn beside them without --input."""
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 28, 28), dtype=np.uint8) + 30)
    r = tmp_path / "R.npy"
    np.save(r, np.random.default_rng(0).normal(size=(2, 28, 28)))
    (tmp_path / "R.npy.json").write_text(json.dumps({key: str(x), "raw": False}))
    assert main(["render", str(r), "--out", str(tmp_path / "a.png")]) == 0
    assert json.loads((tmp_path / "a.png.json").read_text())["input_file"] == str(x)


def test_a_specification_under_input_is_not_taken_for_samples():
    assert export.sidecar_dataset({"input": {"divide": 255}}) is None
    assert export.sidecar_dataset({"input": {"divide": 255}, "data": "d.npy"}) == "d.npy"
    assert export.sidecar_dataset({"dataset": "mnist-test", "input": "x.npy"}) == "mnist-test"
    assert export.sidecar_dataset([1, 2]) is None
