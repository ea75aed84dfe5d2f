"""The Conservation panel of a graph model plots ΣR across the cut at each node's input, not
the node's own sum: on the colour graph model the depthwise branch's nodes carry only part of
what flows (the rest is on the Add's skip), and the plot dipped there as if it were lost. A
chain's plot and table stay as they were."""

from __future__ import annotations

import numpy as np
import pytest
from colour_models import colour_graph_model, write_photos

import lrpcore
from lrpcore.explain import resolve_rules
from lrpcore.insight import conservation_from_trace

from .insight_helpers import open_tool


def test_a_graph_plots_the_cut(make_window, tmp_path, qtbot):
    from lrpgui.insight.conservation_panel import CUT_COLUMN, NODE_COLUMN

    model = tmp_path / "colour-graph.npz"
    lrpcore.save_model(colour_graph_model(), model)
    window = make_window(model, write_photos(tmp_path / "photos"))
    panel = open_tool(qtbot, window, "conservation")
    qtbot.waitUntil(lambda: panel.result is not None, timeout=20000)
    s = window.state
    ex = lrpcore.Explainer(s.model, dtype=s.dtype)
    fwd = ex.forward(s.dataset.images(np.array([s.sample_index])))
    _, trace = fwd.relevance(resolve_rules(ex.layers, s.rule), trace=True)
    rows = conservation_from_trace(trace, ex.layers)[::-1]  # node 0 first
    _, ys = panel.sum_curve.getData()
    f = rows[0].explained
    assert list(ys) == pytest.approx([r.cut for r in rows] + [f], rel=1e-5)
    # from the output down the plot changes only where a node absorbs or creates relevance
    for k, r in enumerate(rows):
        assert ys[k] - ys[k + 1] == pytest.approx(r.created, abs=1e-5 * abs(f))
    names = ex.layers.names
    dw = names.index("dw")  # inside the branch: its own sum misses the skip
    assert abs(rows[dw].sum_in) < 0.9 * abs(ys[dw])
    assert "ΣR across the cut at the input" in panel.summary.text()
    assert "ΣR across the cut" in panel.plot.getAxis("left").labelText
    table = panel.table
    assert not table.isColumnHidden(CUT_COLUMN) and not table.isColumnHidden(NODE_COLUMN)
    i = next(i for i in range(table.rowCount()) if table.item(i, NODE_COLUMN).text() == "dw")
    assert float(table.item(i, CUT_COLUMN).text()) == pytest.approx(ys[dw], rel=1e-5)


def test_a_chain_keeps_its_plot(make_window, qtbot):
    from lrpgui.insight.conservation_panel import CUT_COLUMN

    window = make_window()  # the convolutional toy model
    panel = open_tool(qtbot, window, "conservation")
    _, ys = panel.sum_curve.getData()
    rows = panel.result.rows[::-1]
    assert list(ys[:-1]) == [r.sum_in for r in rows]  # exactly the layers' input sums
    assert panel.cut_sums() == panel.layer_sums()
    assert panel.table.isColumnHidden(CUT_COLUMN)  # it would repeat "R at input"
