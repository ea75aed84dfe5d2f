"""``lrp figure`` without ``--scaling`` draws its cells at the one rule every other drawing
follows (:func:`lrpcore.render.default_scaling`): its own grid rule drew a 64×64 map at 1×
(and a 48×48 one at 2×) where ``lrp render`` and the explorer draw 3×."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.io as skio

from lrpcore.cli.main import main
from lrpcore.render import default_scaling


@pytest.mark.parametrize("side", [28, 48, 64, 96, 120])
def test_figure_cells_follow_default_scaling(tmp_path, capsys, side):
    rng = np.random.default_rng(side)
    R = tmp_path / "R.npy"
    np.save(R, rng.normal(size=(2, side, side)))
    auto, chosen = tmp_path / "auto.png", tmp_path / "chosen.png"
    common = ["figure", str(R), "--colormap", "bwr", "--index", "0"]
    assert main([*common, "--out", str(auto)]) == 0
    k = default_scaling(np.zeros((side, side)))
    assert main([*common, "--out", str(chosen), "--scaling", str(k)]) == 0
    capsys.readouterr()
    np.testing.assert_array_equal(skio.imread(auto), skio.imread(chosen))
    other = tmp_path / "other.png"  # the check can fail: another scaling draws another size
    assert main([*common, "--out", str(other), "--scaling", str(k + 1)]) == 0
    assert skio.imread(other).shape != skio.imread(auto).shape
