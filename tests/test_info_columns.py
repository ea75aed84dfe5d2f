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
