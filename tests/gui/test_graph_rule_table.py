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
    row = _row(window, "/layer1/conv1/Conv")
    assert "/layer1/conv1/Conv" in table.item(row, 1).text()
    before = window.state.explanation
    table.item(row, 3).setText("zplus")
    assert window.state.layer_rules == {"/layer1/conv1/Conv": "zplus"}
    assert table.item(row, 3).font().bold()
    _wait_explained(qtbot, window, before)
    s = window.state
    want = lrpcore.explain(s.model, s.dataset.images(np.array([0])), rule=s.rule,
                           layer_rules={"/layer1/conv1/Conv": "zplus"},
                           target=int(s.target) if s.target.isdigit() else s.target)[0]
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
