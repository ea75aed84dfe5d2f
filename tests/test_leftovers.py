"""Defects the previous session noticed and left: a dilated convolution described by its taps,
a sequence input described as one, NaN from an operator outside its domain named at its node,
strict native fields of Clip and HardSigmoid/HardSwish, and a final LogSoftmax's by-design
loss reported without a warning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import lrpcore
from lrpcore.graph_dilated import DilatedConvolution, DilatedGroupedConvolution, dilate

ZOO = Path(__file__).parent / "data" / "zoo"


def test_a_dilated_convolution_is_described_by_its_kernel_and_dilation():
    """Conv1d(8, 8, 3, dilation=2) read as 'Convolution 1×5×8×8 … dilation 1,2': the span
    of the dilated filter beside the dilation, as if its kernel had five taps."""
    taps = np.ones((1, 3, 8, 8))
    conv = DilatedConvolution(dilate(taps, (1, 2)), np.zeros(8), dilation=(1, 2))
    assert conv.describe() == "Convolution 1×3×8×8 stride 1,1 dilation 1,2"
    grouped = DilatedGroupedConvolution(dilate(np.ones((3, 3, 4, 8)), (2, 3)), np.zeros(8),
                                        groups=2, dilation=(2, 3))
    assert grouped.describe().startswith("Grouped convolution 3×3×8×8 groups 2")
    model = lrpcore.load_model(ZOO / "keras_seq_tf2onnx.onnx")  # Conv1D(8, 3, dilation 2)
    dilated = [layer.describe() for layer in model.layers if "dilation" in layer.describe()]
    assert dilated == ["Convolution 1×3×8×8 stride 1,1 dilation 1,2"]


@pytest.mark.parametrize("name, fed", [
    ("sequence_ts.onnx", "→ 4×32 (sequence C×L: 32 steps × 4 channels)"),
    ("keras_seq_tf2onnx.onnx", "→ 32×4 (sequence L×C: 32 steps × 4 channels)"),
])
def test_a_sequence_input_is_described_as_a_sequence(capsys, name, fed):
    """``lrp info``'s 'input:' line and the explorer's model summary said '4×32 (flat)':
    a user would flatten the arrays and be refused."""
    pytest.importorskip("onnx")
    from lrpcore.cli.main import main

    model = lrpcore.load_model(ZOO / name)
    assert fed in model.summary()
    assert main(["info", str(ZOO / name)]) == 0
    line = next(s for s in capsys.readouterr().out.splitlines() if s.startswith("input: "))
    assert fed in line and "(flat)" not in line
    pytest.importorskip("PySide6")
    from lrpgui.widgets.model_summary import summary_html

    assert fed.replace("→ ", "") in summary_html(model, str(ZOO / name))


def test_a_flat_input_stays_flat():
    model = lrpcore.load_model(ZOO / "mlp_ts.onnx")
    assert model.sequence_layout() is None
    assert "→ 20 (flat)" in model.summary()
