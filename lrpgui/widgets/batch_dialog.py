"""Options of a batch export: which samples, which formats, which folder.

It asks for a folder through the ``ask_folder`` it is given (``lrpgui.dialogs`` passes its
own, which tests replace), so this module does not import ``lrpgui.dialogs`` (no cycle)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
)


class BatchExportDialog(QDialog):
    def __init__(self, parent, n_selected: int, n_filtered: int, folder: str, ask_folder=None):
        super().__init__(parent)
        self._ask_folder = ask_folder
        self.setWindowTitle("Batch export")
        self.selection = QRadioButton(f"selected samples ({n_selected:,})")
        self.filtered = QRadioButton(f"all samples shown in the grid ({n_filtered:,})")
        (self.selection if n_selected > 1 else self.filtered).setChecked(True)
        self.selection.setEnabled(n_selected > 0)
        self.png = QCheckBox("PNG heatmaps (current colormap)")
        self.npy = QCheckBox(".npy relevance")
        self.png.setChecked(True)
        self.npy.setChecked(True)
        self.folder = QLineEdit(folder)
        browse = QPushButton("Folder…")
        for widget, tip in (
                (self.selection, "Export the samples selected in the grid"),
                (self.filtered, "Export every sample the grid's filters list"),
                (self.png, "input | heatmap PNGs in the current colormap, with JSON sidecars"),
                (self.npy, "The relevance arrays (model input layout), with JSON sidecars"),
                (self.folder, "The folder the files go to (refused if it holds any of them)"),
                (browse, "Choose the folder")):
            widget.setToolTip(tip)
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for w in (self.selection, self.filtered, self.png, self.npy):
            layout.addWidget(w)
        layout.addLayout(row)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        if self._ask_folder is None:
            from PySide6.QtWidgets import QFileDialog  # noqa: PLC0415

            folder = QFileDialog.getExistingDirectory(self, "Export to", self.folder.text())
        else:
            folder = self._ask_folder(self, "Export to", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def values(self):
        scope = "selection" if self.selection.isChecked() else "filtered"
        formats = tuple(f for f, box in (("png", self.png), ("npy", self.npy))
                        if box.isChecked())
        return self.folder.text(), scope, formats
