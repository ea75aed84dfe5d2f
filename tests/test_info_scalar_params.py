"""``lrp info`` counts what a layer holds: a scalar Affine or Scale (``x * 0.3`` on 8
channels) counted twice its channels, its one value spread over them and a shift of zeros."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lrpcore.graph_layers import Affine, Scale

ZOO = Path(__file__).resolve().parent / "data" / "zoo"


@pytest.mark.parametrize("cls", [Affine, Scale])
def test_a_scalar_layer_counts_its_written_values(cls):
    assert cls(np.full(8, 0.3), np.zeros(8)).param_count() == 1
    assert cls(np.ones(5), np.full(5, 0.25)).param_count() == 1
    assert cls(np.full(4, 2.0), np.full(4, -0.1)).param_count() == 2
    assert cls(np.array([1.0, 2.0]), np.zeros(2)).param_count() == 4  # per channel: as before


def test_lrp_info_lists_one_parameter_for_a_mul_by_a_scalar(capsys):
    pytest.importorskip("onnx")
    from lrpcore.cli.main import main

    assert main(["info", str(ZOO / "innorm_ts.onnx")]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    scalar = [r for r in rows if "(scalar" in " ".join(r)]
    assert scalar and all(r[-2] == "1" for r in scalar), scalar  # params, then the node name
    per_channel = [r for r in rows if r[1:2] == ["Scale"] and "channels)" in " ".join(r)]
    assert per_channel and per_channel[0][-2] == "6"  # (x − mean) / std: 3 + 3 values
