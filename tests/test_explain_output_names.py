"""`lrp explain` writes its arrays only under names that say .npy (acceptance review:
`--out heatmap.png` and `--out R.npz` exited 0 and left .npy bytes, with a sidecar saying
"npy", under names that promised a picture or an archive; `lrp render R.npz` then read it
as an archive)."""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore.cli.main import main


@pytest.fixture
def digits(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).integers(0, 256, (2, 28, 28), dtype=np.uint8))
    return path


@pytest.mark.parametrize("name", ["heatmap.png", "R.npz", "R"])
def test_out_that_is_no_npy_is_refused_before_computing(tmp_path, digits, capsys, name):
    rc = main(["explain", "mnist-lenet5", str(digits), "--out", str(tmp_path / name)])
    err = capsys.readouterr().err
    assert rc == 2 and "--out writes a NumPy array" in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def test_outputs_that_is_no_npy_is_refused(tmp_path, digits, capsys):
    rc = main(["explain", "mnist-lenet5", str(digits), "--out", str(tmp_path / "R.npy"),
               "--outputs", str(tmp_path / "Y.csv")])
    assert rc == 2 and "--outputs writes a NumPy array" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def test_npy_in_any_case_is_written(tmp_path, digits):
    assert main(["explain", "mnist-lenet5", str(digits), "--out", str(tmp_path / "R.NPY")]) == 0
    assert np.load(tmp_path / "R.NPY").shape == (2, 32, 32, 1)
