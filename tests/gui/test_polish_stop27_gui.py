"""Stop 27's GUI polish: a photograph's outline is light and leaves its relevance readable
(a digit's stays solid black), Compare colours on the GUI thread and nothing more."""

from __future__ import annotations

import threading

import numpy as np
import pyqtgraph as pg
import pytest
from colour_models import colour_graph_model
from PIL import Image

from lrpgui import rendering
from lrpgui.insight import imaging

from .insight_helpers import open_tool, rerun


@pytest.fixture
def photo_window(make_window, tmp_path):
    """A colour model (32×32) and two real photographs (skimage's cat and astronaut)."""
    from skimage import data

    import lrpcore

    model = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(side=32), model)
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut", "chelsea"):
        Image.fromarray(getattr(data, name)()).resize((32, 32)).save(folder / f"{name}.png")
    return make_window(model=model, dataset=folder)


def test_a_photographs_outline_is_light_and_leaves_its_relevance_visible(photo_window):
    window = photo_window
    result = window.state.explanation
    x01 = rendering.displayable(result.input_unit)
    style = rendering.outline_style(x01)
    assert style.alpha < 0.5 and style.grey > 0  # no solid black line over the map
    mask = window.views._outline(result)
    assert mask.any()
    rgb = window.views.rendered_rgb
    # under the outline the map still shows: not cleared to one colour
    assert np.ptp(rgb[mask], axis=0).max() > 0.05
    overlay = imaging.outline_image(x01, x01.shape)
    drawn = overlay[..., 3] > 0
    assert drawn.any() and np.all(overlay[drawn, 3] == pytest.approx(style.alpha))
    window.state.outline = False  # the user's switch still takes it away
    assert not np.array_equal(window.views.rendered_rgb, rgb)


def test_a_digits_outline_stays_solid_black(make_window):
    window = make_window()
    result = window.state.explanation
    assert rendering.outline_style(result.input_unit) == rendering.DIGIT_OUTLINE
    mask = window.views._outline(result)
    assert mask.any() and np.all(window.views.rendered_rgb[mask] == 0.0)


def test_an_outline_in_a_cell_under_half_size_is_hidden(qtbot):
    canvas = pg.GraphicsLayoutWidget()
    qtbot.addWidget(canvas)
    box, _item = imaging.image_cell(canvas.ci, 0, 0)
    overlay = imaging.outline_overlay(box)
    rng = np.random.default_rng(0)
    photo = rng.uniform(size=(224, 224, 3))
    canvas.resize(80, 80)
    canvas.show()
    qtbot.waitExposed(canvas)
    imaging.put_outline(overlay, imaging.outline_image(photo, (224, 224)), (224, 224))
    imaging.fit(box, (224, 224))
    qtbot.waitUntil(lambda: not overlay.isVisible())  # 224 pixels in 80: a scribble
    canvas.resize(600, 600)
    qtbot.waitUntil(overlay.isVisible)


def test_compare_finds_outlines_and_channel_sums_off_the_gui_thread(photo_window, qtbot,
                                                                    monkeypatch):
    on_gui, off_gui = [], []
    real_mask, real_sum = rendering.outline_mask, imaging.map2d

    def record(real):
        def wrapped(*a, **k):
            gui = threading.current_thread() is threading.main_thread()
            (on_gui if gui else off_gui).append(real.__name__)
            return real(*a, **k)
        return wrapped

    monkeypatch.setattr(rendering, "outline_mask", record(real_mask))
    monkeypatch.setattr(imaging, "map2d", record(real_sum))
    window = photo_window
    view = open_tool(qtbot, window, "compare")
    rerun(qtbot, view, lambda: view.set_rules(["epsilon:0.01", "alphabeta:2"]))
    assert {"outline_mask", "map2d"} <= set(off_gui)
    on_gui.clear()
    window.state.colormap = next(n for n in ("seismic", "bwr") if n != window.state.colormap)
    window.state.outline = False
    window.state.outline = True
    view.render()
    assert on_gui == []
    assert all(view._outlines[key].image is not None for key in view.cell_maps)


def _tick_label_tops(plot):
    """Scene y of the top of each of the left axis' tick labels, as pyqtgraph lays them."""
    from PySide6.QtGui import QImage, QPainter

    axis = plot.getAxis("left")
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        texts = axis.generateDrawSpecs(painter)[2]
    finally:
        painter.end()
    return [axis.mapRectToScene(rect).top() for rect, _flags, _text in texts]


def test_an_empty_plot_shows_its_top_tick_label_whole(make_window, qtbot):
    window = make_window()
    panel = window.insight.show("spray")
    for plot in (panel.scatter_plot, window.insight.show("draw").scores):
        qtbot.waitExposed(plot)
        qtbot.waitUntil(lambda p=plot: p.getAxis("left").geometry().height() > 50)
        tops = _tick_label_tops(plot)
        assert tops and min(tops) >= 0, plot.objectName()  # "1.0" was cut at the top


def test_spray_summary_says_size_of_one_cluster():
    from lrpgui.insight.spray_window import _sizes

    assert _sizes([4]) == "size 4" and _sizes([4, 5]) == "sizes 4, 5"


