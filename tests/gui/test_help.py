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


def test_resources_are_found_and_the_window_shows_the_icon(make_window):
    for name in (ICON, STYLE, DESKTOP_ENTRY):
        assert resource(name) is not None, name
    entry = resource(DESKTOP_ENTRY).read_text()
    assert "Exec=lrp-explorer" in entry and "Icon=lrp-explorer" in entry
    window = make_window()
    assert not window.windowIcon().isNull()
    assert not QApplication.instance().windowIcon().isNull()  # dialogs inherit it
    assert "QToolTip" in QApplication.instance().styleSheet()
