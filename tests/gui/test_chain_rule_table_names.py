"""The per-layer rule table names a toolbox chain's layers as ``lrp info`` does (convolution0,
rect1, ...; the names --layer-rule, conditions and ``lrp concepts --layer`` take): only graph
models' rows showed a name. A rule typed into a chain's row is still kept by its index."""

from __future__ import annotations

from pathlib import Path

from lrpcore.model import chain_layer_names
from lrpgui.widgets.layer_table import SHORT_ROLE

MODELS = Path(__file__).resolve().parents[2] / "models"


def test_a_chains_rows_show_its_layer_names(make_window, toy_files, qtbot):
    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])
    table = window.rules.layer_table
    layers = window.state.model.analysis_layers()
    names = chain_layer_names(layers)
    assert names[0] == "convolution0" and table.rowCount() == len(layers)
    for row, name in enumerate(names):
        assert table.item(row, 1).text() == f"{layers[row].describe()} ({name})"
        assert table.item(row, 1).data(SHORT_ROLE) == name  # what a narrow column shows
    before = window.state.explanation
    table.item(0, 3).setText("flat")
    assert window.state.layer_rules == {0: "flat"}
    qtbot.waitUntil(lambda: window.state.explanation is not before, timeout=30000)
