"""The stop-23 acceptance review in the window: what a new user met opening a cluster's
relevance store, and the sweep's heatmaps."""

from __future__ import annotations

import numpy as np
import pytest
from colour_models import colour_graph_model

import lrpcore


@pytest.fixture
def toy_store(toy_files, tmp_path):
    """An ``R.zarr`` of the toy digit model on the toy digits, made on an in-process cluster."""
    pytest.importorskip("distributed")
    pytest.importorskip("zarr")
    from local_store import explain_to_local_store

    from lrpcore import distributed as dist

    model, images = toy_files
    source, _ = dist.open_source(images)
    out = tmp_path / "R.zarr"
    assert explain_to_local_store(model, source, out).failed == []
    return out


def test_a_store_opens_over_data_its_model_does_not_fit_without_a_question(
        make_window, qtbot, toy_store, toy_files, tmp_path, close_dataset_questions):
    """With colour images open, opening a store of digits asked "Close the dataset … and open
    the model? Then open data that fits it: …" — the store brings its own data, so the
    question was beside the point, and answering Cancel (as the fixture does) refused the
    store. It now opens the store's model and data as the menu item says."""
    model = tmp_path / "colour-graph.npz"
    lrpcore.save_model(colour_graph_model(), model)
    photos = tmp_path / "photos.npy"  # arrays are not fitted to a model, as folders are
    np.save(photos, np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8))
    window = make_window(model, photos)
    assert window.open_relevance_store(toy_store)
    assert close_dataset_questions == []
    qtbot.waitUntil(lambda: window.state.explanation is not None
                    and window.state.explanation.precomputed, timeout=20000)
    assert window.state.model_path.endswith(str(toy_files[0].name))
    assert window.state.dataset_name.endswith(str(toy_files[1].name))


def test_each_sweep_heatmap_is_drawn_on_its_own_scale(make_window, toy_files, qtbot,
                                                      monkeypatch):
    """The sweep drew every setting's heatmap on one colour scale, the largest map's: on the
    shared MNIST ResNet the z-rule's (γ = 0, ranked last) values left the best settings' maps
    nearly white. Flipping ranks pixels whatever the scale, so each map takes its own."""
    from pathlib import Path

    from PySide6.QtCore import Qt

    from lrpgui.insight import imaging

    drawn = []
    real = imaging.show_relevance

    def recording(item, r2d, vmax, cmap):
        drawn.append((float(imaging.max_abs(r2d)), float(vmax)))
        real(item, r2d, vmax, cmap)

    monkeypatch.setattr(imaging, "show_relevance", recording)
    models = Path(__file__).resolve().parents[2] / "models"
    window = make_window(model=models / "mnist-lenet5.npz", dataset=toy_files[1])
    panel = window.insight.show("sweep")
    panel.rule_edit.setText("alphabeta:2")  # α = 1, 2, 3: maps of other sizes
    panel.n_spin.setValue(6)
    panel.steps.setValue(4)
    with qtbot.waitSignal(panel.updated, timeout=60000):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    last = drawn[-3:]
    assert len({round(m, 9) for m, _v in last}) == 3  # the three maps differ in size
    assert all(v == pytest.approx(m) for m, v in last)
