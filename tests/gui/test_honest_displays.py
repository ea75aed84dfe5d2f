"""Displays that do not mislead: the marked gray-red2, one scale for input and heatmap, zoom
reset, the View menu, the grid following the sample, the explained class, ΣR / f(x), tool
windows that fit, views that keep a usable size, and "no labels"."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QDockWidget

from lrpgui import rendering
from lrpgui.main_window import MIN_VIEWS

from .insight_helpers import open_tool, rerun


def wait_shown(qtbot, window, index):
    qtbot.waitUntil(lambda: window.state.explanation is not None
                    and window.state.explanation.index == index, timeout=20000)


def test_gray_red2_is_marked_and_its_bar_shows_what_was_cleared(make_window):
    window = make_window()
    box = window.rules.colormap_selector
    i = box.findData("gray-red2")
    assert "⚠" in box.itemText(i)
    assert "10·var(R)" in box.itemData(i, Qt.ItemDataRole.ToolTipRole)
    assert box.itemData(box.findData("gray-red"), Qt.ItemDataRole.ToolTipRole)
    window.state.colormap = "gray-red2"
    R = rendering.as_image2d(rendering.displayable(window.state.explanation.relevance))
    cut = 10 * np.var(R)
    assert f"{cut:.3g}" in window.views.bar_title.text and "cleared" in window.views.bar_title.text
    lut = window.views.colorbar.colorMap().getLookupTable(nPts=256, alpha=False)
    vmax = float(np.max(np.abs(R)))
    above = np.linspace(-vmax, vmax, 256) > cut
    zero = rendering.gray_red2_bar(R, vmax)[0][0]  # negative R: drawn as zero
    if above.any():  # the strongest relevance is drawn as neutral grey, as in the heatmap
        assert np.all(np.abs(lut[above].astype(int) - zero.astype(int)) <= 1)
    window.state.colormap = "bwr"
    assert window.views.bar_title.text == ""


def test_input_and_heatmap_are_drawn_at_the_same_scale(make_window, qtbot):
    window = make_window()
    views = window.views
    qtbot.waitUntil(lambda: views.input_item.width() is not None)

    def pixel_side(item):  # screen pixels per pixel of the model input
        return item.mapRectToScene(item.boundingRect()).width() / views._shape[1]

    qtbot.waitUntil(lambda: pixel_side(views.input_item) > 0)
    a, b = pixel_side(views.input_item), pixel_side(views.heat_item)
    assert a == pytest.approx(b, rel=0.03)
    assert views.heat_widget.width() == pytest.approx(views.input_widget.width(), abs=2)


def test_zoom_resets_by_button_double_click_and_home(make_window, qtbot):
    window = make_window()
    box, other = window.views.input_box, window.views.heat_box
    # under load the view is fitted to the image after the heatmap arrived (it read 1 wide)
    qtbot.waitUntil(lambda: box.viewRect().width() > 0.5 * window.views._shape[1])
    fitted = box.viewRect()

    def zoom():
        box.scaleBy((0.3, 0.3))
        assert box.viewRect().width() < 0.5 * fitted.width()
        assert other.viewRect().width() < 0.5 * fitted.width()  # linked

    h, w = window.views._shape

    def fitted_again():  # the whole image in sight, and filling the view along one side
        r = box.viewRect()
        whole = r.left() <= 0.01 and r.top() <= 0.01 and r.right() >= w - 0.01 \
            and r.bottom() >= h - 0.01
        return whole and (r.width() <= 1.1 * w or r.height() <= 1.1 * h)

    zoom()
    window.reset_zoom_button.click()
    qtbot.waitUntil(fitted_again)
    zoom()
    window.reset_zoom_action.trigger()
    assert window.reset_zoom_action.shortcut().toString() == "Home"
    qtbot.waitUntil(fitted_again)
    zoom()
    view = window.views.heat_widget
    centre = view.mapFromScene(window.views.heat_box.sceneBoundingRect().center())
    # what a real double-click delivers: press, release, double-click, release
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.waitUntil(fitted_again)


def test_the_view_menu_shows_and_hides_every_dock_and_tool(make_window, qtbot):
    window = make_window()
    window.fill_view_menu()
    titles = {a.text(): a for a in window.view_menu.actions()}
    docks = window.findChildren(QDockWidget)
    assert len(docks) >= 7  # browser, explanation, samples and the four tools
    for dock in docks:
        assert dock.windowTitle() in titles
    act = titles["Compare"]
    act.trigger()
    compare = window.insight.docks["compare"]
    qtbot.waitUntil(compare.isVisible)
    act.trigger()
    qtbot.waitUntil(lambda: not compare.isVisible())
    samples = titles["Samples"]
    samples.trigger()
    assert not window.findChild(QDockWidget, "sampleDock").isVisible()
    samples.trigger()
    assert window.findChild(QDockWidget, "sampleDock").isVisible()


def test_the_grid_scrolls_to_the_sample_on_display(make_window, qtbot, tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (3000, 28, 28), dtype=np.uint8)
    np.save(tmp_path / "many_images.npy", images)
    np.save(tmp_path / "many_labels.npy", rng.integers(0, 10, 3000))
    window = make_window(dataset=tmp_path / "many_images.npy")
    grid = window.grid

    def in_sight(i):
        rect = grid.view.visualRect(grid.model.index(grid.model.row_of(i)))
        return rect.isValid() and grid.view.viewport().rect().intersects(rect)

    for i in (2900, 1500, 10):  # scripts, --sample N: the grid follows
        window.state.sample_index = i
        qtbot.waitUntil(lambda i=i: in_sight(i), timeout=10000)
    grid.view.setFocus()
    before = window.state.sample_index
    qtbot.keyClick(grid.view, Qt.Key.Key_PageDown)
    assert window.state.sample_index != before
    qtbot.waitUntil(lambda: in_sight(window.state.sample_index))


def test_the_explained_class_is_marked_and_the_status_bar_shows_the_ratio(make_window, qtbot):
    window = make_window()
    s, plot = window.state, window.scores
    wait_shown(qtbot, window, 0)
    assert plot.explained == [s.explanation.prediction]
    assert "▼" in plot.plotItem.titleLabel.text
    s.target = "3"
    qtbot.waitUntil(lambda: s.relevance is not None and plot.explained == [3])
    x, y = plot.marker.getData()
    assert list(x) == [3] and y[0] >= plot.heights[3]
    s.target = "output"
    qtbot.waitUntil(lambda: s.relevance is not None and plot.explained == list(range(10)))
    text = window.conservation_label.text()
    result = s.explanation
    assert text.startswith("ΣR / f(x) = ")
    assert f"{result.relevance_sum / result.explained_output:.4g}" in text


def test_tool_windows_fit_the_screen_and_docking_keeps_the_views_usable(make_window, qtbot):
    window = make_window()
    free = window.screen().availableGeometry()
    for name in ("compare", "conservation", "pixelflip", "draw"):
        panel = window.insight.show(name, (5000, 4000))  # larger than any screen
        dock = window.insight.docks[name]
        assert dock.width() <= free.width() and dock.height() <= free.height()
        assert panel is window.insight.panels[name]
        dock.setFloating(False)  # docked into the window
        qtbot.waitUntil(lambda d=dock: not d.isFloating())
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.views.width() >= MIN_VIEWS[0])
    assert window.views.width() >= MIN_VIEWS[0] and window.views.height() >= MIN_VIEWS[1]


def test_draw_a_digit_names_its_rule_and_outlines_its_heatmap(make_window, qtbot):
    window = make_window()
    window.state.rule = "alphabeta:2"
    panel = window.insight.panels["draw"]
    window.insight.show("draw")
    for k in range(8, 20):
        panel.pad.image.setPixel(k * 10, 100, 255)
    from PySide6.QtGui import QPainter, QPen

    painter = QPainter(panel.pad.image)
    painter.setPen(QPen(Qt.GlobalColor.white, 20))
    painter.drawLine(QPointF(80, 60), QPointF(200, 220))
    painter.end()
    rerun(qtbot, panel, panel.refresh)
    assert "alphabeta:2" in panel.heat_title.text and "predicted class" in panel.heat_title.text
    assert panel.heat_outline.image is not None


def test_unlabelled_data_says_no_labels(make_window, qtbot, tmp_path):
    images = np.random.default_rng(1).integers(0, 255, (40, 28, 28), dtype=np.uint8)
    np.save(tmp_path / "unlabelled.npy", images)
    window = make_window(dataset=tmp_path / "unlabelled.npy")
    label = window.browser.accuracy_label.text()
    assert "no labels" in label and "computing" not in label
    window.browser.show_progress(3, 40)
    assert "no labels" in window.browser.accuracy_label.text()


def test_class_folders_that_name_no_class_say_how_to_name_them(make_window, qtbot, tmp_path):
    """Subfolders cat/ and coffee/ for a 10-class digit model label nothing: the browser said
    only "no labels" where ``lrp explain --target true`` explains how to name them; it says
    the same now (one wording, lrpcore.io.datasets.folder_labels_hint)."""
    from PIL import Image

    from lrpcore.io.datasets import folder_labels_hint

    rng = np.random.default_rng(0)
    for name in ("cat", "coffee"):
        (tmp_path / "data" / name).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(
            tmp_path / "data" / name / "a.png")
    window = make_window(dataset=tmp_path / "data")
    label = window.browser.accuracy_label.text()
    hint = folder_labels_hint(["cat", "coffee"], window.state.model)
    assert "no labels" in label and hint in label
    assert "subfolders (cat, coffee)" in hint and "model's classes" in hint
    # whole in the tooltip as well: a short Browser dock clips the label's last lines
    assert window.browser.accuracy_label.toolTip() == hint
    window.open_dataset(str(tmp_path / "data" / "cat"))  # a flat folder: nothing to rename
    qtbot.waitUntil(lambda: not window.controller.pending("predict"), timeout=20000)
    assert "no labels" in window.browser.accuracy_label.text()
    assert "subfolders" not in window.browser.accuracy_label.text()
    assert window.browser.accuracy_label.toolTip() == ""


def test_compare_tool_opens_docked_views_keep_their_size(make_window, qtbot):
    window = make_window()
    open_tool(qtbot, window, "compare")
    window.insight.docks["compare"].setFloating(False)
    qtbot.waitUntil(lambda: window.views.height() >= MIN_VIEWS[1])
