"""`--target true` on an image folder whose class subfolders name none of the model's classes
(photos in cat/ and coffee/ for the MNIST LeNet-5: the folder counts as unlabelled for it) says
how to name them, not only "needs --labels FILE (or a dataset that has labels)" about a folder
that visibly has class folders (review)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lrpcore.cli.main import main


@pytest.fixture
def class_folder(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("cat", "coffee"):
        (tmp_path / "data" / name).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(
            tmp_path / "data" / name / "a.png")
    return tmp_path / "data"


@pytest.mark.parametrize("command", [
    ["explain", "mnist-lenet5", "{data}", "--target", "true", "--out", "{tmp}/R.npy"],
    ["evaluate", "mnist-lenet5", "{data}", "--target", "true", "--csv", "{tmp}/f.csv"],
    ["sanity", "mnist-lenet5", "{data}", "--rule", "epsilon:0.01", "--target", "true"],
])
def test_true_target_on_unmatched_class_folders_says_how_to_name_them(
        class_folder, tmp_path, capsys, command):
    args = [a.format(data=class_folder, tmp=tmp_path) for a in command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "subfolders" in err and "model's classes" in err, err
    assert len(err.strip().splitlines()) == 1
