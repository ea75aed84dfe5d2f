"""Relevance of a model of a few inputs (XOR's N×2) is not an image: ``lrp render`` and ``lrp
figure`` refuse it in one line instead of drawing an N×2 picture of nothing, whether the file
has ``lrp explain``'s sidecar, has none, or is a relevance store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lrpcore.cli.main import main

XOR = """Linear 2 3
1.0 -1.0 0.5 -0.5 1.5 0.25
0.1 -0.1 0.0
Tanh
Linear 3 2
1.0 -1.0 0.5 -0.5 1.5 0.25
0.0 0.0
SoftMax
"""


@pytest.fixture
def xor(tmp_path):
    model = tmp_path / "xor.txt"
    model.write_text(XOR)
    x = tmp_path / "x.npy"
    np.save(x, np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float))
    return model, x


@pytest.mark.parametrize("command", ["render", "figure"])
@pytest.mark.parametrize("sidecar", [True, False])
def test_xor_relevance_is_refused_as_not_an_image(xor, tmp_path, capsys, command, sidecar):
    model, x = xor
    r = tmp_path / "R.npy"
    assert main(["explain", str(model), str(x), "--out", str(r)]) == 0
    assert np.load(r).shape == (4, 2)
    if not sidecar:
        Path(str(r) + ".json").unlink()
    capsys.readouterr()
    out = tmp_path / "map.png"
    assert main([command, str(r), "--colormap", "jet", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lrp {command}: error: {r}: relevance of 4 samples × 2 input "
                          "values") and "not an image" in err and err.count("\n") == 1
    assert not out.exists() and not Path(str(out) + ".json").exists()


def test_xor_relevance_store_is_refused(xor, tmp_path, capsys):
    pytest.importorskip("zarr")
    model, x = xor
    store = tmp_path / "R.zarr"
    assert main(["explain", str(model), str(x), "--out", str(store)]) == 0
    capsys.readouterr()
    out = tmp_path / "map.png"
    assert main(["render", str(store), "--out", str(out)]) == 2
    assert "4 samples × 2 input values" in capsys.readouterr().err
    assert not out.exists()


def test_image_shaped_relevance_is_still_drawn(tmp_path):
    """A flat batch of square maps (N×784) and one non-square image (6×9) still render."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "flat.npy", rng.normal(size=(3, 784)))
    np.save(tmp_path / "wide.npy", rng.normal(size=(6, 9)))
    for name in ("flat", "wide"):
        out = tmp_path / f"{name}.png"
        assert main(["render", str(tmp_path / f"{name}.npy"), "--out", str(out)]) == 0
        assert out.exists()
