"""Samples beyond a model's raw input range are named on stderr whatever their type: 16-bit
integer images got a warning, float ones of the same values were explained without a word."""

from __future__ import annotations

import numpy as np
import pytest
from shared_data import shared_path

from lrpcore.cli.main import main

WORDS = "exceed the model's raw input range"


@pytest.mark.parametrize("dtype, low, top, warned", [
    ("float64", 0.0, 65535.0, True),   # 16-bit values as floats
    ("float32", 0.0, 1000.0, True),
    ("float64", -3.0, 255.0, True),    # below the black
    ("float32", 0.0, 255.0, False),    # exactly the bounds: no false alarm
    ("float64", 0.0, 255.0 + 1e-7, False),  # float rounding at a bound
    ("uint8", 0, 255, False),
])
def test_float_samples_beyond_the_raw_range_are_warned_about(tmp_path, capsys, dtype, low,
                                                             top, warned):
    x = tmp_path / "x.npy"
    values = np.linspace(low, top, 2 * 28 * 28)
    np.save(x, values.reshape(2, 28, 28).astype(dtype))
    assert main(["explain", "mnist-lenet5", str(x), "--out", str(tmp_path / "R.npy")]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if WORDS in line]
    assert len(lines) == warned, err
    assert not warned or ("x.npy" in lines[0] and "[0, 255]" in lines[0]
                          and "--raw" in lines[0])
    assert main(["evaluate", "mnist-lenet5", str(x), "--steps", "2",
                 "--csv", str(tmp_path / "f.csv")]) == 0
    assert (WORDS in capsys.readouterr().err) == warned


def test_a_guessed_feature_range_warns_of_nothing(tmp_path, capsys):
    """The toolbox's XOR net declares no range: its two features are assumed to lie in
    [0, 1] until a sidecar says otherwise, and features of 0…5 are no mistake."""
    x = tmp_path / "features.npy"
    np.save(x, np.array([[0.0, 5.0], [3.5, 1.0]]))
    model = shared_path("models", "lrp_toolbox", "xor_net_small.txt")
    assert main(["explain", str(model), str(x), "--out", str(tmp_path / "R.npy")]) == 0
    assert WORDS not in capsys.readouterr().err
    # declared by a sidecar, the same range is checked
    local = tmp_path / "xor.txt"
    local.write_bytes(model.read_bytes())
    (tmp_path / "xor.json").write_text('{"input": {"raw_range": [0, 1]}}')
    assert main(["explain", str(local), str(x), "--out", str(tmp_path / "R2.npy")]) == 0
    assert WORDS in capsys.readouterr().err
