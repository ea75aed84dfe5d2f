"""The Concepts panel and the SpRAy window (issue 16): background work, the sample grid
filtered by a box in the embedding, composition that descends, results that save and reopen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture
def lenet_window(make_window, toy_files):
    return make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])


def test_spray_window_clusters_filters_the_grid_and_reopens(lenet_window, qtbot, tmp_path):
    window = lenet_window
    panel = window.insight.show("spray")
    panel.k_spin.setValue(3)
    with qtbot.waitSignal(panel.updated, timeout=120000):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert panel.last_error is None
    r = panel.result
    assert len(r.indices) == 120 and r.k == 3
    assert len(panel.proto_boxes) == 3
    assert len(panel.scatter.data) == 120
    # a box over the left part of the embedding filters the grid to the points inside
    e = r.embedding
    mid = float(np.median(e[:, 0]))
    panel.select_rect(e[:, 0].min() - 1, e[:, 1].min() - 1, mid, e[:, 1].max() + 1)
    inside = set(r.indices[e[:, 0] <= mid].tolist())
    model = _grid_model(window)
    qtbot.waitUntil(lambda: set(model.dataset_indices().tolist()) == inside, timeout=5000)
    assert "selected" in panel.summary.text()
    # a prototype selects its cluster; "show all" lifts the filter
    panel.select_cluster(1)
    assert set(model.dataset_indices().tolist()) == set(r.indices[r.clusters == 1].tolist())
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert model.rowCount() == 120 and window.state.filter_subset is None
    # hover preview
    panel.preview_sample(5)
    assert panel.previewed == int(r.indices[5])
    # save and reopen
    path = panel.save(str(tmp_path / "s.npz"))
    panel.clear_results()
    assert panel.result is None
    again = panel.open(path)
    np.testing.assert_array_equal(again.clusters, r.clusters)
    assert panel.result is again
    (tmp_path / "bad.npz").write_bytes(b"nope")
    assert panel.open(str(tmp_path / "bad.npz")) is None
    assert "not a SpRAy result" in panel.last_error


def _grid_model(window):
    from PySide6.QtWidgets import QListView

    for view in window.findChildren(QListView):
        m = view.model()
        if hasattr(m, "dataset_indices"):
            return m
    raise AssertionError("no sample grid")


def test_spray_cancel_keeps_the_window_responsive(lenet_window, qtbot):
    window = lenet_window
    panel = window.insight.show("spray")
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.cancel_button.isEnabled(), timeout=5000)
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    window.state.sample_index = 4
    qtbot.waitUntil(lambda: window.state.explanation is not None
                    and window.state.explanation.request.index == 4, timeout=20000)
    qtbot.waitUntil(lambda: not window.controller.pending(panel.key), timeout=30000)
    assert panel.run_button.isEnabled()


def test_concepts_panel_ranks_descends_and_finds_references(lenet_window, qtbot, tmp_path,
                                                            monkeypatch):
    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path))
    window = lenet_window
    with qtbot.waitSignal(window.insight["concepts"].updated, timeout=60000):
        panel = window.insight.show("concepts")
    panel.set_layer(6)
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.layer == 6,
                    timeout=60000)
    r = panel.result
    assert panel.ranking_table.rowCount() == 100
    assert r.conditional.shape[0] == panel.top_spin.value()
    # the conditional heatmaps are those of lrpcore for the sample on display
    from lrpcore import concepts
    from lrpcore.explain import Explainer

    ex = Explainer(window.state.model, "numpy")
    raw = window.state.dataset.images([window.state.sample_index])
    fwd = ex.forward(ex.prepare(raw), raw=True)
    want = concepts.conditional_heatmaps(fwd, 6, r.ranking.channels[:1], window.state.rule)
    np.testing.assert_allclose(r.conditional[0], want[0].sum(axis=-1), atol=1e-12)
    # double-click on the composition's first row: the layer below, that channel selected
    lower_channel = int(r.composition.channels[0])
    panel.descend(0)
    qtbot.waitUntil(lambda: panel.result.layer == 3 and panel.channel == lower_channel,
                    timeout=60000)
    # references in the background, then shown for the selected channel
    with qtbot.waitSignal(panel.updated, timeout=120000):
        qtbot.mouseClick(panel.refs_button, Qt.MouseButton.LeftButton)
    assert panel.references is not None and panel.references.samples.shape[1] == 8
    assert panel.gallery_samples == panel.references.samples[lower_channel].tolist()


def test_concepts_start_below_the_output_layer(make_window, qtbot):
    """On a model with one hidden linear map (the toy conv net; the README's 784-64-10
    watermark model) the panel used to start on the output layer, whose only relevant channel
    is the explained class: nothing to see. It starts on an inner layer."""
    window = make_window()
    with qtbot.waitSignal(window.insight["concepts"].updated, timeout=60000):
        panel = window.insight.show("concepts")
    layers = window.state.model.layers
    offered = [panel.layer_box.itemData(i) for i in range(panel.layer_box.count())]
    output = max(k for k in offered if layers[k].kind in ("Linear", "Convolution"))
    assert panel.layer() != output and layers[panel.layer()].kind == "Convolution"
    assert np.count_nonzero(panel.result.ranking.relevance) > 1


def test_eigengap_axis_shows_the_eigenvalues_unscaled(lenet_window, qtbot):
    """The eigengap plot said '200' with a clipped '(x0.01)' for an eigenvalue of 2."""
    panel = lenet_window.insight.show("spray")
    panel.k_spin.setValue(2)
    with qtbot.waitSignal(panel.updated, timeout=120000):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    from PySide6.QtWidgets import QApplication

    r = panel.result
    assert r.eigenvalues.max() <= 2 + 1e-9
    r.eigenvalues = np.linspace(0, 0.2, len(r.eigenvalues))  # as in the README's example
    panel.show_result(r)
    QApplication.processEvents()
    axis = panel.eigen_plot.getAxis("left")
    assert axis.autoSIPrefixScale == 1.0 and "(x" not in axis.labelString()
