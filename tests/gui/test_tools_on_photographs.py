"""The insight tools on photographs (issue 13): Compare, Conservation and Pixel-flipping with
patches driven offscreen on a small colour graph model with EfficientNet-Lite0's input
specification (3-channel NCHW, resize + centre crop, per-channel mean/std) and a folder of
photographs; Draw a digit says why a colour model cannot use it."""

from __future__ import annotations

import numpy as np
import pytest
from colour_models import colour_graph_model, write_photos

import lrpcore
from lrpcore.insight import flip_curves

from .insight_helpers import open_tool, rerun


@pytest.fixture
def photo_window(make_window, tmp_path):
    model = tmp_path / "colour-graph.npz"
    lrpcore.save_model(colour_graph_model(), model)
    window = make_window(model, write_photos(tmp_path / "photos"))
    window.state.sample_index = 1
    return window


def _raw(window):
    s = window.state
    return s.dataset.images(np.array([s.sample_index]))


def test_compare_shows_every_rule_on_the_photograph(photo_window, qtbot):
    window = photo_window
    qtbot.waitUntil(lambda: window.state.explanation.index == 1, timeout=20000)
    panel = open_tool(qtbot, window, "compare")
    rules = ["epsilon:0.01", "EpsilonPlus", "gradxinput"]
    rerun(qtbot, panel, lambda: panel.set_rules(rules))
    assert panel.last_error is None
    assert panel.result.request.index == 1
    s = window.state
    for r, rule in enumerate(rules[:2]):  # each row is lrpcore's map, channels summed
        want = lrpcore.explain(s.model, _raw(window), rule=rule, dtype=s.dtype)[0]
        want_hw = s.model.input_spec.unpad(want[None])[0].sum(axis=-1)  # 16×16
        np.testing.assert_allclose(panel.cell_maps[(r, 0)], want_hw, rtol=1e-6, atol=1e-9)
    assert panel.cell_maps[(0, 0)].shape == (16, 16)
    assert panel.input_item.image.shape == (16, 16, 3)  # the photograph in colour


def test_conservation_panel_on_the_photograph(photo_window, qtbot):
    window = photo_window
    qtbot.waitUntil(lambda: window.state.explanation.index == 1, timeout=20000)
    panel = open_tool(qtbot, window, "conservation")
    qtbot.waitUntil(lambda: panel.result.request.index == 1, timeout=20000)
    rows = panel.result.rows
    assert len(rows) == len(window.state.model.analysis_layers())
    # ΣR at the input equals the map on display in the main window
    assert rows[-1].sum_in == pytest.approx(float(window.state.relevance.sum()), rel=1e-6)
    # the map at the input of the first convolution is an image of the photograph's size
    assert any(np.asarray(m).shape[:2] == (16, 16) for m in panel.result.layer_maps)
    # every node is a row named by its node; under the Add one row per input branch with
    # what it received (the panel showed only the merge's total)
    from lrpgui.insight.conservation_panel import NODE_COLUMN

    names = window.state.model.analysis_layers().names
    table = panel.table
    assert table.rowCount() == len(rows) + 2 and not table.isColumnHidden(NODE_COLUMN)
    i = panel.table_layers.index(names.index("add"))
    assert table.item(i, NODE_COLUMN).text() == "add"
    branch_rows = [i + 1, i + 2]
    assert [table.item(r, NODE_COLUMN).text() for r in branch_rows] == ["dw_relu",
                                                                         "stem_relu"]
    assert all(table.item(r, 1).text().startswith("↳ from node") for r in branch_rows)
    shown = [float(table.item(r, 3).text()) for r in branch_rows]
    assert sum(shown) == pytest.approx(float(table.item(i, 3).text()), rel=1e-5)
    from lrpcore.explain import resolve_rules
    from lrpcore.insight import conservation_from_trace

    s = window.state
    ex = lrpcore.Explainer(s.model, dtype=s.dtype)
    fwd = ex.forward(_raw(window))
    _, trace = fwd.relevance(resolve_rules(ex.layers, s.rule), trace=True)
    want = next(r for r in conservation_from_trace(trace, ex.layers) if r.node == "add")
    assert shown == pytest.approx([v for *_, v in want.branches], rel=1e-5)
    panel.table.selectRow(branch_rows[1])  # a branch row shows the merge's map
    assert panel.shown_layer == names.index("add")


