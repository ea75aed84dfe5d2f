"""The explorer driven as an acceptance test would drive it, on the LRP Toolbox's LeNet-5
(``.txt``) and the MNIST test images (``.npy``, labels beside them) from ``../shared``:
only object names, ``window.state``, ``open_model``/``open_dataset`` and Qt's own calls."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QWidget

import lrpcore
from lrpgui import MainWindow

from .conftest import shared_file


@pytest.fixture
def toolbox_window(qtbot):
    model = shared_file("models", "lrp_toolbox", "LeNet-5.txt")
    images = shared_file("data", "mnist_test_images.npy")
    window = MainWindow(model=str(model), dataset=str(images))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
    return window


def fresh(qtbot, window):
    """Wait for the answer to the latest change, the way the contract promises."""
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
    return window.state


def engine(window, index, rule, target="pred", layer_rules=None):
    s = window.state
    raw = s.dataset.images([index])
    return lrpcore.explain(s.model, raw, rule=rule, target=target, layer_rules=layer_rules,
                           labels=s.labels[[index]])


def test_toolbox_lenet5_and_mnist_npy(toolbox_window, qtbot, tmp_path, monkeypatch):
    window = toolbox_window
    window.grid.set_order("dataset")  # row r is sample r
    s = window.state
    labels = np.load(shared_file("data", "mnist_test_labels.npy"))
    assert s.labels is not None and np.array_equal(s.labels[:50], labels[:50].reshape(-1))
    assert s.relevance.shape == (32, 32, 1)  # the model's input: the digit padded by 2

    grid = window.findChild(QWidget, "sampleGrid")
    qtbot.waitUntil(lambda: grid.visualRect(grid.model().index(7)).isValid())  # laid out
    rect = grid.visualRect(grid.model().index(7))
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert s.sample_index == 7
    fresh(qtbot, window)
    R = engine(window, 7, s.rule)
    np.testing.assert_allclose(s.relevance, R[0], rtol=1e-10, atol=1e-12)

    window.findChild(QWidget, "ruleSelector").setCurrentText("alphabeta")
    param = window.findChild(QWidget, "ruleParameter")
    param.setValue(1.0)
    fresh(qtbot, window)
    np.testing.assert_allclose(s.relevance, engine(window, 7, "alphabeta:1")[0],
                               rtol=1e-10, atol=1e-12)

    table = window.findChild(QWidget, "layerRuleTable")
    table.item(0, 3).setText("zb")
    targets = window.findChild(QWidget, "targetSelector")
    targets.setCurrentIndex(targets.findData("3"))
    fresh(qtbot, window)
    want = engine(window, 7, "alphabeta:1", target=3, layer_rules={0: "zb"})[0]
    np.testing.assert_allclose(s.relevance, want, rtol=1e-10, atol=1e-12)

    out = tmp_path / "r7.npy"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(out), "NumPy (*.npy)")))
    window.findChild(QWidget, "exportNpyButton").click()
    np.testing.assert_allclose(np.load(out), want, rtol=1e-10, atol=1e-12)
    info = json.loads(out.with_name("r7.npy.json").read_text())
    assert info["target"] == "3" and "LeNet-5.txt" in info["model"]

    names = window.findChild(QWidget, "colormapSelector")
    before = s.explanation
    names.setCurrentText("gray-red")
    assert s.colormap == "gray-red" and s.explanation is before
    assert s.relevance is not None  # a colormap needs no new explanation


def test_a_stale_result_is_never_the_answer(toolbox_window, qtbot):
    """Right after a change ``state.relevance`` is None, never the previous settings' map."""
    window = toolbox_window
    s = window.state
    s.rule = "epsilon:1"
    assert s.relevance is None and s.scores is None
    assert s.explanation is not None  # the views keep the last picture meanwhile
    fresh(qtbot, window)
    np.testing.assert_allclose(s.relevance, engine(window, 0, "epsilon:1")[0],
                               rtol=1e-10, atol=1e-12)
