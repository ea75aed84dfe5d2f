"""Files numbered by sample are zero-padded to the digits of the largest number in the run, so
that they sort in order in a file browser: ``lrp explain --png`` of 12 samples wrote
heatmap_0 … heatmap_11 and a browser listed heatmap_10 and heatmap_11 before heatmap_2. A
single sample's file keeps its plain number."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lrpcore import export
from lrpcore.batch_export import explain_and_export
from lrpcore.cli.main import main
from lrpcore.explain import Explainer


def test_explain_png_names_sort_in_sample_order(tmp_path):
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(0).integers(0, 256, (12, 28, 28), dtype=np.uint8))
    png = tmp_path / "png"
    # two passes: the second pass's files are padded like the first's
    assert main(["explain", "mnist-lenet5", str(x), "--out", str(tmp_path / "R.npy"),
                 "--png", str(png), "--batch-size", "5"]) == 0
    pngs = sorted(p.name for p in png.glob("*.png"))
    assert pngs == [f"heatmap_{i:02d}_bwr.png" for i in range(12)]
    sides = [json.loads((png / f"{name}.json").read_text())["sample"] for name in pngs]
    assert sides == list(range(12))  # sorted by name is sorted by sample


def test_fewer_than_ten_samples_keep_one_digit(tmp_path):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((3, 28, 28), dtype=np.uint8))
    assert main(["explain", "mnist-lenet5", str(x), "--out", str(tmp_path / "R.npy"),
                 "--png", str(tmp_path / "png")]) == 0
    assert sorted(p.name for p in (tmp_path / "png").glob("*.png")) == [
        "heatmap_0_bwr.png", "heatmap_1_bwr.png", "heatmap_2_bwr.png"]


def test_an_existing_padded_file_is_refused_before_computing(tmp_path, capsys):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((11, 28, 28), dtype=np.uint8))
    png = tmp_path / "png"
    png.mkdir()
    (png / "heatmap_03_bwr.png").write_bytes(b"mine")
    assert main(["explain", "mnist-lenet5", str(x), "--out", str(tmp_path / "R.npy"),
                 "--png", str(png)]) == 2
    assert "heatmap_03_bwr.png" in capsys.readouterr().err
    assert [p.name for p in png.iterdir()] == ["heatmap_03_bwr.png"]
    assert not (tmp_path / "R.npy").exists()


def test_batch_export_pads_every_chunk_alike(tmp_path):
    import lrpcore

    model = lrpcore.load_model("mnist-lenet5")
    ex = Explainer(model)
    data = np.zeros((120, 28, 28), dtype=np.uint8) + 20
    indices = [3, 7, 95, 110]
    paths = explain_and_export(tmp_path, ex, lambda idx: data[idx], indices, "epsilon:0.01",
                               cmaps=["bwr"], npy=True, chunk=2)
    names = sorted(p.name for p in paths)
    assert names == sorted([f"heatmap_{i:03d}_bwr.png" for i in indices]
                           + [f"relevance_{i:03d}.npy" for i in indices])
    assert export.explanation_file_names(indices, ["bwr"], npy=True)[:2] == [
        "heatmap_003_bwr.png", "relevance_003.npy"]


@pytest.mark.parametrize("indices, width", [([0], 1), ([7], 1), ([12], 2), (range(10), 1),
                                            (range(11), 2), ([5, 1000], 4), ([], 1)])
def test_the_width_is_that_of_the_largest_number(indices, width):
    assert export.number_width(indices) == width


def test_one_sample_in_every_colormap_keeps_its_plain_number(tmp_path):
    paths = export.export_colormaps(tmp_path, np.ones((28, 28)), None, 12, cmaps=["bwr", "jet"])
    assert [p.name for p in paths] == ["heatmap_12_bwr.png", "heatmap_12_jet.png"]
