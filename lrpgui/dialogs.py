"""Every question the explorer asks the user, as module-level functions tests can replace.

The window calls these through the module (``dialogs.ask_save_file(...)``), so a test answers
a dialog with ``monkeypatch.setattr("lrpgui.dialogs.ask_save_file", lambda *a: path)``;
patching ``QFileDialog.getSaveFileName`` works too. Nothing else in the window blocks: error
boxes are non-modal.

- ``ask_open_file(parent, title, folder, filters) -> str`` ("" = cancelled): Open model/dataset
- ``ask_save_file(parent, title, path, filters) -> str``: Export PNG, Export .npy
- ``ask_folder(parent, title, folder) -> str``: Export all colormaps
- ``ask_batch_export(parent, n_selected, n_filtered, folder) -> (folder, scope, formats) |
  None``: Batch export (scope "selection" or "filtered", formats a subset of ("png", "npy"))
- ``ask_figure_scale(parent, scale) -> int`` (0 = cancelled): Export figure's pixels per
  input pixel
- ``ask_download(parent, what) -> bool``: Download MNIST asks before fetching
- ``ask_close_dataset(parent, title, question) -> bool``: a model that does not fit the open
  dataset asks whether to close that dataset and open the model
- ``show_error(parent, title, message)``: every error
- ``show_warning(parent, title, message)``: what was opened with a part left out (the images
  of a folder that cannot be read)
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from lrpcore.text import error_line, printable_line

from .flows import file_suffix
from .widgets.batch_dialog import BatchExportDialog


def show_error(parent, title: str, message: str) -> QMessageBox:
    """A non-modal message box: the event loop (and the tests) keep running. Plain text
    without escapes or line breaks of a file name (a name like ``<b>x`` is not markup)."""
    box = QMessageBox(QMessageBox.Icon.Warning, printable_line(title), error_line(message),
                      QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setObjectName("errorDialog")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setWindowModality(Qt.WindowModality.NonModal)
    box.show()
    return box


def show_warning(parent, title: str, message: str) -> QMessageBox:
    """:func:`show_error`'s non-modal box for a warning: what opened, and what was left out."""
    box = show_error(parent, title, message)
    box.setObjectName("warningDialog")
    return box


def ask_open_file(parent, title, folder, filters) -> str:
    path, _ = QFileDialog.getOpenFileName(parent, title, folder, filters)
    return path


def ask_save_file(parent, title, path, filters) -> str:
    """A file name to write. A name typed without a suffix gets the filter's (".png") where
    no such file exists (Qt's dialog adds none; the export refuses PNG bytes under another
    name, as 'lrp' does); where one exists, the name stays as typed and the export says so
    (the dialog asked "replace?" of no file)."""
    path, _ = QFileDialog.getSaveFileName(parent, title, path, filters)
    suffix = file_suffix(filters or "")
    if path and suffix and not os.path.splitext(path)[1] and not os.path.lexists(path + suffix):
        return path + suffix
    return path


def ask_folder(parent, title, folder) -> str:
    return QFileDialog.getExistingDirectory(parent, title, folder)


def ask_figure_scale(parent, scale: int) -> int:
    """Pixels per input pixel of a figure (1–64); 0 when cancelled."""
    from PySide6.QtWidgets import QInputDialog  # noqa: PLC0415

    from .flows import MAX_FIGURE_SCALE  # noqa: PLC0415

    value, ok = QInputDialog.getInt(parent, "Export figure",
                                    "Scale (screen pixels per input pixel; 8 makes a 28×28 "
                                    "digit 224 pixels wide):",
                                    max(1, min(int(scale), MAX_FIGURE_SCALE)), 1, MAX_FIGURE_SCALE)
    return int(value) if ok else 0


def ask_download(parent, what: str) -> bool:
    """Whether to download ``what`` now (the internet is used only after a yes)."""
    answer = QMessageBox.question(
        parent, "Download MNIST", f"Download {what} from the internet now?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.Yes)
    return answer == QMessageBox.StandardButton.Yes


def ask_long_run(parent, title: str, question: str) -> bool:
    """Whether to start a job that takes minutes (plain text: it names the dataset)."""
    box = QMessageBox(QMessageBox.Icon.Question, printable_line(title), error_line(question),
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setObjectName("longRunQuestion")
    box.setDefaultButton(QMessageBox.StandardButton.Yes)
    answer = box.exec() == QMessageBox.StandardButton.Yes
    box.deleteLater()
    return answer


def ask_close_dataset(parent, title: str, question: str) -> bool:
    """Whether to close the open dataset so that a model for other data can open (plain
    text: the question quotes file names)."""
    box = QMessageBox(QMessageBox.Icon.Question, printable_line(title), error_line(question),
                      QMessageBox.StandardButton.NoButton, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setObjectName("closeDatasetQuestion")
    yes = box.addButton("Close dataset and open model", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(yes)
    box.exec()
    answer = box.clickedButton() is yes
    box.deleteLater()
    return answer


def ask_batch_export(parent, n_selected: int, n_filtered: int, folder: str):
    """Which samples, formats and folder: ``(folder, scope, formats)``, or None if cancelled."""
    # ``ask_folder`` looked up when called, so a test's replacement answers the browse button
    dlg = BatchExportDialog(parent, n_selected, n_filtered, folder,
                            ask_folder=lambda *a: ask_folder(*a))
    try:
        if dlg.exec() != BatchExportDialog.DialogCode.Accepted:
            return None
        return dlg.values()
    finally:
        dlg.deleteLater()
