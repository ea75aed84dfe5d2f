"""The Concepts panel's and the Sweep window's heatmaps carry the input's outline, as the main
heatmap view does (they were drawn bare), follow the outline switch (Concepts the colormap
too), and outline a padded model's maps (LeNet-5: 32×32 conditional maps, 28×28 sweep maps)
in their own layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest

from lrpgui import rendering

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture
def lenet_window(make_window, toy_files):
    return make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])


def drawn_mask(overlay):
    """The pixels an outline overlay draws black (None when it draws nothing)."""
    image = overlay.image
    return None if image is None else np.asarray(image)[..., 3] > 0


def test_concepts_maps_are_outlined_like_the_main_view(lenet_window, qtbot):
    window = lenet_window
    with qtbot.waitSignal(window.insight["concepts"].updated, timeout=60000):
        panel = window.insight.show("concepts")
    qtbot.waitUntil(lambda: panel.result is not None, timeout=60000)
    shown = window.state.explanation.input_unit  # the main view's input: 32×32, padded
    assert panel.result.conditional.shape[1:] == shown.shape[:2]
    want = rendering.outline_mask(shown)
    assert want.any()
    assert len(panel.map_outlines) == panel.result.conditional.shape[0]
    for overlay in panel.map_outlines:
        np.testing.assert_array_equal(drawn_mask(overlay), want)
    window.state.outline = False  # the switch of the Explanation dock
    assert all(drawn_mask(o) is None for o in panel.map_outlines)
    window.state.outline = True
    assert all(np.array_equal(drawn_mask(o), want) for o in panel.map_outlines)
    # a colormap chosen in the Explanation dock re-colours the maps (they kept the old one)
    window.state.colormap = "seismic"
    overlay = panel.map_outlines[0]
    box = overlay.getViewBox()
    cell = next(i for i in box.addedItems if isinstance(i, pg.ImageItem) and i is not overlay)
    np.testing.assert_array_equal(cell.lut, rendering.bar_lut("seismic"))


def test_sweep_maps_are_outlined(lenet_window, qtbot):
    from lrpgui.insight.worker_tasks import input_image

    window = lenet_window
    panel = window.insight.show("sweep")
    panel.rule_edit.setText("epsilon")
    panel.params_edit.setText("epsilon=0.01,1")
    panel.n_spin.setValue(2)
    panel.steps.setValue(4)
    with qtbot.waitSignal(panel.updated, timeout=60000):
        panel.refresh()
    assert panel.last_error is None and len(panel.cells) == 2
    first = window.state.dataset.images([0])[0]  # the first sample judged
    want = rendering.outline_mask(input_image(window.state.model, first))  # 28×28, as read
    assert want.any()
    assert len(panel.outlines) == 2
    for overlay in panel.outlines:
        np.testing.assert_array_equal(drawn_mask(overlay), want)
    window.state.outline = False
    assert all(drawn_mask(o) is None for o in panel.outlines)