def test_eigengap_axis_title_fits_a_short_plot(make_window, qtbot):
    window = make_window()
    panel = window.insight.show("spray")
    axis = panel.eigen_plot.getAxis("left")
    dock = window.insight.docks["spray"]
    dock.setFloating(True)
    dock.resize(900, 900)
    qtbot.waitUntil(lambda: axis.geometry().height() > 200)
    assert axis.labelText == "Laplacian eigenvalue"
    dock.resize(900, 330)  # a short window: the title ran past the plot's ends
    qtbot.waitUntil(lambda: 0 < axis.geometry().height() < 110)
    qtbot.waitUntil(lambda: axis.label.boundingRect().width() <= axis.geometry().height())
    assert axis.labelText != "Laplacian eigenvalue"


def test_side_docks_take_a_share_when_the_window_grows(make_window, qtbot):
    from PySide6.QtWidgets import QDockWidget

    window = make_window()
    browser = window.findChild(QDockWidget, "browserDock")
    rules = window.findChild(QDockWidget, "ruleDock")
    window.resize(1400, 700)  # docks squeezed below their preferred width have it back
    qtbot.waitUntil(lambda: window.width() == 1400)
    qtbot.waitUntil(lambda: window.views.width() > 600)
    before = browser.width(), rules.width()
    window.resize(1800, 700)
    qtbot.waitUntil(lambda: window.width() == 1800)
    # Qt gave every new pixel to the views; the docks stayed as narrow as at 1400
    qtbot.waitUntil(lambda: browser.width() >= before[0] + 60 and rules.width() >= before[1] + 60)
    window.resize(1024, 700)  # shrinking gives the views' minimum back first
    qtbot.waitUntil(lambda: window.width() == 1024)
    assert window.views.width() >= 420


def test_a_shortened_file_name_keeps_its_extension_apart_from_the_ellipsis(make_window):
    from PySide6.QtWidgets import QListWidgetItem, QStyleOptionViewItem

    from lrpgui.widgets.browser import elide_name

    window = make_window()
    models = window.browser.models
    metrics = models.fontMetrics()
    name = "efficientnet_lite0.onnx"
    for width in range(40, metrics.horizontalAdvance(name) + 2, 4):
        short = elide_name(name, metrics, width)
        assert "…." not in short, short  # read as four dots
        assert metrics.horizontalAdvance(short) <= max(width, metrics.horizontalAdvance("…"))
    assert elide_name(name, metrics, 100).endswith("e0.onnx")
    # the list's delegate shortens a recent entry so, its note whole
    item = QListWidgetItem(f"{name}  (recent)")
    models.addItem(item)
    option = QStyleOptionViewItem()
    models.initViewItemOption(option)  # as the view paints: its word wrap included
    option.rect = models.visualItemRect(item)
    option.rect.setWidth(100)
    models.itemDelegate().initStyleOption(option, models.indexFromItem(item))
    assert option.text.endswith(".onnx  (recent)") and "…" in option.text
    assert "…." not in option.text


def test_spray_of_many_samples_says_how_many_and_asks_first(make_window, qtbot, monkeypatch,
                                                            long_run_questions):
    from lrpgui.insight import spray_window

    monkeypatch.setattr(spray_window, "ASK_FROM", 100)  # the toy data's 120 count as many
    window = make_window()
    panel = window.insight.show("spray")
    n = len(window.state.dataset)
    assert n >= 100 and panel.class_box.currentData() is None  # all classes
    long_run_questions.answer = False
    panel.run_button.click()
    qtbot.waitUntil(lambda: len(long_run_questions) == 1)
    title, question = long_run_questions[0]
    assert f"{n:,} samples" in question and "minutes" in question
    assert not panel.cancel_button.isEnabled() and panel.result is None  # nothing started
    long_run_questions.answer = True
    with qtbot.waitSignal(panel.updated, timeout=120000):
        panel.run_button.click()
        qtbot.waitUntil(lambda: "Running" in panel.summary.text())
        assert f"explaining the {n:,} samples of all classes" in panel.summary.text()
    assert len(long_run_questions) == 2 and len(panel.result.indices) == n


def test_compare_grid_cells_build_no_context_menus(make_window, qtbot, monkeypatch):
    """Half of a 50-cell grid's build (GUI thread) was pyqtgraph making each cell's context
    menu, then removing it: the cells have none, so none is made."""
    import importlib

    viewbox_module = importlib.import_module("pyqtgraph.graphicsItems.ViewBox.ViewBox")
    window = make_window()
    view = open_tool(qtbot, window, "compare")
    rerun(qtbot, view, lambda: view.set_rules(["epsilon:0.01", "alphabeta:2"]))
    made = []
    real = viewbox_module.ViewBoxMenu
    monkeypatch.setattr(viewbox_module, "ViewBoxMenu",
                        lambda *a, **k: made.append(1) or real(*a, **k))
    rerun(qtbot, view, lambda: view.set_mode("all"))
    assert len(view._cells) == 20 and made == []
    assert all(box.menu is None for box, _item in view._cells.values())
