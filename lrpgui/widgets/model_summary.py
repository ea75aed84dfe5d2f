"""The model summary of the browser dock as rich text that wraps to the dock's width.

A fixed-width text table (``Sequential.summary()``) needs ~450 px and made the narrow dock
scroll sideways; an HTML table lets the layer column wrap while the columns stay aligned, so
every layer, shape and parameter count stays readable without a horizontal scrollbar.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import QTextBrowser

from lrpcore.errors import ShapeError
from lrpcore.io.completeness import ending_hint
from lrpcore.io.sidecar import sidecar_path
from lrpcore.model import format_accuracy
from lrpcore.text import no_markup, short

SHOWN_CLASSES = 100  # class names the summary lists (the target box finds every one)
# characters of one class name, and of the recorded accuracy, the summary shows: Qt lays out a
# long word of wrapping rich text in time that grows with its square (ten class names of
# 90,000 characters, a 900-KB sidecar, froze the window for minutes as it opened)
SHOWN_CHARS = 60


def summary_html(model, path: str | None) -> str:
    """File, input, classes, recorded accuracy, then one table row per layer."""
    esc = html.escape
    head = [f"<b>{esc(no_markup(Path(path or '').name))}</b>"]
    spec = model.input_spec
    head.append("input: " + (esc(spec.describe(model.sequence_layout())) if spec is not None
                             else "unknown"))
    head.append("classes: " + esc(unnamed_classes(model, path)
                                  or class_summary(model.class_names)))
    acc = model.meta.get("accuracy")
    if acc is not None:
        head.append("recorded accuracy: " + esc(short(format_accuracy(acc), 4 * SHOWN_CHARS)))
    hint = ending_hint(model)  # a toolbox .txt cut short loads as a smaller model
    if hint:
        head.append("<b>⚠</b> " + esc(no_markup(hint)))
    try:
        shapes = model.shapes()
    except ShapeError:
        shapes = [None] * len(model.layers)
    rows = ["<tr><th align='right'>#</th><th align='left'>layer</th>"
            "<th align='left'>output</th><th align='right'>params</th></tr>"]
    for i, (layer, shape) in enumerate(zip(model.layers, shapes, strict=True)):
        out = "×".join(map(str, shape)) if shape else "?"
        rows.append(f"<tr><td align='right'>{i}</td><td>{esc(layer.describe())}</td>"
                    f"<td>{out}</td><td align='right'>{layer.param_count():,}</td></tr>")
    table = ("<table cellspacing='0' cellpadding='2' width='100%'>" + "".join(rows)
             + "</table>")
    total = f"total parameters: {model.param_count():,}"
    return "<br>".join(head) + "<br>" + table + total


def class_summary(names, shown=SHOWN_CLASSES) -> str:
    """The first ``shown`` class names, each cut to :data:`SHOWN_CHARS` characters, and how
    many there are: all 100,000 names of a large model made the summary ~1 MB of text (a
    second to lay out at every model change)."""
    names = list(names)
    text = ", ".join(short(name, SHOWN_CHARS) for name in names[:shown])
    return text if len(names) <= shown else text + f", … ({len(names):,} classes)"


def unnamed_classes(model, path) -> str | None:
    """For a model whose file names no classes, how many outputs it has and where names
    would come from, as ``lrp info`` says it: an ONNX ImageNet classifier listed "0, 1, 2, …
    99, … (1,000 classes)", a hundred numbers and no hint."""
    n = model.n_classes
    if model.meta.get("class_names") or not n:
        return None
    side = os.path.basename(sidecar_path(path)) if path else "MODEL.json"
    return f"{n:,} outputs, unnamed (a sidecar's \"class_names\" names them: {side})"


class ModelSummary(QTextBrowser):
    """Read-only rich text that wraps at the widget's width and never scrolls sideways."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.setOpenLinks(False)
        self.setLineWrapMode(QTextBrowser.LineWrapMode.WidgetWidth)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.document().setDocumentMargin(3)
        font = self.font()
        font.setPointSizeF(max(font.pointSizeF() - 1.0, 7.0))
        self.setFont(font)

    def show_model(self, model, path: str | None) -> None:
        if model is None:
            self.setPlainText("(no model open)")
        else:
            self.setHtml(summary_html(model, path))
