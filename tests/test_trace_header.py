"""``lrp explain --trace`` heads each sample with f(x) and ΣR across the cut at the input, as
the Conservation panel's summary line does (the header gave f(x) alone)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import lrpcore
from lrpcore.cli.main import main
from lrpcore.insight.conservation import ConservationRow, cut_summary, format_conservation


@pytest.mark.parametrize("graph", [False, True])
def test_trace_header_gives_the_cut_at_the_input(tmp_path, capsys, graph):
    from lrpcore.zoo import mnist_resnet

    if graph:
        model = tmp_path / "resnet.npz"
        lrpcore.save_model(mnist_resnet(), model)
    else:
        model = "mnist-lenet5"
    x = tmp_path / "d.npy"
    np.save(x, lrpcore.open_dataset("mnist-sample").images(np.array([0, 2500])))
    assert main(["explain", str(model), str(x), "--out", str(tmp_path / "r.npy"),
                 "--trace"]) == 0
    out = capsys.readouterr().out
    heads = re.findall(r"sample (\d): explained output f\(x\) = (\S+), ΣR across the cut at "
                       r"the input = (\S+) \((\S+) of f\(x\)\)", out)
    assert [h[0] for h in heads] == ["0", "1"]
    R = np.load(tmp_path / "r.npy")
    blocks = out.split("\n\n")
    for (_s, fx, cut, ratio), block, r in zip(heads, blocks, R, strict=False):
        fx, cut, ratio = float(fx), float(cut), float(ratio)
        assert cut == pytest.approx(float(r.sum()), rel=1e-4, abs=1e-6)  # the map's total
        assert ratio == pytest.approx(cut / fx, rel=1e-4)
        last = [ln for ln in block.splitlines() if re.match(r"\s+0\s", ln)][-1]
        shown = float(last.split()[-2] if graph else last.split()[-4])
        assert shown == pytest.approx(cut, rel=1e-5)


def test_format_conservation_heads_each_sample_with_its_own_input_cut():
    rows = [ConservationRow(s, k, "x", 2.0 + s, 1.5 + s, 4.0, cut=1.0 + s + k)
            for s in (0, 1) for k in (1, 0)]
    text = format_conservation(rows)
    assert f"sample 0: {cut_summary(4.0, 1.0)}" in text
    assert f"sample 1: {cut_summary(4.0, 2.0)}" in text
    assert "(0.25 of f(x))" in text
