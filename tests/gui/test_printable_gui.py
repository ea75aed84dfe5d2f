"""File names, class names and provenance shown by the explorer (window title, status bar,
dialogs, lists, tooltips, labels) carry no terminal escapes, bidi overrides, line breaks or
markup of a crafted file (Qt renders text that looks like HTML, and ``<img src="/dev/zero">``
made it read that file until the allocation crashed): files named and described here with
them are opened in the window."""

from __future__ import annotations

import json
import shutil

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QComboBox,
    QLabel,
    QMessageBox,
    QTextEdit,
    QWidget,
)

ESC = "\x1b]0;owned\x07\x1b[2J\x1b[31m"
RLO = "\u202e"
HOSTILE = f"{ESC}ev{RLO}il\nsecond"  # "second" follows the newline in every name
MARKUP = '<img src="/no/such/picture.png">'  # Qt renders a label or tooltip that looks like HTML
BAD = ("\x1b", "\x07", RLO, "\nsecond", "<img")


def _texts(widget: QWidget):
    """Every string the widget tree shows: titles, tooltips, labels, items, message boxes."""
    yield widget.windowTitle()
    yield widget.toolTip()
    yield widget.statusTip()
    if isinstance(widget, QLabel | QAbstractButton):
        yield widget.text()
    if isinstance(widget, QMessageBox):
        yield widget.text()
        yield widget.informativeText()
    if isinstance(widget, QTextEdit):
        yield widget.toPlainText()
    if isinstance(widget, QComboBox):
        for i in range(widget.count()):
            yield widget.itemText(i)
            yield str(widget.itemData(i, Qt.ItemDataRole.ToolTipRole) or "")
    if isinstance(widget, QAbstractItemView) and widget.model() is not None:
        model = widget.model()
        from PySide6.QtCore import QModelIndex

        for row in range(min(model.rowCount(QModelIndex()), 50)):
            try:
                columns = model.columnCount(QModelIndex())
            except TypeError:  # a list model hides columnCount
                columns = 1
            for col in range(columns):
                index = model.index(row, col)
                for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                    value = model.data(index, role)
                    if isinstance(value, str):
                        yield value
    for action in widget.actions():
        yield action.text()
        yield action.toolTip()


def _shown(window) -> list[str]:
    texts = [window.statusBar().currentMessage()]
    for top in QApplication.topLevelWidgets():
        for w in [top, *top.findChildren(QWidget)]:
            texts.extend(t for t in _texts(w) if t)
    return texts


def _assert_clean(texts) -> None:
    for text in texts:
        for bad in BAD:
            assert bad not in text, f"{bad!r} shown in {text!r}"


def test_hostile_file_and_class_names_are_shown_clean(make_window, toy_files, tmp_path,
                                                      qtbot):
    model = tmp_path / f"m{HOSTILE}<img src=picture.png>.npz"  # no "/" in a file name
    shutil.copy(toy_files[0], model)
    model.with_suffix(".json").write_text(json.dumps({
        "class_names": [f"{HOSTILE}{MARKUP}{i}" for i in range(10)],
        "provenance": {"dataset": HOSTILE, "note": HOSTILE}}))
    data = tmp_path / f"d{HOSTILE}.npy"
    shutil.copy(toy_files[1], data)
    shutil.copy(toy_files[1].with_name("toy_labels.npy"), tmp_path / f"d{HOSTILE}_labels.npy")
    window = make_window(model=model, dataset=data)
    assert window.state.model_path == str(model)  # opened, not refused
    shown = _shown(window)
    assert any("evil" in t for t in shown)  # the names are shown, only cleaned
    _assert_clean(shown)


def test_an_error_about_a_hostile_file_name_is_shown_clean(make_window, tmp_path, qtbot):
    window = make_window()
    bad = tmp_path / f"<b>x<i>{HOSTILE}.npz"
    bad.write_bytes(b"not a model")
    assert window.open_model(str(bad)) is False
    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and "evil" in boxes[0].text()
    assert boxes[0].textFormat() == Qt.TextFormat.PlainText  # "<b>" is not markup here
    _assert_clean(_shown(window))
    assert "\n" not in window.last_error
    for box in boxes:
        box.close()
