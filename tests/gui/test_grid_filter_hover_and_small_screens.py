"""Rough edges a demanding user meets: a filter hiding the sample on display, hover text that
outlives the mouse, a sideways-scrolling model summary, abbreviated layer names, and a window
too wide for a 1024×700 screen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication

from lrpcore.model import chain_layer_names

from .waiting import window_at

MODELS = Path(__file__).resolve().parents[2] / "models"  # the bundled models of the checkout


def wait_shown(qtbot, window, index):
    qtbot.waitUntil(lambda: window.state.explanation is not None
                    and window.state.explanation.index == index, timeout=20000)


def _class_around(labels, index):
    """A class other than sample ``index``'s with samples both before and after it."""
    for k in range(10):
        hits = np.flatnonzero(labels == k)
        if k != labels[index] and hits.size and hits[0] < index < hits[-1]:
            return k
    raise AssertionError("the toy labels have no such class")


def test_a_filter_hiding_the_displayed_sample_keeps_it_and_says_so(make_window, qtbot):
    window = make_window()
    window.grid.set_order("dataset")  # row r is sample r
    s, grid = window.state, window.grid
    shown = 40
    s.sample_index = shown
    wait_shown(qtbot, window, shown)
    other = _class_around(s.labels, shown)
    grid.true_filter.setCurrentIndex(grid.true_filter.findData(other))
    rows = grid.model.dataset_indices()
    assert shown not in rows and rows.size > 0
    # still on display, nothing selected in the grid, and both grid and view say why
    assert s.sample_index == shown and s.explanation.index == shown
    assert not grid.view.currentIndex().isValid() and grid.selected_indices() == []
    assert s.sample_hidden
    assert f"sample {shown}" in grid.count_label.text() and "hidden" in grid.count_label.text()
    assert "hidden" in window.views.input_title.text

    # clearing the filter selects it again, and the notes go away
    grid.true_filter.setCurrentIndex(0)
    assert grid.view.currentIndex().row() == grid.model.row_of(shown)
    assert grid.selected_indices() == [shown]
    assert not s.sample_hidden and "hidden" not in grid.count_label.text()
    assert "hidden" not in window.views.input_title.text

    # the arrow keys go on from where the hidden sample would stand
    grid.true_filter.setCurrentIndex(grid.true_filter.findData(other))
    grid.view.setFocus()
    QApplication.processEvents()  # the focus-in event is handled
    assert s.sample_index == shown and not grid.view.currentIndex().isValid()  # focus alone
    qtbot.keyClick(grid.view, Qt.Key.Key_Right)
    after = int(rows[rows > shown][0])
    assert s.sample_index == after and grid.selected_indices() == [after]
    wait_shown(qtbot, window, after)
    assert not s.sample_hidden

    s.sample_index = shown  # chosen elsewhere (e.g. --sample): the grid drops its selection
    assert not grid.view.currentIndex().isValid() and s.sample_hidden
    qtbot.keyClick(grid.view, Qt.Key.Key_Left)
    before = int(rows[rows < shown][-1])
    assert s.sample_index == before and grid.selected_indices() == [before]

    # a filter changed so that it shows the sample again selects it
    s.sample_index = shown
    grid.true_filter.setCurrentIndex(grid.true_filter.findData(int(s.labels[shown])))
    assert grid.selected_indices() == [shown] and not s.sample_hidden


def test_hover_text_is_cleared_when_the_mouse_leaves_the_views(make_window, qtbot):
    window = make_window()
    views, label = window.views, window.hover_label
    backend, timing = window.backend_label.text(), window.time_label.text()
    assert backend and timing
    tries = []
    for widget, box in ((views.input_widget, views.input_box),
                        (views.heat_widget, views.heat_box)):
        def point_at_row_7_col_10(widget=widget, box=box):
            # the layout may still settle after show(): aim anew on every try, one pixel
            # apart (Qt drops a move to the same place); waitUntil's own polling interval
            # spaces the tries beyond pyqtgraph's rate limit
            tries.append(1)
            aim = widget.mapFromScene(box.mapViewToScene(QPointF(10.5, 7.5)))
            qtbot.mouseMove(widget.viewport(), aim + QPoint(len(tries) % 2, 0))
            return label.text().startswith("row 7, col 10: input ")

        qtbot.waitUntil(point_at_row_7_col_10, timeout=5000)
        qtbot.mouseMove(window.grid.view.viewport(), QPoint(5, 5))  # off the views
        qtbot.waitUntil(lambda: label.text() == "", timeout=5000)
    # only the hover part goes: the permanent status widgets keep their text
    assert window.backend_label.text() == backend and window.time_label.text() == timing
    assert window.backend_label.isVisible()


def test_model_summary_wraps_instead_of_scrolling_sideways(make_window, qtbot):
    window = make_window(model=MODELS / "mnist-lenet5.npz")
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.browser.summary.width() > 0, timeout=5000)
    QApplication.processEvents()
    summary = window.browser.summary
    qtbot.waitUntil(summary.fitted, timeout=5000)
    assert summary.horizontalScrollBar().maximum() == 0, "the summary scrolls sideways"
    text = summary.toPlainText()
    model = window.state.model
    # nothing is lost: a layer's line shortened to the dock's width has it all in its tooltip
    from .test_review_stop25_gui import layer_spans

    tips = [tip for _s, _e, tip in layer_spans(summary)]
    for layer, shape, tip in zip(model.layers, model.shapes(), tips, strict=True):
        assert layer.describe() in tip
        assert "×".join(map(str, shape)) in text
    assert f"{model.param_count():,}" in text and model.input_spec.describe() in text


