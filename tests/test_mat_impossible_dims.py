"""A ``.mat`` file whose header claims dimensions its data cannot have is refused in one line
naming the file, the variable and the dimensions: negative sizes loaded as some other shape
without a word, and sizes the stored values do not match said only scipy's "cannot reshape
array of size 2000 into shape (40,60)" (transposed, no variable)."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore.errors import DatasetError


@pytest.mark.parametrize("dims, says", [
    ((-5, 40), r"variable 'data' has impossible dimensions -5×40 \(double\)"),
    ((60, 40), r"variable 'data' claims dimensions 60×40 \(double\), which do not match the "
               r"data stored for it"),
    ((0, 40), r"variable 'data' claims dimensions 0×40 \(double\), which do not match"),
])
def test_impossible_mat_dimensions_name_file_variable_and_dims(tmp_path, dims, says):
    import scipy.io

    path = tmp_path / "digits.mat"
    scipy.io.savemat(path, {"data": np.zeros((50, 40))})
    raw = bytearray(path.read_bytes())
    stored = np.array([50, 40], "<i4").tobytes()
    assert raw.count(stored) == 1
    path.write_bytes(bytes(raw.replace(stored, np.array(dims, "<i4").tobytes())))
    with pytest.raises(DatasetError, match=r"digits\.mat: " + says):
        lrpcore.open_dataset(path)
