"""`lrp info` keeps its columns in line (acceptance review: on EfficientNet-Lite0 every
depthwise row, "Depthwise convolution 3×3×32×32 groups 32 stride 1,1", overflowed the layer
column and pushed its output shape, parameters and node name out of line)."""

from __future__ import annotations

from lrpcore import zoo


def test_graph_summary_columns_line_up():
    lines = zoo.efficientnet_lite0(seed=0).summary().splitlines()
    rows = [line for line in lines[1:] if line[:3].strip().isdigit()]
    assert any("Depthwise" in row for row in rows)
    assert len({row.index(" → ") for row in rows}) == 1
    head = lines[0]
    assert {row.index(" → ") for row in rows} == {head.index("output") - 3}


def test_chain_summary_columns_line_up():
    """A chain's table kept its layer column at 36 characters: a wide convolution of ``lrp
    train`` ("Convolution 10×10×3×1000 stride 100,100", 39) pushed its row out of line, as
    the graph table did before it took its widest description."""
    import numpy as np

    from lrpcore.layers import Convolution, Flatten, Linear
    from lrpcore.model import Sequential

    conv = Convolution(np.zeros((10, 10, 3, 1000)), np.zeros(1000), stride=(100, 100))
    model = Sequential([conv, Flatten(), Linear(np.zeros((1000, 2)), np.zeros(2))])
    lines = model.summary().splitlines()
    rows = [line for line in lines[1:] if line[:3].strip().isdigit()]
    assert any(len(row.split(" → ")[0]) > 41 for row in rows)  # wider than 5 + 36
    assert {row.index(" → ") for row in rows} == {lines[0].index("output") - 3}
