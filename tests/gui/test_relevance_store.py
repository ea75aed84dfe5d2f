"""The explorer opens an ``R.zarr`` of ``lrp explain`` (issue 18) as precomputed heatmaps:
its model, dataset and settings, with relevance read from the store, not computed."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("zarr")


@pytest.fixture
def store(toy_files, tmp_path):
    """A store of the toy data made on an in-process Dask cluster; sample 3's stored
    relevance is then marked, so that a heatmap read from the store can be told apart."""
    import zarr
    from local_store import explain_to_local_store

    from lrpcore import distributed as dist

    model, images = toy_files
    source, _ = dist.open_source(images)
    out = tmp_path / "R.zarr"
    assert explain_to_local_store(model, source, out).failed == []
    rel = zarr.open_group(out, mode="r+")["relevance"]
    rel[3] = np.full(rel.shape[1:], 0.125)
    return out


def test_a_store_is_shown_as_precomputed_heatmaps(make_window, qtbot, store):
    from .waiting import settle

    window = make_window()
    assert window.open_relevance_store(store)
    qtbot.waitUntil(lambda: window.state.explanation is not None
                    and window.state.explanation.precomputed, timeout=20000)
    window.state.sample_index = 3
    qtbot.waitUntil(lambda: window.state.explanation is not None
                    and window.state.explanation.index == 3, timeout=20000)
    assert window.state.rule == "epsilon:0.01" and window.state.explanation.precomputed
    assert np.all(window.state.relevance == 0.125)  # read from the store
    assert "precomputed" in window.time_label.text()
    window.state.rule = "alphabeta:2"  # not in the store: computed as usual
    qtbot.waitUntil(lambda: window.state.explanation is not None
                    and window.state.explanation.request.rule == "alphabeta:2", timeout=20000)
    assert not window.state.explanation.precomputed
    settle(qtbot, window.controller)


def test_a_folder_that_is_no_store_is_one_line_error(make_window, tmp_path):
    window = make_window()
    assert not window.open_relevance_store(tmp_path, quiet=True)
    assert str(tmp_path) in window.last_error and "relevance store" in window.last_error


def test_spray_clusters_the_stored_heatmaps(make_window, qtbot, store):
    """With the store open, the SpRAy window clusters its heatmaps (issue 18: a cluster's
    results analysed on a laptop): sample 3 carries the store's mark, nothing is explained."""
    from PySide6.QtCore import Qt

    from lrpcore import open_relevance_store
    from lrpcore.spray import _spatial

    window = make_window()
    assert window.open_relevance_store(store)
    qtbot.waitUntil(lambda: window.state.explanation is not None
                    and window.state.explanation.precomputed, timeout=20000)
    panel = window.insight.show("spray")
    panel.class_box.setCurrentIndex(panel.class_box.findData(None))
    panel.k_spin.setValue(2)
    assert panel.relevance_store(None) is not None
    with qtbot.waitSignal(panel.updated, timeout=60000):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    r = panel.result
    assert r.meta["store"] == str(store) and "relevance store" in panel.summary.text()
    stored = _spatial(open_relevance_store(store).heatmaps(slice(None)))
    np.testing.assert_allclose(r.heatmaps, stored, rtol=1e-6)
    assert np.all(r.heatmaps[3] == stored[3]) and np.ptp(stored[3]) == 0
    window.state.rule = "alphabeta:2"  # not in the store: SpRAy would explain again
    assert panel.relevance_store(None) is None


def test_a_stored_heatmap_that_breaks_conservation_warns(make_window, qtbot, toy_files,
                                                         tmp_path):
    """Issue 17 for stored heatmaps: α2β1 on LeNet-5's sum pools read from a store showed
    ΣR/f(x) = 8 in the status bar without a word; the store's own check (written by the run)
    now drives the warning, and the click still opens the Conservation panel at layer 8."""
    from pathlib import Path

    from local_store import explain_to_local_store
    from PySide6.QtCore import Qt

    from lrpcore import distributed as dist

    from .waiting import settle

    lenet = Path(__file__).resolve().parents[2] / "models" / "mnist-lenet5.npz"
    source, _ = dist.open_source(toy_files[1])
    out = tmp_path / "R.zarr"
    explain_to_local_store(lenet, source, out, "alphabeta:2", 64)
    window = make_window()
    assert window.open_relevance_store(out)
    qtbot.waitUntil(lambda: window.state.explanation is not None
                    and window.state.explanation.precomputed, timeout=20000)
    indicator = window.insight.trust
    qtbot.waitUntil(indicator.isVisible, timeout=5000)
    assert "8, 5, 2" in indicator.full_text and "sum pool" in indicator.full_text
    panel = window.insight.panels["conservation"]
    with qtbot.waitSignal(panel.updated, timeout=20000):
        qtbot.mouseClick(indicator, Qt.MouseButton.LeftButton)
    assert panel.shown_layer == 8
    settle(qtbot, window.controller)
