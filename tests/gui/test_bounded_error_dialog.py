"""An error built from a crafted file (a megabyte of names) reaches the explorer's error dialog,
error list and status bar as one bounded line: its start (the file) and its end (the hint)."""

from __future__ import annotations

from lrpgui import dialogs

MESSAGE = "model.onnx: node '" + "n" * 2_000_000 + "' is not supported (the hint)"


def test_the_error_dialog_shows_a_bounded_line(qtbot):
    box = dialogs.show_error(None, "Cannot open", MESSAGE)
    qtbot.addWidget(box)
    text = box.text()
    assert len(text) <= 1000
    assert text.startswith("model.onnx: node 'nnn") and text.endswith("(the hint)")
    box.close()


def test_the_window_records_a_bounded_line(qtbot):
    from lrpgui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show_error("Cannot open", MESSAGE, quiet=True)
    assert len(win.last_error) <= 1000 and win.last_error.endswith("(the hint)")
    assert len(win.state.status) <= 1100
