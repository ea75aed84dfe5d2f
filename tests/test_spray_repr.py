"""A SprayResult prints as one line (acceptance review): the dataclass repr printed every
index, label and embedding point of the analysis, thousands of lines for one class."""

from __future__ import annotations

import numpy as np

from lrpcore.spray import SprayResult


def test_a_result_prints_as_one_line():
    n = 500
    rng = np.random.default_rng(0)
    result = SprayResult(indices=np.arange(n), labels=np.full(n, 3),
                         heatmaps=rng.normal(size=(n, 32, 32)),
                         features=rng.normal(size=(n, 64)), clusters=np.arange(n) % 2,
                         eigenvalues=np.linspace(0, 1, 10), embedding=rng.normal(size=(n, 2)),
                         meta={"class": 3, "rule": "epsilon:0.01", "target": "true"})
    text = repr(result)
    assert "\n" not in text and len(text) < 200
    assert "500 samples" in text and "2 clusters (sizes 250, 250)" in text and "class 3" in text