def window_sized(qtbot, toy_files, width, height):
    """The bundled LeNet-5 (its layer descriptions are long) at ``width``×``height``."""
    return window_at(qtbot, MODELS / "mnist-lenet5.npz", toy_files[1], width, height)


def test_layer_column_shows_full_descriptions_where_there_is_room(qtbot, toy_files):
    wide = window_sized(qtbot, toy_files, 1400, 900)
    table = wide.rules.layer_table
    assert table.objectName() == "layerRuleTable"
    texts = [table.item(r, 1).text() for r in range(table.rowCount())]
    assert any("stride" in t for t in texts)  # long ones, e.g. "Convolution 5×5×1×10 ..."
    assert table.columnWidth(1) >= table.sizeHintForColumn(1), "descriptions are cut"
    wide.close()

    narrow = window_sized(qtbot, toy_files, 1024, 700)
    table = narrow.rules.layer_table
    assert table.textElideMode() == Qt.TextElideMode.ElideMiddle and not table.wordWrap()
    # all four columns are on screen; the layer column is the one that gives way
    header = table.horizontalHeader()
    assert header.length() <= table.viewport().width()
    assert table.horizontalScrollBar().maximum() == 0
    assert table.columnWidth(1) >= 60
    layers = narrow.state.model.analysis_layers()
    for r, name in enumerate(chain_layer_names(layers)):  # the full text stays in the tooltip
        assert table.item(r, 1).toolTip() == f"{layers[r].describe()} ({name})"


def test_the_window_fits_1024_by_700_without_clipping_controls(qtbot, toy_files):
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QDockWidget

    window = window_sized(qtbot, toy_files, 1024, 700)
    hint = window.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 700, hint
    assert (window.width(), window.height()) == (1024, 700)
    frame = window.rect()
    controls = [w for w in window.findChildren(QAbstractButton) + window.findChildren(QComboBox)
                if w.isVisible() and w.window() is window
                and w.parent() is not None and not isinstance(w.parent(), QDockWidget)]
    assert len(controls) > 15  # the export buttons, rule panel, filters, browser buttons
    for w in controls:
        where = w.objectName() or w.text() if hasattr(w, "text") else w.objectName()
        assert w.width() >= w.minimumSizeHint().width(), f"{where} is squeezed"
        box = w.rect().translated(w.mapTo(window, w.rect().topLeft()))
        assert frame.contains(box), f"{where} is cut off by the window edge"
    for dock in ("browserDock", "ruleDock", "sampleDock"):
        d = window.findChild(QDockWidget, dock)
        assert d.width() >= d.minimumSizeHint().width() and frame.contains(d.geometry())


def test_the_browser_names_every_model_in_full_at_1024_by_700(qtbot, toy_files):
    """File names were cut in the middle ("mnist-d…ect.npz", "mnist-…t5.npz") at 1024 pixels;
    bundled models are listed by the names the command line takes."""
    from lrpcore import bundled
    from lrpgui.widgets.browser import _lines

    window = window_sized(qtbot, toy_files, 1024, 700)
    for widget in (window.browser.models, window.browser.datasets):
        room = widget.viewport().width() - 8
        fm = widget.fontMetrics()
        for row in range(widget.count()):
            text = widget.item(row).text()
            if "(recent)" in text:  # a recent file's path may be cut in the middle
                continue
            # "EfficientNet-Lite0 (ImageNet)" wraps before its note: each line whole
            lines = [text] if fm.horizontalAdvance(text) <= room else _lines(text)
            assert all(fm.horizontalAdvance(line) <= room for line in lines), text
            assert widget.visualItemRect(widget.item(row)).height() >= len(lines) * fm.height()
    labels = [window.browser.models.item(r).text() for r in range(window.browser.models.count())]
    assert [p.stem for p in bundled.bundled_models()] == labels[:len(bundled.bundled_models())]
    assert "mnist-lenet5" in labels


def test_digits_fill_their_views_at_1024_by_700(qtbot, toy_files):
    window = window_sized(qtbot, toy_files, 1024, 700)
    views = window.views
    h, w = views._shape

    def filled(box):  # the share of the view's tighter side that the image spans
        (lo, hi), (top, bottom) = box.viewRange()
        return max(w / (hi - lo), h / (bottom - top))

    qtbot.waitUntil(lambda: min(filled(views.input_box), filled(views.heat_box)) >= 0.85,
                    timeout=5000)
    # zooming one view shows the same region in the other, and the fit then stays off
    views.heat_box.scaleBy((0.5, 0.5))
    (lo, hi), (top, bottom) = views.input_box.viewRange()
    (hlo, hhi), (htop, hbottom) = views.heat_box.viewRange()
    assert (lo + hi) / 2 == pytest.approx((hlo + hhi) / 2)
    assert (top + bottom) / 2 == pytest.approx((htop + hbottom) / 2)
    assert min(hi - lo, bottom - top) < max(w, h)


def test_a_bundled_model_opened_by_a_relative_path_is_listed_once(make_window, qtbot,
                                                                 monkeypatch, toy_files):
    from PySide6.QtWidgets import QListWidget

    monkeypatch.chdir(MODELS.parent)
    window = make_window(model="models/mnist-lenet5.npz", dataset=toy_files[1], wait=False)
    qtbot.waitUntil(lambda: window.state.model is not None, timeout=20000)
    models = window.findChild(QListWidget, "modelBrowser")
    window.browser.refresh()
    labels = [models.item(i).text() for i in range(models.count())]
    assert sum("mnist-lenet5" in label for label in labels) == 1, labels
    assert not any("(recent)" in label and "mnist-lenet5" in label for label in labels)
