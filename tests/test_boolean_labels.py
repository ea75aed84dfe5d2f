"""A label file of booleans (a mask, a yes/no column) is refused, naming the file: it was read
as classes 0 and 1, so accuracy and "true class" explanations quietly used class 1 for True."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore.cli.main import main
from lrpcore.errors import DatasetError


@pytest.mark.parametrize("labels", [np.array([True, False, True, True]),
                                    np.eye(4, 3, dtype=bool)[[0, 1, 2, 0]]])
def test_boolean_labels_are_refused_naming_the_file(tmp_path, capsys, labels):
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(0).integers(0, 255, (4, 28, 28), dtype=np.uint8))
    y = tmp_path / "mask.npy"
    np.save(y, labels)
    with pytest.raises(DatasetError, match=r"mask\.npy: labels of dtype bool"):
        lrpcore.load_labels(y)
    with pytest.raises(DatasetError, match=r"mask\.npy: labels of dtype bool"):
        lrpcore.open_dataset(x, labels=y)
    out = tmp_path / "R.npy"
    assert main(["explain", "mnist-lenet5", str(x), "--labels", str(y), "--target", "true",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "mask.npy: labels of dtype bool (True/False) are no class indices" in err
    assert not out.exists()
    np.save(y, labels.astype(np.int64))  # the same as integers are labels
    assert lrpcore.load_labels(y).dtype == np.int64
