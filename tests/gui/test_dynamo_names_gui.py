"""The explorer's layer lists of a ``dynamo=True`` export (nodes node_conv2d_1, n0) show the
PyTorch module path recorded for each node beside its name, as `lrp info` does: the rule
table, the model summary, the Concepts layer chooser and the Conservation table named
node_conv2d_9 only."""

from __future__ import annotations

import re
from pathlib import Path

from colour_models import write_photos

from lrpgui.widgets.layer_table import SHORT_ROLE
from lrpgui.widgets.model_summary import layer_lines

from .insight_helpers import open_tool

MODEL = Path(__file__).resolve().parents[1] / "data" / "zoo" / "shufflenet_dynamo.onnx"


def test_layer_lists_show_module_paths(make_window, tmp_path, qtbot):
    from lrpgui.insight.conservation_panel import NODE_COLUMN

    window = make_window(MODEL, write_photos(tmp_path / "photos"))
    summary = layer_lines(window.state.model)  # the model summary's layer list
    assert summary[5].endswith(" (node_conv2d_1 [stage.0.branch1.0])"), summary[5]
    rules = window.rules.layer_table
    assert rules.item(5, 1).text().endswith("(node_conv2d_1 [stage.0.branch1.0])")
    assert rules.item(5, 1).data(SHORT_ROLE) == "node_conv2d_1 [stage.0.branch1.0]"
    assert rules.item(4, 1).text().endswith("(node_conv2d_1/pad)")  # a pad has no module
    window.rules.layer_table.item(26, 3).setText("flat")  # still kept by the node's name
    assert window.state.layer_rules == {"node_conv2d_9": "flat"}

    concepts = open_tool(qtbot, window, "concepts")
    box = concepts.layer_box
    offered = {box.itemData(i): box.itemText(i) for i in range(box.count())}
    assert offered[27] == "27: node_relu_6 [conv5.2]", offered
    said = concepts.composition_label.text()  # the layer below the chosen one's channels
    assert re.search(r"from layer \d+ \(node_\w+ \[[\w.]+\]\):$", said), said
    shown_layer = concepts.result.layer  # the maps' line names it with its module too
    assert offered[shown_layer].endswith("]"), offered[shown_layer]
    label = offered[shown_layer].split(": ", 1)[1]
    assert f"channels of {label} for " in concepts.maps_title.text, concepts.maps_title.text
    concepts.set_layer(27)
    assert concepts.layer() == 27

    panel = open_tool(qtbot, window, "conservation")
    shown = {panel.table.item(i, NODE_COLUMN).text() for i in range(panel.table.rowCount())}
    assert {"node_conv2d_9 [conv5.0]", "node_view_4",  # and a Concat's branch lines
            "node_relu_1 [stage.0.branch1.4]", "node_Split_36/0"} <= shown, shown
    branch = next(i for i in range(panel.table.rowCount())
                  if panel.table.item(i, 1).text().startswith("↳ from node 7:"))
    assert panel.table.item(branch, NODE_COLUMN).text() == "node_relu_1 [stage.0.branch1.4]"