def test_pixel_flipping_with_patches_on_the_photograph(photo_window, qtbot):
    window = photo_window
    qtbot.waitUntil(lambda: window.state.explanation.index == 1, timeout=20000)
    panel = open_tool(qtbot, window, "pixelflip")
    panel.live.setChecked(False)
    panel.methods_edit.setText("EpsilonPlus")
    panel.steps.setValue(8)
    panel.per_step.setValue(2)
    panel.patch.setValue(4)  # 4×4 patches of all three channels
    panel.baseline.setCurrentText("zero")
    panel.random.setChecked(True)
    rerun(qtbot, panel, panel.run_button.click)
    s = window.state
    model = s.model
    x = model.input_spec.preprocess(_raw(window))
    cls = int(lrpcore.predict(model, _raw(window))[0].argmax())
    assert panel.outcome.target == cls
    rel = lrpcore.explain(model, _raw(window), rule="EpsilonPlus", target=cls, dtype=s.dtype)
    want = flip_curves(model, x, rel, cls, steps=8, patch=4, per_step=2, baseline="zero",
                       region="raw", dtype=s.dtype)
    got = {r.label: r for r in panel.outcome.results}
    np.testing.assert_allclose(got["EpsilonPlus"].outputs, want.outputs, rtol=1e-6, atol=1e-9)
    assert got["EpsilonPlus"].outputs.shape[-1] == 9  # the unflipped photograph + 8 steps
    assert set(got) == {"EpsilonPlus", "random"}
    assert panel.table.rowCount() == 2


def test_draw_a_digit_says_why_a_colour_model_cannot_use_it(photo_window, qtbot, toy_files):
    window = photo_window
    panel = window.insight.panels["draw"]
    window.insight.actions["draw"].trigger()
    qtbot.waitUntil(lambda: panel.last_error is not None, timeout=20000)
    assert "28×28" in panel.last_error and "16×16×3 colour images" in panel.last_error
    assert panel.error_label.isVisible()
    assert not panel.pad.isEnabled()  # nothing to draw on
    # a model of digits again: the pad is back, the note gone
    window.close_dataset()
    assert window.open_model(str(toy_files[0]))
    assert panel.pad.isEnabled() and panel.last_error is None


def test_pixel_flipping_starts_with_patches_on_a_photograph(make_window, tmp_path):
    """The panel starts with the patch side of `lrp evaluate` for the open model: 56 // 28 = 2
    here (8 at EfficientNet-Lite0's 224×224), pixels again for a digit model."""
    model = tmp_path / "colour-graph-56.npz"
    lrpcore.save_model(colour_graph_model(side=56), model)
    window = make_window(model, write_photos(tmp_path / "photos"))
    panel = window.insight.panels["pixelflip"]
    assert panel.patch.value() == 2 == panel.settings().patch
    window.open_model("mnist-lenet5")
    assert panel.patch.value() == 1


def test_conservation_draws_the_input_relevance_as_the_photograph(photo_window, qtbot):
    """Layer 0's input is the C×H×W photograph: it was summed over its width and drawn as a
    3-pixel strip; it is the main heatmap (channels summed), outlined like it."""
    window = photo_window
    qtbot.waitUntil(lambda: window.state.explanation.index == 1, timeout=20000)
    panel = open_tool(qtbot, window, "conservation")
    qtbot.waitUntil(lambda: panel.result.request.index == 1, timeout=20000)
    panel.select_layer(0)
    np.testing.assert_allclose(panel.shown_map, window.state.relevance.sum(axis=-1),
                               rtol=1e-6, atol=1e-12)
    assert panel.map_outline.image is not None  # the outline, as in the main view


def test_map_cells_draw_a_photograph_outline_as_lines_not_dots(photo_window, qtbot):
    """A 224-pixel outline shrunk into a ~180-pixel cell by picking pixels broke its lines
    into scattered dots; the overlay is averaged down instead (thin grey lines)."""
    window = photo_window
    panel = open_tool(qtbot, window, "compare")
    rerun(qtbot, panel, lambda: panel.set_rules(["epsilon:0.01"]))
    overlays = [panel._outlines[key] for key in panel.cell_maps]
    assert overlays and all(o.image is not None and o.autoDownsample for o in overlays)
    conservation = open_tool(qtbot, window, "conservation")
    assert conservation.map_outline.autoDownsample


def test_export_npy_writes_the_model_layout_as_lrp_explain(photo_window, qtbot, tmp_path):
    """Export .npy of a C×H×W model wrote the H×W×C map the views draw, while lrp explain
    and the GUI's own batch export write C×H×W: one file format for one model."""
    window = photo_window
    s = window.state
    qtbot.waitUntil(lambda: s.relevance is not None and s.explanation.index == 1,
                    timeout=20000)
    written = window.export_npy(tmp_path / "r.npy")
    R = np.load(written[0])
    want = lrpcore.explain(s.model, _raw(window), rule=s.rule, dtype=s.dtype)[0]
    assert R.shape == want.shape == (3, 16, 16)
    np.testing.assert_allclose(R, want, rtol=1e-6, atol=1e-9)
