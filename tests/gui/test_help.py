"""Help where the user is: a tooltip on every control, the Help menu (shortcuts, About),
the icon on the window and its dialogs, and the resources an installed app finds."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QMessageBox

import lrpcore
from lrpgui import help_dialogs
from lrpgui.resource_files import DESKTOP_ENTRY, ICON, STYLE, resource
from lrpgui.tooltips import controls_without_tooltip
from lrpgui.widgets.batch_dialog import BatchExportDialog


def test_every_control_has_a_tooltip(make_window, qtbot):
    window = make_window()
    for name in ("compare", "conservation", "pixelflip", "draw"):
        window.insight.show(name)
    assert controls_without_tooltip(window) == []
    dialog = BatchExportDialog(window, 2, 10, "/tmp")
    qtbot.addWidget(dialog)
    assert controls_without_tooltip(dialog) == []


def test_the_walker_finds_a_control_without_tooltip(qtbot):
    from PySide6.QtWidgets import QPushButton, QWidget

    root = QWidget()
    qtbot.addWidget(root)
    QPushButton("silent", root, objectName="silentButton")
    assert controls_without_tooltip(root) == ['QPushButton silentButton "silent"']


def test_help_menu_lists_the_shortcuts_and_the_about_box(make_window, qtbot):
    window = make_window()
    rows = dict((what, keys) for keys, what in help_dialogs.shortcut_rows(window))
    assert rows["Open model"] == "Ctrl+O" and rows["Fit view (reset zoom)"] == "Home"
    assert any("Compare" in what for what in rows)  # the tools' shortcuts too
    window.findChild(type(window.reset_zoom_action), "shortcutsAction").trigger()
    box = window.findChild(QMessageBox, "shortcutsDialog")
    assert box is not None and "Ctrl+Shift+E" in box.text()
    window.findChild(type(window.reset_zoom_action), "aboutAction").trigger()
    about = window.findChild(QMessageBox, "aboutDialog")
    text = about.text()
    assert lrpcore.__version__ in text and "CC BY-SA 3.0" in text and "BSD-2-Clause" in text
    assert "models" in text and not about.iconPixmap().isNull()
    # every model and dataset the browser lists by name has its licence (the ImageNet
    # weights and the natural images were missing)
    assert "EfficientNet-Lite0" in text and "Apache-2.0" in text and "natural-images" in text


def test_resources_are_found_and_the_window_shows_the_icon(make_window):
    for name in (ICON, STYLE, DESKTOP_ENTRY):
        assert resource(name) is not None, name
    entry = resource(DESKTOP_ENTRY).read_text()
    assert "Exec=lrp-explorer" in entry and "Icon=lrp-explorer" in entry
    window = make_window()
    assert not window.windowIcon().isNull()
    assert not QApplication.instance().windowIcon().isNull()  # dialogs inherit it
    assert "QToolTip" in QApplication.instance().styleSheet()


def test_figure_export_has_scale_colour_bar_and_title(make_window, qtbot, tmp_path,
                                                      monkeypatch):
    import json

    import numpy as np
    from skimage import io as skio

    window = make_window()
    result = window.state.explanation
    monkeypatch.setattr("lrpgui.dialogs.ask_figure_scale", lambda parent, scale: 6)
    path = tmp_path / "fig.png"
    written = window.export_figure(path=str(path))
    assert written and path.exists()
    image = skio.imread(path)
    h, w = result.relevance.shape[:2]
    assert image.shape[0] > 6 * h and image.shape[1] > 2 * 6 * w  # input, heatmap, bar
    side = json.loads((tmp_path / "fig.png.json").read_text())
    title = " ".join(side["title"])
    assert result.rule_description in title and "predicted class" in title
    assert f"score {float(np.max(result.scores)):.4g}" in title
    assert side["scaling"] == 6 and "colour bar" in side["layout"]
    assert window.settings.get_str("export/figure_scale") == "6"


def test_figure_text_uses_a_real_font():
    import numpy as np

    from lrpcore.render.figure import figure, figure_title

    R = np.random.default_rng(0).normal(size=(28, 28))
    x = np.random.default_rng(1).random((28, 28))
    small = figure(R, x, "bwr", 2, title=figure_title("epsilon:0.01", "class 3", 1.5))
    big = figure(R, x, "gray-red2", 8, title=figure_title("epsilon:0.01", "class 3", 1.5))
    assert big.shape[0] > 3 * small.shape[0] // 2 and big.dtype == np.uint8
    top = big[:30]
    shades = np.unique(top)
    assert ((shades > 30) & (shades < 225)).sum() > 5  # anti-aliased text, not a pixel font


def test_help_is_the_last_menu(make_window):
    window = make_window()
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles[-1] == "Help" and "Tools" in titles and "View" in titles
