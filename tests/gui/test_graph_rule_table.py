"""The per-layer rule table on a graph model: rows keyed by ONNX node name, KEY=SPEC with
globs and PyTorch module paths as on the command line, merges refusing rules they ignore."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

import lrpcore

from .conftest import shared_file

pytest.importorskip("onnx")


@pytest.fixture
def resnet_window(make_window, tmp_path):
    path = shared_file("models", "torch_onnx", "mnist_resnet.onnx")
    images = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 1)).astype(np.uint8)
    np.save(tmp_path / "digits.npy", images)
    return make_window(model=path, dataset=tmp_path / "digits.npy")


def _row(window, name):
    return window.state.model.analysis_layers().names.index(name)


def _wait_explained(qtbot, window, before):
    qtbot.waitUntil(lambda: window.state.explanation is not before, timeout=30000)


def test_a_typed_rule_is_kept_by_node_name(resnet_window, qtbot):
    window = resnet_window
    table = window.rules.layer_table
    assert window.state.rule == "EpsilonPlus"  # a graph model's start: zplus on this layer
    row = _row(window, "/layer1/conv1/Conv")
    assert "/layer1/conv1/Conv" in table.item(row, 1).text()
    before = window.state.explanation
    table.item(row, 3).setText("flat")
    assert window.state.layer_rules == {"/layer1/conv1/Conv": "flat"}
    assert table.item(row, 3).font().bold()
    _wait_explained(qtbot, window, before)
    s = window.state
    want = lrpcore.explain(s.model, s.dataset.images(np.array([0])), rule=s.rule,
                           layer_rules={"/layer1/conv1/Conv": "flat"},
                           target=int(s.target) if s.target.isdigit() else s.target,
                           dtype=s.dtype)[0]
    np.testing.assert_allclose(s.relevance, want.transpose(1, 2, 0), rtol=1e-6, atol=1e-9)
    table.item(row, 3).setText("")  # back to the panel's rule
    assert window.state.layer_rules == {}


def test_key_equals_spec_takes_a_module_path_glob(resnet_window):
    window = resnet_window
    table = window.rules.layer_table
    table.item(0, 3).setText("layer1.*=alphabeta:2")
    assert window.state.layer_rules == {"layer1.*": "alphabeta:2"}
    for name in ("/layer1/conv1/Conv", "/layer1/conv2/Conv"):
        item = table.item(_row(window, name), 3)
        assert item.text() == "alphabeta:2" and item.font().bold()
    assert not table.item(_row(window, "/layer2/conv1/Conv"), 3).font().bold()


def test_a_rule_a_merge_ignores_is_reported_not_applied(resnet_window, monkeypatch):
    shown = []
    monkeypatch.setattr("lrpgui.dialogs.show_error", lambda parent, t, m: shown.append(m))
    window = resnet_window
    row = _row(window, "/layer1/Add")
    item = window.rules.layer_table.item(row, 3)
    assert item.text() == "Norm" and item.flags() & Qt.ItemFlag.ItemIsEditable
    item.setText("alphabeta:2")
    assert window.state.layer_rules == {}
    assert shown and "/layer1/Add" in shown[0] and "merge" in shown[0]
    window.rules.layer_table.item(row, 3).setText("epsilon:0.1")  # an ε-rule it takes
    assert window.state.layer_rules == {"/layer1/Add": "epsilon:0.1"}


def _sized_window(qtbot, width, height, dataset):
    """A window laid out at ``width``×``height`` from its first show, with the MNIST ResNet."""
    from PySide6.QtWidgets import QApplication

    from lrpgui import MainWindow

    window = MainWindow(model=str(shared_file("models", "torch_onnx", "mnist_resnet.onnx")),
                        dataset=str(dataset))
    qtbot.addWidget(window)
    window.resize(width, height)
    window.show()
    qtbot.waitUntil(lambda: window.state.explanation is not None, timeout=30000)
    QApplication.processEvents()
    return window


def test_layer_names_stay_readable_in_a_965_px_window(qtbot, tmp_path):
    """At ~965 px the layer column was 30 px wide and showed "…" for every node. Now the
    output column gives way, the column keeps a readable width, and a node whose full
    description does not fit shows its name (shortened in the middle); the tooltip keeps
    the full description."""
    from lrpgui.widgets.layer_table import OUTPUT_COLUMN

    images = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 1)).astype(np.uint8)
    np.save(tmp_path / "digits.npy", images)
    wide = _sized_window(qtbot, 1500, 900, tmp_path / "digits.npy")
    table = wide.rules.layer_table
    assert not table.isColumnHidden(OUTPUT_COLUMN)
    names = wide.state.model.analysis_layers().names
    shown = [table.shown_text(r) for r in range(table.rowCount())]
    full = [table.item(r, 1).text() for r in range(table.rowCount())]
    assert sum(a == b for a, b in zip(shown, full, strict=True)) >= len(full) - 3
    assert all(a in (b, n) for a, b, n in zip(shown, full, names, strict=True))  # never cut
    wide.close()
    narrow = _sized_window(qtbot, 965, 700, tmp_path / "digits.npy")
    table = narrow.rules.layer_table
    layers = narrow.state.model.analysis_layers()
    assert narrow.width() <= 1000
    assert table.isColumnHidden(OUTPUT_COLUMN)
    assert table.columnWidth(1) >= table.readable_width()
    assert table.horizontalHeader().length() <= table.viewport().width()
    for r in range(table.rowCount()):
        name, shown = layers.names[r], table.shown_text(r)
        full = f"{layers[r].describe()} ({name})"
        assert table.item(r, 1).toolTip() == full
        assert len(shown.replace("…", "")) >= min(len(name), 12), shown
        if shown != full:  # the node's name, its start and end visible
            head, _, tail = shown.partition("…")
            assert name.startswith(head) and name.endswith(tail), (shown, name)
