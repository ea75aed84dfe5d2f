"""Dialog helpers the tests can replace: file choosers and the non-blocking error box."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox


def show_error(parent, title: str, message: str) -> QMessageBox:
    """A non-modal message box: the event loop (and the tests) keep running."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok,
                      parent)
    box.setObjectName("errorDialog")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setWindowModality(Qt.WindowModality.NonModal)
    box.show()
    return box


def ask_open_file(parent, title, folder, filters) -> str:
    path, _ = QFileDialog.getOpenFileName(parent, title, folder, filters)
    return path


def ask_save_file(parent, title, path, filters) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, title, path, filters)
    return path


def ask_folder(parent, title, folder) -> str:
    return QFileDialog.getExistingDirectory(parent, title, folder)
