"""`lrp render`/`lrp figure` of `lrp concepts`' conditional.npy (one map per channel, all of the
sample its sidecar names) draw that sample beside every map (acceptance review): map 2 was
drawn beside dataset sample 2 when --input was given, and without --input the dataset in the
sidecar's "data" key was not found ("--side-by-side needs --input")."""

from __future__ import annotations

import json

import numpy as np
from skimage.io import imread

from lrpcore.cli.main import main


def test_a_conditional_map_is_drawn_beside_its_own_sample(tmp_path):
    out = tmp_path / "c"
    assert main(["concepts", "mnist-lenet5", "mnist-sample", "--layer", "convolution1",
                 "--sample", "7", "--top", "3", "--references", "0", "--out", str(out),
                 "--rule", "epsilon:0.01"]) == 0
    own = imread(out / "heatmap.png")  # input | heatmap of sample 7, drawn by lrp concepts
    for extra in ([], ["--input", "mnist-sample"]):
        png = tmp_path / f"map2{len(extra)}.png"
        assert main(["render", str(out / "conditional.npy"), "--index", "2", "--side-by-side",
                     "--out", str(png)] + extra) == 0
        drawn = imread(png)
        width = (own.shape[1] - 2) // 2  # input, a 2-pixel gap, heatmap
        np.testing.assert_array_equal(drawn[:, :width], own[:, :width])
        assert json.loads((tmp_path / (png.name + ".json")).read_text())["sample"] == 7
    assert main(["figure", str(out / "conditional.npy"), "--colormap", "bwr",
                 "--out", str(tmp_path / "fig.png")]) == 0
