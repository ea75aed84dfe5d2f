"""`lrp spray --target true` on data without labels is refused as `lrp explain` refuses it
(acceptance review: it silently explained every sample for its prediction instead); without
--target the default "true" still falls back to the prediction, and now says so."""

from __future__ import annotations

import numpy as np

import lrpcore
from lrpcore.cli.main import main
from lrpcore.spray import SprayResult


def test_asked_for_true_without_labels_is_refused(tmp_path, capsys):
    np.save(tmp_path / "x.npy", lrpcore.open_dataset("mnist-test").images(range(16)))
    out = tmp_path / "s.npz"
    assert main(["spray", "mnist-lenet5", str(tmp_path / "x.npy"), "--target", "true",
                 "--out", str(out), "--embedding", "none"]) == 2
    assert "--target true needs --labels" in capsys.readouterr().err and not out.exists()
    assert main(["spray", "mnist-lenet5", str(tmp_path / "x.npy"), "--out", str(out),
                 "--embedding", "none"]) == 0
    assert "no labels" in capsys.readouterr().err
    assert SprayResult.load(out).meta["target"] == "pred"
