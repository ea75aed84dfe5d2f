"""Compare view: every map equals lrpcore's own single explanation with the same settings."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore

from .insight_helpers import (
    finite_difference_gradient,
    open_tool,
    predicted_class,
    rerun,
    sample_raw,
)

RULES = ["epsilon:0.01", "alphabeta:2", "EpsilonPlusFlat", "zb:-1:1", "sensitivity",
         "gradxinput"]


def lrp_map(window, rule, target):
    return lrpcore.explain(window.state.model, sample_raw(window), rule=rule, target=target)[0]


def test_rule_rows_equal_single_explanations(make_window, qtbot):
    window = make_window()
    view = open_tool(qtbot, window, "compare")
    assert view.objectName() == "compareView" and view.isVisible()
    rerun(qtbot, view, lambda: view.set_rules(RULES))
    comp = view.result.comparison
    labels = [row.label for row in comp.rows]
    assert labels[:3] == RULES[:3] and labels[3].startswith("zb")
    assert labels[4:] == ["sensitivity", "gradxinput"]
    cls = predicted_class(window)
    assert comp.classes == (cls,)
    for r, rule in enumerate(RULES[:4]):
        expected = lrp_map(window, rule, cls)
        np.testing.assert_allclose(comp.rows[r].maps[0], expected, rtol=1e-10, atol=1e-13)
        # what the cell shows: the same map, channel-summed, on the row's own scale
        np.testing.assert_allclose(view.cell_maps[(r, 0)], expected.sum(axis=-1), rtol=1e-10,
                                   atol=1e-13)
        assert view.cell_levels[(r, 0)] == pytest.approx(np.abs(expected).max())
    model = window.state.model
    x = model.input_spec.preprocess(sample_raw(window))[0]
    grad = finite_difference_gradient(model, x, cls)
    np.testing.assert_allclose(comp.rows[4].maps[0], grad ** 2, rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(comp.rows[5].maps[0], grad * x, rtol=1e-4, atol=1e-8)
    # the whole view came from at most one forward pass (the app's cached one is reused)
    assert window.insight.runner.cache.computed <= 1


def test_all_classes_and_contrast_columns(make_window, qtbot):
    window = make_window()
    view = open_tool(qtbot, window, "compare")
    rerun(qtbot, view, lambda: view.set_rules(["epsilon:0.01", "alphabeta:2"]))
    forwards = window.insight.runner.cache.computed
    rerun(qtbot, view, lambda: view.set_mode("all"))
    comp = view.result.comparison
    assert comp.classes == tuple(range(10))
    for c in (0, 4, 9):
        np.testing.assert_allclose(comp.rows[1].maps[c], lrp_map(window, "alphabeta:2", c),
                                   rtol=1e-10, atol=1e-13)
    rerun(qtbot, view, lambda: view.set_mode("contrast", pair=(3, 5), positive=False))
    comp = view.result.comparison
    diff = lrp_map(window, "epsilon:0.01", 3) - lrp_map(window, "epsilon:0.01", 5)
    assert comp.rows[0].titles[-1] == "3 vs 5"
    np.testing.assert_allclose(comp.rows[0].maps[-1], diff, rtol=1e-10, atol=1e-13)
    rerun(qtbot, view, lambda: view.positive.setChecked(True))
    np.testing.assert_allclose(view.result.comparison.rows[0].maps[-1], np.maximum(diff, 0),
                               rtol=1e-10, atol=1e-13)
    assert window.insight.runner.cache.computed == forwards  # same sample: no new forward


def test_shared_scale_and_colormap_recolour_without_recomputing(make_window, qtbot):
    window = make_window()
    view = open_tool(qtbot, window, "compare")
    rerun(qtbot, view, lambda: view.set_rules(["epsilon:0.01", "alphabeta:2"]))
    result = view.result
    per_row = [view.cell_levels[(r, 0)] for r in range(2)]
    assert per_row[0] != pytest.approx(per_row[1])
    assert view.shared.isEnabled()
    view.shared.setChecked(True)
    assert view.cell_levels[(0, 0)] == view.cell_levels[(1, 0)] == pytest.approx(max(per_row))
    other = next(n for n in ("gray-red", "black-firered", "seismic") if n != window.state.colormap)
    window.state.colormap = other  # re-coloured at once, on the GUI thread
    assert view.result is result and not view.busy()
    lut = view._cells[(0, 0)][1].lut
    from lrpgui import rendering

    np.testing.assert_array_equal(np.asarray(lut), rendering.bar_lut(other))


def test_one_scale_only_between_comparable_maps_and_outlines_everywhere(make_window, qtbot,
                                                                       monkeypatch):
    """Sensitivity (squared gradients) is not in relevance units: no shared scale with it.
    The outline is found once for all cells (an edge filter per cell cost a photograph's
    comparison of six rules over ten classes 60 of them, ~4 ms each, per colormap click), and
    on the worker, not per render."""
    from lrpgui import rendering

    filtered = []
    real = rendering.outline_mask
    monkeypatch.setattr(rendering, "outline_mask",
                        lambda *a, **k: filtered.append(1) or real(*a, **k))
    window = make_window()
    view = open_tool(qtbot, window, "compare")
    view.shared.setChecked(True)
    rerun(qtbot, view, lambda: view.set_rules(["epsilon:0.01", "sensitivity"]))
    assert not view.shared.isEnabled() and "sensitivity" in view.shared.toolTip()
    per_row = [view.cell_levels[(r, 0)] for r in range(2)]
    assert per_row[0] != pytest.approx(per_row[1])  # each row keeps its own scale
    # every map cell carries the input's outline, and the outline switch removes it
    assert all(view._outlines[key].image is not None for key in view.cell_maps)
    filtered.clear()
    window.state.colormap = next(n for n in ("seismic", "bwr") if n != window.state.colormap)
    # made on the worker with the maps: a colormap click only re-colours
    assert len(view.cell_maps) > 1 and filtered == []
    window.state.outline = False
    assert all(view._outlines[key].image is None for key in view.cell_maps)


def test_compare_cells_grow_with_the_window(make_window, qtbot):
    window = make_window()
    view = open_tool(qtbot, window, "compare")
    rerun(qtbot, view, lambda: view.set_rules(["epsilon:0.01", "alphabeta:2"]))
    dock = window.insight.docks["compare"]

    def cell_side():
        return view._cells[(0, 0)][0].sceneBoundingRect().width()

    dock.resize(700, 450)
    qtbot.waitUntil(lambda: view.canvas.width() < 720)
    small = cell_side()
    dock.resize(1300, 900)
    qtbot.waitUntil(lambda: cell_side() > 1.4 * small, timeout=5000)


def test_follows_the_selection_and_reports_bad_rules(make_window, qtbot):
    window = make_window()
    view = open_tool(qtbot, window, "compare")
    rerun(qtbot, view, lambda: setattr(window.state, "sample_index", 7))
    cls = predicted_class(window, 7)
    np.testing.assert_allclose(view.result.comparison.rows[0].maps[0],
                               lrp_map(window, view.rules()[0], cls), rtol=1e-10, atol=1e-13)
    with qtbot.waitSignal(view.failed, timeout=20000):
        view.set_rules(["epsilon:abc"])
    assert "epsilon" in view.last_error
