"""The main window: launching, selecting, rules, targets, overrides, colormaps, threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtWidgets import QApplication, QWidget

import lrpcore
from lrpgui.sources import open_dataset

from .waiting import settle

OBJECT_NAMES = ("modelBrowser", "datasetBrowser", "sampleGrid", "ruleSelector", "ruleParameter",
                "layerRuleTable", "targetSelector", "colormapSelector", "inputView",
                "heatmapView", "scoresPlot", "exportPngButton", "exportNpyButton",
                "batchExportButton")


def expected(window, index, **kwargs):
    s = window.state
    raw = s.dataset.images([index])
    kwargs.setdefault("rule", s.rule)
    kwargs.setdefault("target", int(s.target) if s.target.isdigit() else s.target)
    kwargs.setdefault("layer_rules", dict(s.layer_rules))
    return lrpcore.explain(s.model, raw, labels=s.labels[[index]], **kwargs)[0]


def wait_shown(qtbot, window, index):
    qtbot.waitUntil(lambda: window.state.explanation is not None
                    and window.state.explanation.index == index, timeout=20000)


def wait_new(qtbot, window, before):
    qtbot.waitUntil(lambda: window.state.explanation is not before, timeout=20000)


def test_launch_shows_sample_zero_explained(make_window, toy_files):
    window = make_window()
    for name in OBJECT_NAMES:
        assert window.findChild(QWidget, name) is not None, name
    s = window.state
    assert s.sample_index == 0 and s.explanation.index == 0
    np.testing.assert_allclose(s.relevance, expected(window, 0), rtol=1e-12, atol=1e-15)
    assert s.relevance.shape == s.model.input_spec.shape == (28, 28, 1)
    assert s.accuracy == pytest.approx(np.mean(s.predictions == s.labels))
    assert "ΣR" in window.conservation_label.text()
    assert window.grid.model.rowCount() == 120
    raw = s.dataset.images([0])
    np.testing.assert_allclose(window.scores.heights, lrpcore.predict(s.model, raw)[0],
                               rtol=1e-12)


def test_clicking_the_grid_and_arrow_keys_select_samples(make_window, qtbot):
    window = make_window()
    window.grid.set_order("dataset")  # row r is sample r
    view = window.grid.view
    rect = view.visualRect(window.grid.model.index(5))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.state.sample_index == 5
    wait_shown(qtbot, window, 5)
    np.testing.assert_allclose(window.state.relevance, expected(window, 5), rtol=1e-12,
                               atol=1e-15)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert window.state.sample_index == 6
    wait_shown(qtbot, window, 6)


def test_arrow_keys_move_through_the_samples_right_after_start(make_window, qtbot):
    """The input view had the focus at start, so the arrow keys did nothing until the user
    clicked the grid; a click on an image view took the focus away again."""
    window = make_window()
    window.grid.set_order("dataset")  # row r is sample r
    assert window.focusWidget() is window.grid.view
    qtbot.mouseClick(window.views.heat_widget.viewport(), Qt.MouseButton.LeftButton)
    assert window.focusWidget() is window.grid.view
    start = window.state.sample_index
    qtbot.keyClick(window.focusWidget(), Qt.Key.Key_Right)
    assert window.state.sample_index == start + 1
    wait_shown(qtbot, window, start + 1)


def test_rule_parameter_and_forward_cache(make_window, qtbot):
    window = make_window()
    selector = window.findChild(QWidget, "ruleSelector")
    before = window.state.explanation
    selector.setCurrentIndex(selector.findData("alphabeta"))
    assert window.state.rule == "alphabeta:2"
    wait_new(qtbot, window, before)
    assert window.state.explanation.forward_reused
    np.testing.assert_allclose(window.state.relevance, expected(window, 0), rtol=1e-12,
                               atol=1e-15)
    param = window.findChild(QWidget, "ruleParameter")
    assert param.isVisibleTo(window)
    before = window.state.explanation
    param.setValue(1.0)
    assert window.state.rule == "alphabeta:1"
    wait_new(qtbot, window, before)
    np.testing.assert_allclose(window.state.relevance,
                               expected(window, 0, rule="alphabeta:1"), rtol=1e-12, atol=1e-15)
    before = window.state.explanation
    selector.setCurrentIndex(selector.findData("EpsilonGammaBox"))
    assert window.state.rule == "EpsilonGammaBox" and not param.isVisibleTo(window)
    wait_new(qtbot, window, before)
    np.testing.assert_allclose(window.state.relevance,
                               expected(window, 0, rule="EpsilonGammaBox"), rtol=1e-12,
                               atol=1e-15)


def test_state_changes_update_the_widgets(make_window):
    window = make_window()
    window.state.rule = "epsilon:0.5"
    assert window.rules.rule_selector.currentData() == "epsilon"
    assert window.rules.rule_parameter.value() == pytest.approx(0.5)
    window.state.rule = "zb:-2:3"
    assert window.rules.zb_low.value() == -2 and window.rules.zb_high.value() == 3


def test_target_selector(make_window, qtbot):
    window = make_window()
    combo = window.findChild(QWidget, "targetSelector")
    for data, target in (("3", 3), ("true", "true"), ("output", "output")):
        before = window.state.explanation
        combo.setCurrentIndex(combo.findData(data))
        wait_new(qtbot, window, before)
        np.testing.assert_allclose(window.state.relevance,
                                   expected(window, 0, target=target), rtol=1e-12, atol=1e-15)
    assert window.state.explanation.explained_output == pytest.approx(
        float(window.state.scores.sum()))


def test_layer_override_in_the_table(make_window, qtbot):
    window = make_window()
    table = window.findChild(QWidget, "layerRuleTable")
    assert table.rowCount() == len(window.state.model.analysis_layers())
    assert table.item(1, 1).text() == "Rect (rect0)"  # named as lrp info names it
    before = window.state.explanation
    table.item(0, 3).setText("flat")
    assert window.state.layer_rules == {0: "flat"}
    wait_new(qtbot, window, before)
    np.testing.assert_allclose(window.state.relevance,
                               expected(window, 0, layer_rules={0: "flat"}), rtol=1e-12,
                               atol=1e-15)
    assert table.item(0, 3).font().bold()
    table.item(0, 3).setText("")  # back to the rule of the panel
    assert window.state.layer_rules == {}


def test_bad_layer_override_is_reported_not_applied(make_window, monkeypatch):
    shown = []
    monkeypatch.setattr("lrpgui.dialogs.show_error", lambda parent, t, m: shown.append(m))
    window = make_window()
    window.rules.layer_table.item(0, 3).setText("epsilon:-3")
    assert window.state.layer_rules == {}
    assert shown and "layer 0" in shown[0]


def test_colormap_change_never_recomputes(make_window, qtbot):
    window = make_window()
    calls = []
    original = window.service.run
    window.service.run = lambda req, token=None: calls.append(req) or original(req, token)
    combo = window.findChild(QWidget, "colormapSelector")
    assert combo.count() >= 5
    before, renders = window.state.explanation, window.views.render_count
    pictures = set()
    for k in range(min(combo.count(), 4)):
        combo.setCurrentIndex(k)
        pictures.add(window.views.rendered_rgb.tobytes())
    window.state.outline = not window.state.outline  # re-drawn at once, on the GUI thread
    assert calls == [] and window.state.explanation is before
    assert window.views.render_count > renders and len(pictures) == min(combo.count(), 4)
    assert window.state.colormap == combo.itemData(min(combo.count(), 4) - 1)


def test_hover_reports_row_column_input_and_relevance(make_window):
    window = make_window()
    text = window.views.describe_point(QPointF(10.5, 7.5))
    s = window.state
    fed = s.model.input_spec.preprocess(s.dataset.images([0]))[0]  # the model's input
    assert text.startswith("row 7, col 10: input ")
    assert f"input {fed[7, 10, 0]:.4g}," in text
    assert f"relevance {s.relevance[7, 10, 0]:+.4g}" in text
    assert window.views.describe_point(QPointF(-3, 2)) == ""
    # the two views are linked (aspect locking may widen one of them around the same centre)
    window.views.input_box.setRange(QRectF(3, 5, 6, 6), padding=0)
    (lo, hi), (top, bottom) = window.views.heat_box.viewRange()
    assert (lo + hi) / 2 == pytest.approx(6.0, abs=1e-6) and hi - lo < 10
    assert (top + bottom) / 2 == pytest.approx(8.0, abs=1e-6) and bottom - top < 16


def test_explanations_run_off_the_gui_thread(make_window, qtbot):
    window = make_window()
    threads = []
    original = window.service.run
    window.service.run = (lambda req, token=None:
                          threads.append(threading.current_thread()) or original(req, token))
    window.state.sample_index = 3
    wait_shown(qtbot, window, 3)
    assert threads and all(t is not threading.main_thread() for t in threads)


def test_fast_clicking_ends_on_the_last_sample(make_window, qtbot):
    window = make_window()
    window.grid.set_order("dataset")  # row r is sample r
    shown = []
    window.explanation_shown.connect(
        lambda i: shown.append((i, window.state.sample_index)))
    view, model = window.grid.view, window.grid.model
    for row in range(100):
        view.setCurrentIndex(model.index(row))
        QApplication.processEvents()
    assert window.state.sample_index == 99
    wait_shown(qtbot, window, 99)
    settle(qtbot, window.controller)  # no older answer can still arrive
    assert shown[-1] == (99, 99)
    assert all(i == current for i, current in shown)  # nothing stale was ever displayed
    assert window.state.explanation.index == 99
    window.close()
    assert not any(t.isRunning() for t in window.controller.threads.values())


def test_filters_of_the_grid(make_window, qtbot):
    window = make_window()
    window.grid.set_order("dataset")  # row r is sample r
    s = window.state
    window.grid.true_filter.setCurrentIndex(window.grid.true_filter.findData(4))
    rows = window.grid.model.dataset_indices()
    np.testing.assert_array_equal(rows, np.flatnonzero(s.labels == 4))
    window.grid.true_filter.setCurrentIndex(0)
    window.grid.mis_only.setChecked(True)
    rows = window.grid.model.dataset_indices()
    np.testing.assert_array_equal(rows, np.flatnonzero(s.predictions != s.labels))
    idx = window.grid.model.index(0)
    assert "✗" in idx.data()
    s.misclassified_only = False
    s.filter_pred = 2
    np.testing.assert_array_equal(window.grid.model.dataset_indices(),
                                  np.flatnonzero(s.predictions == 2))


def test_thumbnails_are_drawn_lazily(qtbot, tmp_path, toy_files):
    from lrpgui.item_models import SampleListModel

    big = tmp_path / "big_images.npy"
    np.save(big, np.random.default_rng(0).integers(0, 255, (60000, 784), dtype=np.uint8))
    model = SampleListModel(cache_size=100)
    model.set_dataset(open_dataset(big))
    assert model.rowCount() == 60000 and model.renders == 0
    for row in (0, 1, 59999, 0):
        assert not model.index(row).data(Qt.ItemDataRole.DecorationRole).isNull()
    assert model.renders == 3  # the second request of row 0 came from the cache
    assert model.index(59999).data() == "?→…"
    # in a view, scrolling to the end draws only what becomes visible
    from PySide6.QtWidgets import QListView

    view = QListView()
    qtbot.addWidget(view)
    view.setViewMode(QListView.ViewMode.IconMode)
    view.setUniformItemSizes(True)
    view.setModel(model)
    view.resize(600, 400)
    view.show()
    qtbot.waitExposed(view)
    view.scrollToBottom()
    QApplication.processEvents()
    assert 3 < model.renders < 600


def test_browser_lists_and_opens(make_window, qtbot, toy_files):
    window = make_window()
    browser = window.findChild(QWidget, "modelBrowser")
    values = [browser.item(i).data(Qt.ItemDataRole.UserRole) for i in range(browser.count())]
    assert str(toy_files[0]) in values
    datasets = window.findChild(QWidget, "datasetBrowser")
    names = [datasets.item(i).data(Qt.ItemDataRole.UserRole) for i in range(datasets.count())]
    assert "mnist-sample" in names and str(toy_files[1]) in names
    from .test_review_stop25_gui import layer_spans  # a line as wide as the dock, or shortened

    assert "4 Linear 576→10 (linear0)" in [tip for *_, tip in layer_spans(window.browser.summary)]
    assert "%" in window.browser.accuracy_label.text()


def test_selectors_accept_the_names_a_script_knows(make_window, qtbot):
    """``setCurrentText`` with a preset name, a target value or a colormap name selects it."""
    window = make_window()
    rules = window.findChild(QWidget, "ruleSelector")
    before = window.state.explanation
    rules.setCurrentText("EpsilonPlus")
    assert window.state.rule == "EpsilonPlus" and rules.currentText() == "EpsilonPlus"
    wait_new(qtbot, window, before)
    np.testing.assert_allclose(window.state.relevance,
                               expected(window, 0, rule="EpsilonPlus"), rtol=1e-12, atol=1e-15)
    targets = window.findChild(QWidget, "targetSelector")
    for text, target in (("3", "3"), ("true", "true"), ("predicted class", "pred")):
        targets.setCurrentText(text)
        assert window.state.target == target, text
    targets.setCurrentText("no such target")  # ignored, as by any read-only combo box
    assert window.state.target == "pred"
    assert targets.findText("7") == targets.findData("7") > 0
    colormaps = window.findChild(QWidget, "colormapSelector")
    name = colormaps.itemText(colormaps.count() - 1)
    colormaps.setCurrentText(name)
    assert window.state.colormap == name


def test_small_epsilon_and_refused_values(make_window, qtbot, monkeypatch):
    shown = []
    monkeypatch.setattr("lrpgui.dialogs.show_error", lambda parent, t, m: shown.append(m))
    window = make_window()
    param = window.findChild(QWidget, "ruleParameter")
    param.setValue(1e-9)  # six decimals used to round this to ε = 0
    assert window.state.rule == "epsilon:1e-09"
    param.clear()
    qtbot.keyClicks(param, "2.5e-7")
    qtbot.keyClick(param, Qt.Key.Key_Return)
    assert window.state.rule == "epsilon:2.5e-07"
    # refused bounds: the widgets go back to what the state holds
    window.state.rule = "zb:-1:1"
    window.rules.zb_high.setValue(-5.0)
    assert shown and "low < high" in shown[-1]
    assert window.state.rule == "zb:-1:1" and window.rules.zb_high.value() == 1.0


def test_nan_relevance_is_an_error_not_a_crash(make_window, qtbot, monkeypatch):
    """NaN relevance (faked here; ε = 0 is refused when parsed): a dialog, the previous map
    stays."""
    shown = []
    monkeypatch.setattr("lrpgui.dialogs.show_error", lambda parent, t, m: shown.append(m))
    window = make_window()
    previous = window.state.explanation
    nan = np.full((1, 28, 28, 1), np.nan)
    monkeypatch.setattr(lrpcore.Forward, "relevance",  # traced: (R, per-layer relevance)
                        lambda *a, **k: (nan, [nan]) if k.get("trace") else nan)
    window.state.rule = "simple"
    qtbot.waitUntil(lambda: bool(shown), timeout=20000)
    assert "NaN" in shown[-1] and "sample 0" in shown[-1]
    assert window.state.explanation is previous
    assert window.state.relevance is previous.relevance
