"""Conservation panel: the per-layer sums shown equal a slow, independent computation."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

import lrpcore

from .insight_helpers import open_tool, predicted_class, sample_raw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import slow_lrp  # noqa: E402  (tests/slow_lrp.py: textbook LRP with explicit matrices)

BUNDLED_LENET = Path(__file__).resolve().parents[2] / "models" / "mnist-lenet5.npz"


@pytest.fixture(scope="module")
def dense_model_file(tmp_path_factory):
    """A three-layer dense MNIST-shaped model: every layer is an explicit matrix."""
    from lrpcore.layers import Linear, Rect
    from lrpcore.spec import InputSpec

    rng = np.random.default_rng(11)
    layers = [Linear(rng.normal(0, 0.05, (784, 24)), rng.normal(0, 0.05, 24)), Rect(),
              Linear(rng.normal(0, 0.3, (24, 16)), rng.normal(0, 0.05, 16)), Rect(),
              Linear(rng.normal(0, 0.3, (16, 10)), rng.normal(0, 0.05, 10))]
    spec = InputSpec(shape=(784,), raw_shape=(28, 28, 1), layout="flat", divide=255.0)
    path = tmp_path_factory.mktemp("dense") / "dense.npz"
    lrpcore.save_model(lrpcore.Sequential(layers, spec), path)
    return path


def slow_trace(model, x, cls, eps):
    """Relevance at the input of every layer (and the initial relevance last), textbook form."""
    acts = [x[None]]
    for layer in model.analysis_layers():
        acts.append(layer.forward(acts[-1], np))
    R = np.zeros_like(acts[-1])
    R[0, cls] = acts[-1][0, cls]
    trace = [None] * len(acts)
    trace[-1] = R
    for k in range(len(acts) - 2, -1, -1):
        layer = model.analysis_layers()[k]
        if layer.kind == "Linear":
            R = slow_lrp.linear_lrp("epsilon", eps, acts[k], layer.W, layer.B, R)
        trace[k] = R
    return trace


def table_column(panel, col):
    return [panel.table.item(i, col).text() for i in range(panel.table.rowCount())]


def test_sums_shown_equal_a_direct_computation(make_window, qtbot, dense_model_file):
    window = make_window(model=dense_model_file)
    window.state.rule = "epsilon:0.1"
    qtbot.waitUntil(lambda: window.state.explanation.rule_description == "epsilon:0.1",
                    timeout=20000)
    panel = open_tool(qtbot, window, "conservation")
    assert panel.objectName() == "conservationPanel"
    model = window.state.model
    x = model.input_spec.preprocess(sample_raw(window))[0]
    trace = slow_trace(model, x, predicted_class(window), 0.1)
    direct = {k: float(trace[k].sum()) for k in range(len(trace) - 1)}
    assert panel.layer_sums() == pytest.approx(direct, rel=1e-9, abs=1e-12)
    # the table's text shows the same numbers (layer, …, R at input) from the output down
    layers = [int(t) for t in table_column(panel, 0)]
    assert layers == [4, 3, 2, 1, 0]
    shown = [float(t) for t in table_column(panel, 3)]
    assert shown == pytest.approx([direct[k] for k in layers], rel=1e-5)
    created = [float(t) for t in table_column(panel, 4)]
    arriving = [float(trace[k + 1].sum()) for k in layers]
    assert created == pytest.approx([direct[k] - a for k, a in zip(layers, arriving,
                                                                     strict=True)],
                                    rel=1e-5, abs=1e-9)
    # ε and the biases absorb or create relevance somewhere: the panel must say so
    assert any(abs(c) > 1e-6 for c in created)
    # the bottom line equals the status bar's ΣR of the main view
    assert direct[0] == pytest.approx(window.state.explanation.relevance_sum, rel=1e-9)


def test_clicking_a_layer_shows_its_map(make_window, qtbot):
    window = make_window()  # the convolutional toy model
    panel = open_tool(qtbot, window, "conservation")
    fwd = lrpcore.Explainer(window.state.model).forward(sample_raw(window))
    _, trace = fwd.relevance(window.state.rule, "pred", trace=True)
    rows = panel.result.rows
    i = next(i for i, row in enumerate(rows) if row.layer == 2)  # SumPool: input 24×24×4
    rect = panel.table.visualItemRect(panel.table.item(i, 0))
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert panel.shown_layer == 2
    np.testing.assert_allclose(panel.shown_map, trace[2][0].sum(axis=-1), rtol=1e-10,
                               atol=1e-14)
    assert panel.shown_map.shape == (24, 24)
    panel.select_layer(4)  # input of the Linear layer: a vector, shown as a strip
    np.testing.assert_allclose(panel.shown_map, trace[4][0].reshape(1, -1), rtol=1e-10,
                               atol=1e-14)
    # the plot holds ΣR at every layer's input and f(x) at the top
    xs, ys = panel.sum_curve.getData()
    assert list(xs) == list(range(len(rows) + 1))
    np.testing.assert_allclose(ys[:-1], [trace[k].sum() for k in range(len(rows))],
                               rtol=1e-9)
    assert ys[-1] == pytest.approx(rows[0].explained)


def test_the_input_layer_map_carries_the_outline(qtbot):
    """Every map view outlines the input, as the main heatmap does (layer 0's map is in the
    padded input layout of LeNet-5)."""
    from lrpgui import MainWindow

    window = MainWindow(model=str(BUNDLED_LENET), dataset="mnist-test")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.state.explanation is not None, timeout=20000)
    panel = window.insight.show("conservation")
    qtbot.waitUntil(lambda: panel.shown_map is not None, timeout=20000)
    panel.select_layer(0)
    assert panel.shown_map.shape[:2] == (32, 32) and panel.map_outline.image is not None
    window.state.outline = False
    assert panel.map_outline.image is None
    window.close()
