"""``lrp figure`` refuses a grid beyond a stated number of pixels (rows × columns × cell)
before it reads the maps or draws anything: exit 2, one line naming the file and the options,
no output. (The cap is lowered here so that a figure that would pass without the bound stays
small; the real cap is checked by number.)"""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore import export
from lrpcore.cli.main import main
from lrpcore.errors import ShapeError


@pytest.fixture()
def relevance(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "R.npy", np.random.default_rng(0).normal(size=(3, 28, 28)))
    return tmp_path / "R.npy"


def test_the_stated_cap(relevance):
    assert export.MAX_FIGURE_PIXELS == 67_108_864
    assert export.check_figure_size(8, 5, np.zeros((28, 28)), 3) == 8 * 5 * 86 * 86
    with pytest.raises(ShapeError, match="2,000 rows × 6 columns of 84×84-pixel cells"):
        export.check_figure_size(2000, 6, np.zeros((28, 28)), 3)


def test_a_figure_beyond_the_cap_is_refused_before_drawing(relevance, monkeypatch, capsys):
    monkeypatch.setattr(export, "MAX_FIGURE_PIXELS", 100_000)
    drawn = []
    monkeypatch.setattr(export, "heatmap", lambda *a, **k: drawn.append(1))
    args = ["figure", "R.npy", "--colormap", "jet", "--colormap", "gray-red", "--out", "f.png"]
    code = main(args + ["--index", "0"] * 7)  # 7 rows × 2 columns of 86×86 = 103,544 pixels
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    for word in ("R.npy", "7 rows × 2 columns", "more than 100,000", "--index", "--colormap",
                 "--scaling"):
        assert word in err
    assert drawn == []
    assert sorted(p.name for p in relevance.parent.iterdir()) == ["R.npy"]


def test_the_library_refuses_too(relevance, monkeypatch, tmp_path):
    monkeypatch.setattr(export, "MAX_FIGURE_PIXELS", 100_000)
    R = np.random.default_rng(0).normal(size=(7, 28, 28))
    with pytest.raises(ShapeError, match="more than 100,000"):
        export.export_figure(tmp_path / "g.png", R, None, ["jet", "gray-red"])
    assert not (tmp_path / "g.png").exists()
    export.export_figure(tmp_path / "g.png", R[:6], None, ["jet", "gray-red"])  # 88,752: fine
    assert (tmp_path / "g.png").exists()


@pytest.mark.parametrize("indices", [["9"], ["0", "9"]])
def test_a_sample_out_of_range_is_named_once_whichever_row_it_is(relevance, capsys, indices):
    """The first row's index was checked inside the size check and came out as "R.npy: R.npy:
    sample index 9 out of range (3 samples) (--index/--max-rows, --colormap, --scaling)"; a
    later row's read "R.npy: sample index 9 out of range (3 samples)"."""
    rows = [a for i in indices for a in ("--index", i)]
    code = main(["figure", "R.npy", "--out", "f.png", *rows])
    err = capsys.readouterr().err
    assert code == 2
    assert err == ("lrp figure: error: R.npy: sample index 9 out of range (3 samples, numbered "
                   "0..2)\n")
